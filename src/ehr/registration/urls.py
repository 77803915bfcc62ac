from django.urls import path

from ehr.registration import views

ID = "<str:patient_id>"

urlpatterns = [
    path("patients/search", views.search, name="patient-search"),
    path("patients/new", views.register, name="patient-new"),
    path("patients/duplicates", views.duplicates, name="patient-duplicates"),
    path("patients/merge", views.merge, name="patient-merge"),
    path(f"patients/{ID}/", views.chart, name="patient-chart"),
    path(f"patients/{ID}/edit", views.edit, name="patient-edit"),
    path(f"patients/{ID}/coverage", views.coverage, name="patient-coverage"),
    path(f"patients/{ID}/coverage/<str:coverage_id>", views.coverage, name="patient-coverage-edit"),
    path(f"patients/{ID}/documents", views.documents, name="patient-documents"),
    path(
        f"patients/{ID}/documents/<str:doc_id>/file", views.document_file, name="patient-document"
    ),
    path(f"patients/{ID}/appointments", views.appointments, name="patient-appointments"),
]
