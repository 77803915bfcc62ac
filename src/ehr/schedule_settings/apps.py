from django.apps import AppConfig


class ScheduleSettingsConfig(AppConfig):
    name = "ehr.schedule_settings"
    label = "schedule_settings"
    verbose_name = "Schedule settings"
