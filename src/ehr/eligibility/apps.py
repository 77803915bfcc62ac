from django.apps import AppConfig


class EligibilityConfig(AppConfig):
    name = "ehr.eligibility"
    label = "eligibility"
    verbose_name = "Insurance eligibility"
    default_auto_field = "django.db.models.BigAutoField"
