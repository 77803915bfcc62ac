from django.apps import AppConfig


class AppointmentsConfig(AppConfig):
    name = "ehr.appointments"
    label = "appointments"
    verbose_name = "Appointment book"
