from django.urls import path

from ehr.practice_calendar import views

urlpatterns = [
    path("events/", views.month, name="events-month"),
    path("events/upcoming", views.upcoming, name="events-upcoming"),
    path("events/new", views.new, name="event-new"),
    path("events/feeds", views.feeds_page, name="events-feeds"),
    path("events/feeds/<int:token_id>/revoke", views.revoke_token, name="events-feed-revoke"),
    path("events/import", views.import_page, name="events-import"),
    path("events/day/<str:iso>", views.day, name="events-day"),
    path("events/<str:event_id>/", views.detail, name="event-detail"),
    path("events/<str:event_id>/edit", views.edit, name="event-edit"),
    path("events/<str:event_id>/cancel", views.cancel, name="event-cancel"),
    path("events/<str:event_id>/delete", views.delete, name="event-delete"),
]
