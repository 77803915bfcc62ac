from django.apps import AppConfig


class OAuthConfig(AppConfig):
    name = "ehr.identity.oauth"
    label = "oauth"
    verbose_name = "SMART on FHIR authorization server"
    default_auto_field = "django.db.models.BigAutoField"
