"""Heliox settings: one file, driven by the environment (django-environ).

Every variable is listed in `.env.example` and in the README's configuration table.
With nothing set, Heliox runs on a SQLite file in the project directory; production
sets DATABASE_URL to PostgreSQL. With DEBUG off the secure defaults are on, so that
`manage.py check --deploy` passes with only SECRET_KEY and ALLOWED_HOSTS set.
"""

from datetime import date, timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local .env is a convenience for development; real environment variables win.
if (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Heliox refuses to start with DEBUG off and no SECRET_KEY: "
            "set SECRET_KEY to a long random string (python -c 'import secrets; "
            "print(secrets.token_urlsafe(50))'), or set DEBUG=on for local development."
        )
    # Development only: never used when DEBUG is off (see above).
    SECRET_KEY = "django-insecure-heliox-development-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "heliox.apps.HelioxAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "csp",
    "django_celery_beat",
    "simple_history",
    "ops",
    "teams",
    "jobs",
    "costs",
    "web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    # /healthz, /readyz and /health/ answer whatever Host a load balancer probes with.
    "heliox.health.ProbeMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # No query parameter holding a NUL character (PostgreSQL text cannot) reaches a view.
    "heliox.query_guard.QueryGuardMiddleware",
    # The audit trail (django-simple-history) records the request's user on every change it makes.
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "heliox.urls"
WSGI_APPLICATION = "heliox.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'heliox.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the dev server read while a command writes; IMMEDIATE avoids
    # "database is locked" on write transactions that start with a read.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Column and table comments are kept by PostgreSQL; SQLite has nowhere to put them.
    SILENCED_SYSTEM_CHECKS = ["fields.W163", "models.W046"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The cache holds what every worker must agree on: API throttle counters. A cache in each
# process's memory would let each gunicorn worker grant the whole rate again, so the
# default is a table in the database (`migrate` creates it); Redis when REDIS_URL is set;
# CACHE_URL takes any django-environ cache URL (dbcache://, redis://, locmemcache://...).
if env.str("CACHE_URL", default=""):
    CACHES = {"default": env.cache_url("CACHE_URL")}
elif env.str("REDIS_URL", default=""):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": env.str("REDIS_URL")}}
else:
    # Past MAX_ENTRIES the table is culled, expired rows first, then live counters: room for
    # 10,000 clients a minute (each set also counts the rows, so not unbounded). Use Redis for more.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "heliox_cache",
                          "OPTIONS": {"MAX_ENTRIES": 10_000}}}  # fmt: skip
CACHES["default"].setdefault("KEY_PREFIX", "heliox")

from heliox.settings_celery import *  # noqa: E402,F403 (Celery, beat and the task-run log)

# Login lockout (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one username from
# one address, that pair is refused for AXES_COOLOFF_MINUTES (0: until an admin unlocks it in
# the admin's "Access attempts" or with `manage.py axes_reset_username`). Attempts are stored in
# the database, so the count holds across workers. API tokens never go through the login.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# The member UI's login (web); the admin keeps its own. Logging out leads back to the login page.
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:login"
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=30)) or None
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "admin/lockout.html"
# The client's address as the API throttles see it (REMOTE_ADDR, or X-Forwarded-For behind NUM_PROXIES proxies).
AXES_CLIENT_IP_CALLABLE = "heliox.security.client_ip"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Where collectstatic writes (the Dockerfile builds it into the image).
STATIC_ROOT = Path(env.str("STATIC_ROOT", default="") or BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
# Uploaded files waiting for their import (admin upload, POST /api/v1/imports/, --async) live in
# Django's default storage: a folder on disk (MEDIA_ROOT, shared by web and workers: a volume in
# compose), or an S3-compatible bucket when AWS_STORAGE_BUCKET_NAME is set (needs django-storages[s3];
# credentials and endpoint from the AWS_* variables django-storages reads, see .env.example).
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default="") or BASE_DIR / "media")
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
if AWS_STORAGE_BUCKET_NAME:
    AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", default="") or None
    AWS_S3_REGION_NAME = env.str("AWS_S3_REGION_NAME", default="") or None
    AWS_ACCESS_KEY_ID = env.str("AWS_ACCESS_KEY_ID", default="") or None
    AWS_SECRET_ACCESS_KEY = env.str("AWS_SECRET_ACCESS_KEY", default="") or None
    AWS_DEFAULT_ACL = None
_default_storage = (
    {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {"location": env.str("AWS_LOCATION", default="heliox")}}
    if AWS_STORAGE_BUCKET_NAME
    else {"BACKEND": "django.core.files.storage.FileSystemStorage"}
)
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        # Hashed, compressed files in production (needs collectstatic); plain files
        # in development and tests so that no build step is needed.
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage",
    },
}

