from django.apps import AppConfig


class PracticeCalendarConfig(AppConfig):
    name = "ehr.practice_calendar"
    label = "practice_calendar"
    verbose_name = "Practice events calendar"
    default_auto_field = "django.db.models.BigAutoField"
