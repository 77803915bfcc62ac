"""Django settings. Everything an operator changes comes from ``EHR_*`` environment variables."""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

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
    "ehr.identity.apps.IdentityConfig",
    "ehr.audit.apps.AuditConfig",
    "ehr.identity.oauth.apps.OAuthConfig",
    "ehr.registration.apps.RegistrationConfig",
    "ehr.scheduling.apps.SchedulingConfig",
    "ehr.appointments.apps.AppointmentsConfig",
    "ehr.eligibility.apps.EligibilityConfig",
    "ehr.practice_calendar.apps.PracticeCalendarConfig",
    "ehr.jobs.apps.JobsConfig",
    "ehr.flowboard.apps.FlowboardConfig",
    "ehr.schedule_settings.apps.ScheduleSettingsConfig",
]

# The FHIR API (/fhir) is served without Django's session and CSRF machinery: it authenticates
# bearer tokens itself. Middleware here applies to the screens.
MIDDLEWARE: list[str] = [
    "django.middleware.security.SecurityMiddleware",
    "ehr.identity.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "ehr.identity.middleware.IdentityMiddleware",
    "ehr.web.middleware.PracticeTimeZoneMiddleware",
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
                "ehr.identity.context.identity",
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
            # No memory-mapped reads: with the audit trail committing alongside every read,
            # reads through the page cache measured faster (docs/benchmarks.md).
            "PRAGMA mmap_size=0;"
            "PRAGMA foreign_keys=ON;"
        ),
    }
    _db["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
else:
    _db.setdefault("OPTIONS", {})
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

USE_TZ = True
# The practice's local time: working hours, all-day events and every time shown on a screen.
EHR_TIME_ZONE = os.environ.get("EHR_TIME_ZONE", "America/New_York")
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"

# Largest request body the FHIR API accepts (bytes); larger bodies get 413.
EHR_MAX_BODY = int(os.environ.get("EHR_MAX_BODY", str(64 * 1024 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = EHR_MAX_BODY
EHR_BASE_URL = os.environ.get("EHR_BASE_URL", "")
# Time limits of one search's statements (seconds; 0 turns a limit off): past the first the
# search fails as too costly; past the second a total the client did not ask for is left out.
EHR_SEARCH_SECONDS = float(os.environ.get("EHR_SEARCH_SECONDS", "10"))
EHR_SEARCH_COUNT_SECONDS = float(os.environ.get("EHR_SEARCH_COUNT_SECONDS", "1"))


def _default_total(value: str) -> int | None:
    """``EHR_SEARCH_DEFAULT_TOTAL``: None (not counted), 0 (counted in full) or a bound."""
    if value == "none":
        return None
    if value == "accurate":
        return 0
    if value.isdigit() and int(value) > 0:
        return int(value)
    raise ImproperlyConfigured(
        f"EHR_SEARCH_DEFAULT_TOTAL must be none, accurate or a number of matches, not {value!r}"
    )


# The total of a search that did not say `_total`, when its first page does not hold every
# match (when it does, the page's size is the total): "none" leaves it out, since counting
# costs in proportion to the matches; a number counts up to that many matches; "accurate"
# counts them all.
EHR_SEARCH_DEFAULT_TOTAL = _default_total(os.environ.get("EHR_SEARCH_DEFAULT_TOTAL", "none"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("EHR_LOG_LEVEL", "WARNING")},
}

BASE_DIR = Path(__file__).resolve().parent

# --- Identity: sign-in, passwords, sessions, web security (docs/identity.md) ---------------
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/login/"
EHR_DEMO = os.environ.get("EHR_DEMO", "") == "1"
EHR_IDLE_TIMEOUT_MINUTES = int(os.environ.get("EHR_IDLE_TIMEOUT_MINUTES", "15"))
EHR_BREAK_GLASS_MINUTES = int(os.environ.get("EHR_BREAK_GLASS_MINUTES", "60"))
EHR_LOGIN_MAX_FAILURES = int(os.environ.get("EHR_LOGIN_MAX_FAILURES", "5"))
EHR_LOGIN_IP_MAX_FAILURES = int(os.environ.get("EHR_LOGIN_IP_MAX_FAILURES", "50"))
EHR_LOCKOUT_MINUTES = int(os.environ.get("EHR_LOCKOUT_MINUTES", "15"))
EHR_TRUST_PROXY = os.environ.get("EHR_TRUST_PROXY", "") == "1"
EHR_TLS = os.environ.get("EHR_TLS", "") == "1"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# The session never outlives a working day; the idle timeout ends it much sooner when unused.
SESSION_COOKIE_AGE = 12 * 3600
SESSION_COOKIE_SECURE = EHR_TLS  # also set per response for https requests (middleware)
CSRF_COOKIE_SECURE = EHR_TLS
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if EHR_TLS:
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
if EHR_TRUST_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Mail (emergency-access alerts): off unless EHR_EMAIL_HOST is set.
EMAIL_HOST = os.environ.get("EHR_EMAIL_HOST", "")
EMAIL_PORT = int(os.environ.get("EHR_EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EHR_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EHR_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = os.environ.get("EHR_EMAIL_TLS", "") == "1"
DEFAULT_FROM_EMAIL = os.environ.get("EHR_EMAIL_FROM", "ehr@localhost")
EHR_EMAIL_ALERTS = bool(EMAIL_HOST)

# Insurance eligibility (270/271): "simulator" (the local payer simulator) or "http".
EHR_CLEARINGHOUSE = os.environ.get("EHR_CLEARINGHOUSE", "simulator")
EHR_CLEARINGHOUSE_URL = os.environ.get("EHR_CLEARINGHOUSE_URL", "")
EHR_CLEARINGHOUSE_TIMEOUT = float(os.environ.get("EHR_CLEARINGHOUSE_TIMEOUT", "15"))
EHR_X12_SENDER_ID = os.environ.get("EHR_X12_SENDER_ID", "")  # ISA06; default: the NPI

# Outbound messages (docs/operations.md, "Outbound messages"): senders and retries.
EHR_EMAIL_SENDER = os.environ.get("EHR_EMAIL_SENDER", "file")  # file | console | smtp | mod:Class
EHR_SMS_SENDER = os.environ.get("EHR_SMS_SENDER", "file")  # file | http | mod:Class
EHR_OUTBOX_MAX_ATTEMPTS = int(os.environ.get("EHR_OUTBOX_MAX_ATTEMPTS", "6"))
EHR_OUTBOX_BACKOFF_SECONDS = float(os.environ.get("EHR_OUTBOX_BACKOFF_SECONDS", "60"))
EHR_OUTBOX_LEASE_SECONDS = float(os.environ.get("EHR_OUTBOX_LEASE_SECONDS", "300"))
