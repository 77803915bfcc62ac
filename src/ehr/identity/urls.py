from django.urls import path

from ehr.identity import views_account, views_admin, views_auth

urlpatterns = [
    path("login/", views_auth.login_view, name="login"),
    path("login/mfa/", views_auth.mfa_view, name="login-mfa"),
    path("logout/", views_auth.logout_view, name="logout"),
    path("account/mfa/setup/", views_account.mfa_setup, name="mfa-setup"),
    path("account/mfa/recovery-codes/", views_account.recovery_codes, name="mfa-recovery"),
    path("account/sessions/", views_account.sessions_view, name="sessions"),
    path("account/keepalive/", views_account.keepalive, name="keepalive"),
    path("account/emergency-access/", views_account.break_glass, name="break-glass"),
    path("admin/users/", views_admin.users, name="admin-users"),
    path("admin/users/new/", views_admin.user_new, name="admin-user-new"),
    path("admin/users/<int:user_id>/", views_admin.user_edit, name="admin-user"),
    path("admin/users/<int:user_id>/action/", views_admin.user_action, name="admin-user-action"),
    path("admin/roles/", views_admin.roles, name="admin-roles"),
    path(
        "admin/notifications/<int:note_id>/dismiss/",
        views_admin.dismiss_notification,
        name="admin-dismiss",
    ),
]
