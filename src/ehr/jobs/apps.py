from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "ehr.jobs"
    label = "jobs"
    verbose_name = "Background jobs and outbound messages"
