from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "ehr.audit"
    label = "audit"
    verbose_name = "Audit trail"
