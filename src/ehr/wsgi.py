"""WSGI entry point served by granian (``ehr serve``)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ehr.settings")
application = get_wsgi_application()
