from django.urls import path

from ehr.eligibility import views

urlpatterns = [
    path(
        "eligibility/coverage/<str:coverage_id>/",
        views.coverage_eligibility,
        name="eligibility-coverage",
    ),
    path("sim/clearinghouse/270", views.simulator_endpoint, name="eligibility-simulator"),
]
