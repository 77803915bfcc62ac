from django.urls import include, path, re_path

from ehr.audit import views as audit_views
from ehr.fhir.api.views import fhir_endpoint
from ehr.web.views import home

urlpatterns = [
    path("", home, name="home"),
    path("admin/audit/", audit_views.report, name="audit-report"),
    path("admin/audit/export.csv", audit_views.export_csv, name="audit-export"),
    path("", include("ehr.identity.oauth.urls")),  # its /fhir/.well-known/ URLs come first
    # The FHIR API early: Django tries the patterns in order, for every request.
    re_path(r"^fhir(?P<rest>/.*)?$", fhir_endpoint, name="fhir"),
    path("", include("ehr.scheduling.urls")),
    path("", include("ehr.appointments.urls")),
    path("", include("ehr.registration.urls")),
    path("", include("ehr.eligibility.urls")),
    path("", include("ehr.practice_calendar.urls")),
    path("", include("ehr.flowboard.urls")),
    path("", include("ehr.jobs.urls")),
    path("", include("ehr.schedule_settings.urls")),
    path("", include("ehr.identity.urls")),
]
