from django.urls import path

from ehr.jobs import views

urlpatterns = [
    path("admin/outbox/", views.outbox_list, name="outbox"),
    path("admin/outbox/<int:message_id>/", views.outbox_detail, name="outbox-message"),
    path(
        "admin/outbox/<int:message_id>/<str:action>",
        views.outbox_action,
        name="outbox-action",
    ),
]
