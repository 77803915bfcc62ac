from django.urls import path

from ehr.flowboard import views

ID = "<str:appointment_id>"

urlpatterns = [
    path("flow/", views.board_page, name="flow-board"),
    path("flow/board", views.board_partial, name="flow-board-partial"),
    path("flow/waitlist", views.waitlist_page, name="waitlist"),
    path("flow/waitlist/patients", views.waitlist_patients, name="waitlist-patients"),
    path("flow/waitlist/offer", views.waitlist_offer, name="waitlist-offer"),
    path("flow/waitlist/<str:entry_id>/remove", views.waitlist_remove, name="waitlist-remove"),
    path("flow/waitlist/<str:entry_id>/book", views.waitlist_book, name="waitlist-book"),
    path(f"flow/{ID}/advance", views.advance, name="flow-advance"),
    path(f"flow/{ID}/room", views.room, name="flow-room"),
    path(f"flow/{ID}/cancel", views.cancel, name="flow-cancel"),
]
