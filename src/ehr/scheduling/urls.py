from django.urls import path

from ehr.scheduling import views

urlpatterns = [
    path("calendar/practice.ics", views.practice_ics, name="calendar-practice-ics"),
    path(
        "calendar/provider/<str:provider_id>.ics",
        views.provider_ics,
        name="calendar-provider-ics",
    ),
]
