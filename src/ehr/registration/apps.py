from django.apps import AppConfig


class RegistrationConfig(AppConfig):
    name = "ehr.registration"
    label = "registration"
    verbose_name = "Registration"
    default_auto_field = "django.db.models.BigAutoField"
