"""URLs of the authorization server; included before the /fhir catch-all."""

from django.urls import path

from ehr.identity.oauth import admin_views, launch_views, views

urlpatterns = [
    path("fhir/.well-known/smart-configuration", views.smart_configuration, name="smart-config"),
    path("fhir/.well-known/openid-configuration", views.openid_configuration, name="oidc-config"),
    path("oauth/authorize", views.authorize, name="oauth-authorize"),
    path("oauth/authorize/decide", views.decide, name="oauth-decide"),
    path("oauth/token", views.token, name="oauth-token"),
    path("oauth/introspect", views.introspect, name="oauth-introspect"),
    path("oauth/revoke", views.revoke, name="oauth-revoke"),
    path("oauth/jwks", views.jwks, name="oauth-jwks"),
    path("oauth/launch", views.launch, name="oauth-launch"),
    path("apps/", launch_views.apps, name="apps"),
    path("admin/clients/", admin_views.client_list, name="oauth-clients"),
    path("admin/clients/new", admin_views.client_new, name="oauth-client-new"),
    path("admin/clients/<int:pk>/", admin_views.client_edit, name="oauth-client-edit"),
    path("admin/clients/<int:pk>/active", admin_views.client_active, name="oauth-client-active"),
]
