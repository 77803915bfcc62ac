from django.apps import AppConfig


class StorageConfig(AppConfig):
    name = "ehr.fhir.storage"
    label = "fhir_storage"
    verbose_name = "FHIR resource store"
