"""Landing page; the staff screens arrive with the front-desk issue."""

from django.http import HttpRequest, HttpResponse


def home(request: HttpRequest) -> HttpResponse:
    body = (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>EHR</title></head>"
        "<body><main><h1>EHR</h1><p>The FHIR R4 API is at <a href='/fhir/metadata'>/fhir</a>.</p>"
        "</main></body></html>"
    )
    return HttpResponse(body)
