from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "ehr.scheduling"
    label = "scheduling"
    verbose_name = "Scheduling and practice calendar"
