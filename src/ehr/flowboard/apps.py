import os

from django.apps import AppConfig


class FlowboardConfig(AppConfig):
    name = "ehr.flowboard"
    label = "flowboard"
    verbose_name = "Flow board, waitlist and reminders"

    def ready(self) -> None:
        from ehr.flowboard import reminders
        from ehr.jobs import worker

        every = float(os.environ.get("EHR_REMINDER_SWEEP_SECONDS", "300"))
        worker.register("appointment-reminder-sweep", reminders.sweep, every)
