from django.urls import path

from ehr.schedule_settings import views

urlpatterns = [
    path("admin/schedule/", views.overview, name="schedule-settings"),
    path("admin/schedule/hours/", views.hours, name="schedule-hours"),
    path("admin/schedule/hours/<int:shift_id>/remove", views.remove_shift,
         name="schedule-hours-remove"),
    path("admin/schedule/exceptions/", views.exceptions, name="schedule-exceptions"),
    path("admin/schedule/exceptions/<int:exception_id>/remove", views.remove_exception,
         name="schedule-exception-remove"),
    path("admin/schedule/types/", views.types, name="schedule-types"),
    path("admin/schedule/types/<int:type_id>/", views.edit_type, name="schedule-type-edit"),
    path("admin/schedule/types/<int:type_id>/active", views.toggle_type,
         name="schedule-type-active"),
]  # fmt: skip
