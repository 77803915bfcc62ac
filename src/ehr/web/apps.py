from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "ehr.web"
    label = "web"
