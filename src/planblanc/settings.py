"""Settings, read from the environment.

Embedded default: SQLite under PLANBLANC_DATA_DIR, no other service.
At scale: DATABASE_URL=postgres://… and any number of web and worker processes.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

PACKAGE_DIR = Path(__file__).resolve().parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, not {raw!r}") from exc


def env_json(name: str, default: object) -> object:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be JSON: {exc}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


DATA_DIR = Path(env_str("PLANBLANC_DATA_DIR") or Path.cwd() / "planblanc-data").resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """The key comes from the environment or is generated once and kept in the data dir."""
    from_env = env_str("PLANBLANC_SECRET_KEY")
    if from_env:
        return from_env
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        # Web and worker processes may start together on a fresh data dir: write the key
        # aside, then link it into place, which only the first process can do; the others
        # read the winner's key, never a half-written file.
        draft = DATA_DIR / f".secret_key.{os.getpid()}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(64))
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(draft, key_file)
        except FileExistsError:
            pass
        finally:
            draft.unlink(missing_ok=True)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("PLANBLANC_DEBUG", False)
ALLOWED_HOSTS = env_list("PLANBLANC_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("PLANBLANC_CSRF_TRUSTED_ORIGINS", [])
# Behind a TLS-terminating proxy, set PLANBLANC_HTTPS=1: secure cookies, HSTS, redirect.
HTTPS = env_bool("PLANBLANC_HTTPS", False)
DEMO_MODE = env_bool("PLANBLANC_DEMO", False)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "csp",
    "ninja",
    "django_tasks",
    "django_tasks_db",
    "planblanc.core",
    "planblanc.accounts",
    "planblanc.directory",
    "planblanc.plans",
    "planblanc.readiness",
    "planblanc.alerting",
    "planblanc.exercises",
    "planblanc.crisis",
    "planblanc.mutual_aid",
    "planblanc.awareness",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Pages and static files compressed on the way out: a phone on a bad network gets the
    # console's HTML in a seventh of its size (Django pads compressed pages against BREACH).
    "django.middleware.gzip.GZipMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "planblanc.core.middleware.FrenchFirstLocaleMiddleware",
    "planblanc.core.middleware.BodySizeLimitMiddleware",
    "planblanc.api.middleware.ApiJsonMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "planblanc.accounts.middleware.RequestContextMiddleware",
    "planblanc.accounts.middleware.RequireTwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "planblanc.urls"
WSGI_APPLICATION = "planblanc.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "accounts:login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
                "planblanc.core.context_processors.platform",
                "planblanc.crisis.context_processors.active_crises",
            ],
        },
    }
]


def _database() -> dict:
    url = env_str("DATABASE_URL")
    if url:
        config: dict = dict(dj_database_url.parse(url, conn_max_age=env_int("PLANBLANC_DB_CONN_MAX_AGE", 60)))
        if config["ENGINE"] == "django.db.backends.postgresql":
            config["CONN_HEALTH_CHECKS"] = True
        return config
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATA_DIR / "planblanc.sqlite3",
        "OPTIONS": {
            # WAL lets the web server read while the worker writes; IMMEDIATE takes the
            # write lock at BEGIN so two writers queue instead of failing mid-transaction.
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
            ),
        },
        # Tests use a file too, never Django's shared in-memory database: threads of one
        # test then wait for each other's write lock as in production, instead of failing
        # at once with "database table is locked".
        "TEST": {"NAME": str(DATA_DIR / "test-planblanc.sqlite3")},
    }


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TASKS = {
    "default": {
        "BACKEND": env_str("PLANBLANC_TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
        # "exercises": the live runs' inject firing, served by a loop of its own in every
        # `planblanc worker`, so that a big campaign's tasks never make an inject late.
        "QUEUES": ["default", "exercises"],
    }
}

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# Login throttling: 5 failures for one username from one address lock it for 15 minutes.
AXES_FAILURE_LIMIT = env_int("PLANBLANC_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_int("PLANBLANC_LOGIN_COOLOFF_MINUTES", 15) / 60
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "accounts/locked.html"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_IPWARE_PROXY_COUNT = env_int("PLANBLANC_PROXY_COUNT", 0)

# Sessions and cookies.
SESSION_COOKIE_AGE = env_int("PLANBLANC_SESSION_HOURS", 12) * 3600
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_NAME = "planblanc_session"
CSRF_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "planblanc.core.views_errors.csrf_failure"
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_NAME = "planblanc_csrftoken"
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS and env_bool("PLANBLANC_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = 31536000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy: only our own origin; no inline script anywhere.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

OTP_TOTP_ISSUER = "Plan Blanc Numérique"

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("French")), ("en", _("English"))]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
LANGUAGE_COOKIE_NAME = "planblanc_language"
TIME_ZONE = env_str("PLANBLANC_TIME_ZONE", "Europe/Paris")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise expects it, even when serving from the package
# Assets are served straight from the package (no collectstatic step on a laptop).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = DATA_DIR / "media"

# One cap for every request body and uploaded file, on the pages and in the API
# (core.middleware.BodySizeLimitMiddleware refuses a larger body before it is read; the
# spreadsheet reader, core.tabular, refuses a larger file).
PLANBLANC_MAX_UPLOAD_BYTES = env_int("PLANBLANC_MAX_UPLOAD_MB", 10) * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = PLANBLANC_MAX_UPLOAD_BYTES
FILE_UPLOAD_MAX_MEMORY_SIZE = PLANBLANC_MAX_UPLOAD_BYTES
DATA_UPLOAD_MAX_NUMBER_FIELDS = 2000
DATA_UPLOAD_MAX_NUMBER_FILES = 20
# Staged uploads (an import between its preview and its confirmation) expire after this.
PLANBLANC_STAGED_UPLOAD_HOURS = env_int("PLANBLANC_STAGED_UPLOAD_HOURS", 12)
# /healthz gives worker and queue details only with this token (empty: never).
PLANBLANC_HEALTHZ_TOKEN = env_str("PLANBLANC_HEALTHZ_TOKEN", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("PLANBLANC_LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}

# Logbook anchoring (crisis/anchoring.py): RFC 3161 timestamps of the head while a crisis
# is active (PLANBLANC_TSA_URL, at most every PLANBLANC_TSA_INTERVAL_SECONDS when new
# entries exist, tokens checked against PLANBLANC_TSA_CA_FILE), and the digest of the
# head sent to the cell every PLANBLANC_CRISIS_DIGEST_SECONDS (0: never).
PLANBLANC_TSA_URL = env_str("PLANBLANC_TSA_URL")
LOGBOOK_ANCHOR_SECONDS = env_int("PLANBLANC_TSA_INTERVAL_SECONDS", 300)
LOGBOOK_TSA_CA_FILE = env_str("PLANBLANC_TSA_CA_FILE")
CRISIS_DIGEST_SECONDS = env_int("PLANBLANC_CRISIS_DIGEST_SECONDS", 3600)

# Backups (planblanc backup --to-dir): where scheduled archives go and how many to keep.
BACKUP_DIR = env_str("PLANBLANC_BACKUP_DIR")
BACKUP_KEEP = env_int("PLANBLANC_BACKUP_KEEP", 7)
# What locks the archives when the command names neither: an age key file, or a
# passphrase (in a file, or in the environment; never on the command line).
BACKUP_KEY_FILE = env_str("PLANBLANC_BACKUP_KEY_FILE")
BACKUP_PASSPHRASE_FILE = env_str("PLANBLANC_BACKUP_PASSPHRASE_FILE")
BACKUP_PASSPHRASE = env_str("PLANBLANC_BACKUP_PASSPHRASE")

# How stale the worker heartbeat may be before the UI warns that background work stalls.
WORKER_STALE_AFTER_SECONDS = env_int("PLANBLANC_WORKER_STALE_SECONDS", 60)
# Workers touch their heartbeat row this often (a thread of their own).
WORKER_HEARTBEAT_SECONDS = env_int("PLANBLANC_WORKER_HEARTBEAT_SECONDS", 1)

# Alerting. Providers per channel, tried in this order (see alerting/channels/base.py):
# PLANBLANC_CHANNELS='{"email": [{"name": "relay", "kind": "smtp", "host": "smtp.example",
#   "port": 587, "starttls": true, "username": "…", "password": "…", "from": "alerte@…"},
#   {"name": "backup", "kind": "smtp", "host": "…"}], "webhook": [{"name": "mm", "kind": "mattermost"}]}'
ALERTING_CHANNELS = env_json(
    "PLANBLANC_CHANNELS",
    {
        "email": [{"name": "local-relay", "kind": "smtp", "host": "localhost", "port": 25}],
        "webhook": [{"name": "webhook", "kind": "webhook"}],
    },
)
# The address people reach this platform at, for acknowledgement links in messages.
ALERTING_PUBLIC_URL = env_str("PLANBLANC_PUBLIC_URL", "http://localhost:8000").rstrip("/")
ALERTING_MAX_ATTEMPTS = env_int("PLANBLANC_ALERT_MAX_ATTEMPTS", 5)
ALERTING_RETRY_BASE_SECONDS = env_int("PLANBLANC_ALERT_RETRY_BASE_SECONDS", 10)
ALERTING_RETRY_MAX_SECONDS = env_int("PLANBLANC_ALERT_RETRY_MAX_SECONDS", 600)
ALERTING_LEASE_SECONDS = env_int("PLANBLANC_ALERT_LEASE_SECONDS", 60)
# Deliveries claimed by a worker whose heartbeat is older than this are taken over
# before their lease ends (a worker that died mid-campaign).
ALERTING_DEAD_WORKER_SECONDS = env_int("PLANBLANC_ALERT_DEAD_WORKER_SECONDS", 8)
ALERTING_ACK_MAX_AGE_HOURS = env_int("PLANBLANC_ACK_LINK_HOURS", 72)
# A deputy of the crisis cell is alerted when the holder of their seat declines, or
# has not acknowledged this many minutes after the alert.
ALERTING_STANDBY_AFTER_MINUTES = env_int("PLANBLANC_DEPUTY_AFTER_MINUTES", 10)
# How the crisis cell alert uses channels: "parallel" (email, SMS and voice at once, the
# default: the hospital's mail may be down) or "email_first" (email, then SMS and voice
# to whoever has not acknowledged after PLANBLANC_CELL_ALERT_FOLLOWUP_MINUTES).
CRISIS_CELL_ALERT_MODE = env_str("PLANBLANC_CELL_ALERT_MODE", "parallel")
CRISIS_CELL_ALERT_FOLLOWUP_MINUTES = env_int("PLANBLANC_CELL_ALERT_FOLLOWUP_MINUTES", 5)

# RFC 3161 timestamping authority for the heads of crisis logbooks (empty: none).
PLANBLANC_TSA_URL = env_str("PLANBLANC_TSA_URL")

# `planblanc serve` (gunicorn) and `planblanc demo`: address, processes, threads, and the
# proxies whose X-Forwarded-* headers are trusted.
WEB_BIND = env_str("PLANBLANC_BIND", "127.0.0.1:8000")
WEB_WORKERS = env_int("PLANBLANC_WEB_WORKERS", 2)
WEB_THREADS = env_int("PLANBLANC_WEB_THREADS", 4)
WEB_FORWARDED_ALLOW_IPS = env_str("PLANBLANC_FORWARDED_ALLOW_IPS", "127.0.0.1")

# Awareness: how long a personal training link stays valid (days), and the share of
# staff to train each year that the observatory compares against (percent).
AWARENESS_LINK_DAYS = env_int("PLANBLANC_AWARENESS_LINK_DAYS", 120)
AWARENESS_TARGET_PERCENT = env_int("PLANBLANC_AWARENESS_TARGET_PERCENT", 90)
# Phishing drills: the header that marks their messages (for the mail filters' allow-list),
# whether managers may see results by name (off: per department only), the address
# staff forward suspicious messages to, and where `planblanc drill_reports --listen`
# receives those forwards by SMTP.
AWARENESS_DRILL_HEADER = env_str("PLANBLANC_DRILL_HEADER", "X-PlanBlanc-Drill")
AWARENESS_DRILL_NAMED_RESULTS = env_bool("PLANBLANC_DRILL_NAMED_RESULTS", False)
AWARENESS_DRILL_REPORT_ADDRESS = env_str("PLANBLANC_DRILL_REPORT_ADDRESS", "")
AWARENESS_DRILL_REPORT_BIND = env_str("PLANBLANC_DRILL_REPORT_BIND", "127.0.0.1:2526")
AWARENESS_REMINDER_DAYS = env_int("PLANBLANC_AWARENESS_REMINDER_DAYS", 7)
# A launch for a group, a region or the country whose scope has at most this many people is
# prepared and invited during the request (about a second); a larger one in the background.
AWARENESS_LAUNCH_AT_ONCE_PEOPLE = env_int("PLANBLANC_AWARENESS_LAUNCH_AT_ONCE_PEOPLE", 2000)
AWARENESS_PROGRESS_REFRESH_SECONDS = env_int("PLANBLANC_AWARENESS_PROGRESS_REFRESH_SECONDS", 30)
