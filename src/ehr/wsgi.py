"""WSGI entry point served by granian (``ehr serve``).

Requests to the FHIR API take a short path past the screens' middleware (sessions, CSRF,
messages, idle log-off, static files): none of it applies to an API that authenticates bearer
tokens itself, and on a small read it costs more than the read. The API view sets its own
security headers.
"""

import os

from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ehr.settings")
get_wsgi_application()  # django.setup()

from ehr.fhir.api.views import direct, is_api_path  # noqa: E402
from ehr.fhir.storage.wal_checkpoint import start_in_background  # noqa: E402

start_in_background()  # SQLite: checkpoints off the writers' path (one thread per worker)


class _Handler(WSGIHandler):
    def get_response(self, request):
        if is_api_path(request.path_info):
            return direct(request)
        return super().get_response(request)


application = _Handler()
