from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "ehr.identity"
    label = "identity"
    verbose_name = "Identity and access"

    def ready(self) -> None:
        from ehr.identity import signals  # noqa: F401  (connects login/logout receivers)