# Security: on by default when DEBUG is off. Each can be turned off for a
# TLS-terminating proxy that already redirects and sets HSTS.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
if env.bool("USE_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# The health endpoints are probed over plain HTTP inside the container network.
SECURE_REDIRECT_EXEMPT = [r"^health/$", r"^healthz$", r"^readyz$"]
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp): scripts, styles, fonts and data only from Heliox itself.
# The dashboard, the admin and Swagger UI have no inline script or style (see
# templates/drf_spectacular/swagger_ui.html); Swagger UI's icons are data: images.
# CSP_REPORT_ONLY=on sends the policy as Content-Security-Policy-Report-Only (to try a change).
_CSP = {
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
if env.bool("CSP_REPORT_ONLY", default=False):
    CONTENT_SECURITY_POLICY_REPORT_ONLY = _CSP
else:
    CONTENT_SECURITY_POLICY = _CSP

# The largest request body (not counting uploaded files) Django and the API read: a 413 past it.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="heliox@localhost")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Tokens are stored hashed (django-rest-knox), expire and can be revoked.
        "knox.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["heliox.api.ExactJSONRenderer", "heliox.api.BrowsableAPIRenderer"],
    # JSON only, bounded, every string storable (heliox.api.JSONBodyParser); Django's request errors as JSON.
    "DEFAULT_PARSER_CLASSES": ["heliox.api.JSONBodyParser"],
    "EXCEPTION_HANDLER": "heliox.api.api_exception_handler",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "heliox.schema.AutoSchema",  # documents the error answers too
    # DRF's sliding window in 60 buckets: a small entry in the shared cache whatever the rate.
    "DEFAULT_THROTTLE_CLASSES": ["heliox.throttling.AnonRateThrottle", "heliox.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="60/minute"),
        "user": env.str("API_THROTTLE_USER", default="6000/minute"),
    },
    # X-Forwarded-For is trusted only from this many proxies in front of Heliox; with none, the
    # throttles count REMOTE_ADDR (a client cannot pick another identity with a header).
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "COERCE_DECIMAL_TO_STRING": True,
    "DATETIME_FORMAT": "iso-8601",
}
REST_KNOX = {
    "TOKEN_TTL": None,  # each token gets its own expiry (create_api_token --expires)
    "AUTO_REFRESH": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Heliox API",
    "DESCRIPTION": "GPU cost and usage per team, provider, GPU type and model. Money in USD (decimal strings), "
    "hours in GPU-hours, date ranges [start, end) over UTC days.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and ReDoc assets are served from this server (no CDN).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# A site's GPU type names (Slurm GRES types) -> Heliox GPU types: `a100_80=A100-80GB,big=H100`.
# import_jobs --gpu-map adds to and overrides it. jobs.gpus documents the spellings read without it.
try:
    from jobs.gpus import parse_gpu_map

    GPU_TYPE_MAP = parse_gpu_map(env.str("GPU_TYPE_MAP", default=""))
except ValueError as error:
    raise ImproperlyConfigured(f"GPU_TYPE_MAP: {error}") from None

# Cost labels: the keys the rollup keeps daily figures for (group_by=label:<key>), and the Slurm
# (sacct) fields that imports turn into `slurm.<field>` labels.
HELIOX_COST_LABELS = env.list("HELIOX_COST_LABELS", default=["project", "user", "cost_center"])
HELIOX_SLURM_LABELS = env.list("HELIOX_SLURM_LABELS", default=["user", "partition", "qos", "jobname"])
# The earliest day a job may start (jobs.times): earlier times are typos or unit errors, refused on input.
try:
    HELIOX_JOB_TIME_FLOOR = date.fromisoformat(env.str("HELIOX_JOB_TIME_FLOOR", default="2000-01-01"))
except ValueError as error:
    raise ImproperlyConfigured(f"HELIOX_JOB_TIME_FLOOR: {error} (a date, YYYY-MM-DD)") from None
if HELIOX_JOB_TIME_FLOOR.year < 1970:
    raise ImproperlyConfigured("HELIOX_JOB_TIME_FLOOR: must be 1970-01-01 or later")
from jobs.labels import settings_problem  # noqa: E402  # like jobs.gpus above: pure functions, no models

if settings_problem(HELIOX_COST_LABELS, HELIOX_SLURM_LABELS):
    raise ImproperlyConfigured(settings_problem(HELIOX_COST_LABELS, HELIOX_SLURM_LABELS))

# Price catalog: `refresh_prices --if-stale` does nothing while the catalog is younger.
PRICE_STALENESS_SECONDS = env.int("PRICE_STALENESS_SECONDS", default=86_400)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # axes.apps: django-axes announces itself at INFO in every command.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes.apps": {"level": "WARNING"}},
}

