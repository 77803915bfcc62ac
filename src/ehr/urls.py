from django.urls import path, re_path

from ehr.fhir.api.views import fhir_endpoint
from ehr.web.views import home

urlpatterns = [
    path("", home, name="home"),
    re_path(r"^fhir(?P<rest>/.*)?$", fhir_endpoint, name="fhir"),
]
