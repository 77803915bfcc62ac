"""Django settings. Everything an operator changes comes from ``EHR_*`` environment variables."""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

from ehr.fhir.definitions.paths import var_dir

VAR_DIR = var_dir()
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    env = os.environ.get("EHR_SECRET_KEY")
    if env:
        return env
    path = VAR_DIR / "secret_key"
    if not path.exists():
        import secrets

        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = os.environ.get("EHR_DEBUG", "") == "1"
ALLOWED_HOSTS = os.environ.get("EHR_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ehr.fhir.storage.apps.StorageConfig",
    "ehr.web",
]

# The FHIR API (/fhir) is served without Django's session and CSRF machinery: it authenticates
# bearer tokens itself. Middleware here applies to the screens.
MIDDLEWARE: list[str] = [
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    }
]

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
# Static files are served by the app itself (WhiteNoise) straight from the app folders, so a
# fresh checkout needs no collectstatic step.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

ROOT_URLCONF = "ehr.urls"
WSGI_APPLICATION = "ehr.wsgi.application"

_DEFAULT_SQLITE = VAR_DIR / "ehr.sqlite3"
_url = os.environ.get("EHR_DATABASE_URL") or f"sqlite:///{_DEFAULT_SQLITE}"
_db = dj_database_url.parse(_url, conn_max_age=None)
if _db["ENGINE"] == "django.db.backends.sqlite3":
    _db["OPTIONS"] = {
        # One writer at a time, taken at BEGIN so writers queue instead of failing mid-transaction.
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": (
            "PRAGMA journal_mode=WAL;PRAGMA wal_autocheckpoint=10000;"
            "PRAGMA synchronous=NORMAL;"
            "PRAGMA cache_size=-65536;"
            "PRAGMA temp_store=MEMORY;"
            "PRAGMA mmap_size=268435456;"
            "PRAGMA foreign_keys=ON;"
        ),
    }
    _db["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
else:
    _db.setdefault("OPTIONS", {})
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"

# Largest request body the FHIR API accepts (bytes); larger bodies get 413.
EHR_MAX_BODY = int(os.environ.get("EHR_MAX_BODY", str(64 * 1024 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = EHR_MAX_BODY
EHR_BASE_URL = os.environ.get("EHR_BASE_URL", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("EHR_LOG_LEVEL", "WARNING")},
}

BASE_DIR = Path(__file__).resolve().parent