# Budget alerts: webhook POSTs time out after this many seconds and are tried this many
# times per run (a timeout is not tried again), waiting BUDGET_WEBHOOK_BACKOFF x 2^n seconds
# between tries. All deliveries of one check_budgets run share BUDGET_WEBHOOK_RUN_SECONDS;
# what does not fit waits for the next run. A URL that failed is skipped for
# BUDGET_WEBHOOK_RETRY_AFTER x 2^(failures - 1) seconds, at most BUDGET_WEBHOOK_RETRY_MAX.
BUDGET_WEBHOOK_TIMEOUT = env.float("BUDGET_WEBHOOK_TIMEOUT", default=5.0)
BUDGET_WEBHOOK_ATTEMPTS = env.int("BUDGET_WEBHOOK_ATTEMPTS", default=3)
BUDGET_WEBHOOK_BACKOFF = env.float("BUDGET_WEBHOOK_BACKOFF", default=1.0)
BUDGET_WEBHOOK_RUN_SECONDS = env.float("BUDGET_WEBHOOK_RUN_SECONDS", default=30.0)
# On workers each alert's delivery is a task retried with back-off; it gives up this long after it was queued
# (at most 9 minutes: a pending alert is claimed again by a later run after 10).
BUDGET_ALERT_DEADLINE_SECONDS = env.int("BUDGET_ALERT_DEADLINE_SECONDS", default=300)
BUDGET_WEBHOOK_RETRY_AFTER = env.int("BUDGET_WEBHOOK_RETRY_AFTER", default=300)
BUDGET_WEBHOOK_RETRY_MAX = env.int("BUDGET_WEBHOOK_RETRY_MAX", default=86_400)
# Webhooks reach public addresses only; these host names, addresses or networks (CIDR) may be
# internal, e.g. chat.internal.example.com,10.20.0.0/16.
BUDGET_WEBHOOK_ALLOWED_HOSTS = env.list("BUDGET_WEBHOOK_ALLOWED_HOSTS", default=[])
# Largest file an upload (admin or POST /api/v1/imports/) may store, in MiB: larger is refused naming `file`,
# before anything is stored, so that no one with upload rights fills the disk (a command's --async takes any size).
HELIOX_UPLOAD_MAX_MB = env.int("HELIOX_UPLOAD_MAX_MB", default=2048)
# Link to the dashboard in alert messages.
HELIOX_BASE_URL = env.str("HELIOX_BASE_URL", default="http://127.0.0.1:8000")
# LLM price catalog: `refresh_model_prices --if-stale` does nothing while it is younger.
MODEL_PRICE_STALENESS_SECONDS = env.int("MODEL_PRICE_STALENESS_SECONDS", default=86_400)

# Kubernetes GPU pods and DCGM utilisation from Prometheus (`sync_prometheus`, the jobs.sync_prometheus task).
# PROMETHEUS_URL is the operator's Prometheus (the task syncs nothing while it is empty). Teams come from the pod
# label PROMETHEUS_TEAM_LABEL (a Kubernetes label key), else PROMETHEUS_NAMESPACE_TEAMS (`ns=team,ns2=team2`),
# else the team "unassigned". A window is read in chunks of PROMETHEUS_CHUNK_HOURS, one query per metric each.
PROMETHEUS_URL = env.str("PROMETHEUS_URL", default="")
PROMETHEUS_CLUSTER = env.str("PROMETHEUS_CLUSTER", default="kubernetes")
PROMETHEUS_TEAM_LABEL = env.str("PROMETHEUS_TEAM_LABEL", default="team")
PROMETHEUS_MODEL_LABEL = env.str("PROMETHEUS_MODEL_LABEL", default="model")
PROMETHEUS_NAMESPACE_TEAMS = {
    namespace.strip(): team.strip()
    for namespace, _, team in (pair.partition("=") for pair in env.list("PROMETHEUS_NAMESPACE_TEAMS", default=[]))
    if namespace.strip() and team.strip()
}
PROMETHEUS_LOOKBACK_DAYS = env.int("PROMETHEUS_LOOKBACK_DAYS", default=7)
PROMETHEUS_CHUNK_HOURS = env.int("PROMETHEUS_CHUNK_HOURS", default=24)
PROMETHEUS_STEP_SECONDS = env.int("PROMETHEUS_STEP_SECONDS", default=60)
PROMETHEUS_TIMEOUT = env.float("PROMETHEUS_TIMEOUT", default=60.0)
PROMETHEUS_MAX_RESPONSE_BYTES = env.int("PROMETHEUS_MAX_RESPONSE_BYTES", default=64 * 1024 * 1024)
