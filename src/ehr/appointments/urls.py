from django.urls import path

from ehr.appointments import views

urlpatterns = [
    path("schedule/", views.day_view, name="schedule-day"),
    path("schedule/providers/", views.multi_view, name="schedule-multi"),
    path("schedule/week/", views.week_view, name="schedule-week"),
    path("schedule/month/", views.month_view, name="schedule-month"),
    path("schedule/types.css", views.types_css, name="schedule-types-css"),
    path("schedule/book/", views.book_view, name="schedule-book"),
    path("schedule/book/patients", views.patient_picker, name="schedule-patient-picker"),
    path("schedule/book/repeat", views.repeat_words, name="schedule-repeat-words"),
    path("schedule/next/", views.next_available_view, name="schedule-next"),
    path(
        "schedule/appointment/<str:appointment_id>/",
        views.appointment_view,
        name="schedule-appointment",
    ),
    path(
        "schedule/appointment/<str:appointment_id>/move",
        views.move_view,
        name="schedule-move",
    ),
]
