"""medappt settings: one module, everything from the environment (docs/operations.md).

A `.env` file next to manage.py is read when present. Safe local defaults; values that
must be secret are required as soon as DEBUG is off.
"""

import ipaddress
from datetime import timedelta
from pathlib import Path

import environ
from corsheaders.defaults import default_headers as default_cors_headers
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def _required(name: str, why: str) -> str:
    value = env.str(name, default="")
    if not value:
        raise ImproperlyConfigured(f"{name} must be set when DEBUG is off: {why}")
    return value


# ---------------------------------------------------------------------------
# Core
# ---------------------------------------------------------------------------
DEBUG = env.bool("DEBUG", default=False)

if DEBUG:
    SECRET_KEY = env.str("SECRET_KEY", default="insecure-local-development-key-do-not-deploy")
    AUDIT_CHAIN_KEY = env.str("AUDIT_CHAIN_KEY", default="insecure-local-audit-chain-key")
else:
    SECRET_KEY = _required("SECRET_KEY", "it signs sessions, tokens and password-reset links.")
    AUDIT_CHAIN_KEY = _required("AUDIT_CHAIN_KEY", "it keys the HMAC chain sealing the audit log.")
if AUDIT_CHAIN_KEY == SECRET_KEY:
    # Whoever holds the web servers' SECRET_KEY could then reseal an edited audit chain.
    raise ImproperlyConfigured("AUDIT_CHAIN_KEY must differ from SECRET_KEY.")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])

# Where people reach the service: every link in a mail is built from it, never from the
# request's Host header.
if DEBUG:
    PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000")
else:
    PUBLIC_BASE_URL = _required("PUBLIC_BASE_URL", "every link in a mail is built from it.")
PUBLIC_BASE_URL = PUBLIC_BASE_URL.rstrip("/")

INSTALLED_APPS = [
    "medappt.apps.ClinicAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "auditlog",
    "core",
    "audit",
    "accounts",
    "scheduling",
    "messaging",
    "formats",
    "django_htmx",
    "portal",
]

MIDDLEWARE = [
    # Outermost, so every response (probes and early refusals too) has a request id and a log line.
    "core.middleware.RequestContextMiddleware",
    # Health probes answer before host checks and the SSL redirect (load balancers).
    "core.middleware.HealthCheckMiddleware",
    # Outside every middleware that answers on its own (the 413), so those answers carry
    # nosniff, Referrer-Policy and X-Frame-Options too.
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # CSP on the admin and docs pages, no-store on /api/; outside the 413 as well.
    "core.middleware.BrowserPolicyMiddleware",
    # Before any middleware that answers on its own, so browsers can read those answers (413).
    "corsheaders.middleware.CorsMiddleware",
    "core.middleware.BodySizeLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language of a request: Accept-Language (the API's authentication class then
    # switches to the signed-in user's own language).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # /portal/: the signed-in user is the audit actor and their own language wins.
    "portal.middleware.PortalMiddleware",
    # django-auditlog's, with the client address from client_ip() (not the forgeable XFF).
    "core.middleware.AuditlogMiddleware",
]

ROOT_URLCONF = "medappt.urls"
WSGI_APPLICATION = "medappt.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

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
                "portal.context_processors.clinic",
            ],
        },
    },
]

# ---------------------------------------------------------------------------
# Database and cache
# ---------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock at BEGIN, so concurrent writers queue on the busy
    # timeout instead of failing with "database is locked" halfway through.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)

REDIS_URL = env.str("REDIS_URL", default="")
# The public read cache (core/response_cache.py) in a Redis (or database) of its own, so
# its entries can never crowd out or flush the throttle counters; unset, it shares REDIS_URL
# under its own key prefix (`public:`).
PUBLIC_CACHE_URL = env.str("PUBLIC_CACHE_URL", default="")
if REDIS_URL:
    _REDIS_OPTIONS = {
        # A slow or unreachable Redis costs a request at most these seconds per cache
        # call; the throttles then fail open (core/throttles.py), /readyz says 503.
        "socket_connect_timeout": env.float("REDIS_CONNECT_TIMEOUT", default=1.0),
        "socket_timeout": env.float("REDIS_TIMEOUT", default=1.0),
        # After a failure Redis is skipped for these seconds (core/cache.py), so an outage
        # costs one timeout per process and period, not one per cache call.
        "breaker_seconds": env.float("REDIS_BREAKER_SECONDS", default=5.0),
    }
    CACHES = {
        "default": {
            "BACKEND": "core.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": _REDIS_OPTIONS,
        }
    }
    if PUBLIC_CACHE_URL:
        CACHES["public"] = {
            "BACKEND": "core.cache.RedisCache",
            "LOCATION": PUBLIC_CACHE_URL,
            "OPTIONS": _REDIS_OPTIONS,
        }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Seconds the public directory and availability answers are cached (core/response_cache.py);
# 0 turns the cache off. Every write invalidates them at once on commit, so this bounds only
# what time alone changes (a block passing the booking lead time). Off by default without
# Redis: each worker's local-memory cache would miss the other workers' invalidations.
PUBLIC_CACHE_SECONDS = env.int("PUBLIC_CACHE_SECONDS", default=10 if REDIS_URL else 0)

# ---------------------------------------------------------------------------
# Passwords and authentication
# ---------------------------------------------------------------------------
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = ["accounts.backends.EmailBackend"]

PASSWORD_RESET_URL = env.str(
    "PASSWORD_RESET_URL", default=PUBLIC_BASE_URL + "/portal/password/reset/{uid}/{token}/"
)
# The link in a waitlist offer's mail (no token: the patient signs in to answer).
WAITLIST_OFFER_URL = env.str(
    "WAITLIST_OFFER_URL", default=PUBLIC_BASE_URL + "/portal/waitlist/offers/{offer_id}/"
)
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3600)

# Its own key, so rotating it (logging everyone out of the API) and rotating SECRET_KEY
# (sessions, reset links) are separate decisions. Empty or unset: SECRET_KEY.
JWT_SIGNING_KEY = env.str("JWT_SIGNING_KEY", default="") or SECRET_KEY
JWT_ACCESS_MINUTES = env.int("JWT_ACCESS_MINUTES", default=5)
JWT_REFRESH_DAYS = env.int("JWT_REFRESH_DAYS", default=7)
# A login's session (its refresh token and every rotation of it) ends this long after the
# password was checked, however often it is refreshed.
JWT_SESSION_MAX_DAYS = env.int("JWT_SESSION_MAX_DAYS", default=30)
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=JWT_ACCESS_MINUTES),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=JWT_REFRESH_DAYS),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    # Access tokens carry a hash of the password: changing it kills every live token.
    "CHECK_REVOKE_TOKEN": True,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": JWT_SIGNING_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
}

# ---------------------------------------------------------------------------
# REST API
# ---------------------------------------------------------------------------
THROTTLE_LOGIN = env.str("THROTTLE_LOGIN", default="10/min")
# Failed logins per email from every address (API and admin together); THROTTLE_LOGIN limits
# them per (email, client address), so failures elsewhere lock nobody out below this ceiling.
THROTTLE_LOGIN_EMAIL_CEILING = env.str("THROTTLE_LOGIN_EMAIL_CEILING", default="50/hour")
THROTTLE_REGISTER = env.str("THROTTLE_REGISTER", default="5/min")
THROTTLE_PASSWORD_RESET = env.str("THROTTLE_PASSWORD_RESET", default="5/hour")
THROTTLE_PASSWORD_RESET_EMAIL_CEILING = env.str(
    "THROTTLE_PASSWORD_RESET_EMAIL_CEILING", default="20/hour"
)
THROTTLE_PASSWORD_CHANGE = env.str("THROTTLE_PASSWORD_CHANGE", default="5/min")
THROTTLE_BOOKING = env.str("THROTTLE_BOOKING", default="30/min")
THROTTLE_SCHEMA = env.str("THROTTLE_SCHEMA", default="30/min")
THROTTLE_UPLOAD = env.str("THROTTLE_UPLOAD", default="10/hour")
THROTTLE_HOLD = env.str("THROTTLE_HOLD", default="20/min")
# Reads of one calendar feed (GET /calendar/<token>.ics), per token and per address.
THROTTLE_CALENDAR_FEED = env.str("THROTTLE_CALENDAR_FEED", default="60/hour")
# Appointment/$find (GET and POST /fhir/R4/Appointment/$find) per client address.
THROTTLE_FHIR_FIND = env.str("THROTTLE_FHIR_FIND", default="30/min")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.JWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.PageNumberPagination",
    "DEFAULT_FILTER_BACKENDS": ["core.filters.FilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "core.schema.AutoSchema",
    "DEFAULT_METADATA_CLASS": "core.metadata.APIMetadata",
    "EXCEPTION_HANDLER": "core.exceptions.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "login": THROTTLE_LOGIN,
        "login_failures": THROTTLE_LOGIN,
        "login_failures_email": THROTTLE_LOGIN_EMAIL_CEILING,
        "register": THROTTLE_REGISTER,
        "password_reset": THROTTLE_PASSWORD_RESET,
        "password_reset_email": THROTTLE_PASSWORD_RESET_EMAIL_CEILING,
        "password_change": THROTTLE_PASSWORD_CHANGE,
        "booking": THROTTLE_BOOKING,
        "schema": THROTTLE_SCHEMA,
        "upload": THROTTLE_UPLOAD,
        "hold": THROTTLE_HOLD,
        "calendar_feed": THROTTLE_CALENDAR_FEED,
        "fhir_find": THROTTLE_FHIR_FIND,
    },
    "DATETIME_FORMAT": "iso-8601",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "medappt API",
    "DESCRIPTION": "Medical appointments: doctors, availability, bookings and their audit trail.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No badge image from validator.swagger.io (an outside request the CSP would refuse).
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums"],
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "accounts.models.User.Role",
    },
}

# Bodies above these are refused with 413 before anything reads them.
MAX_JSON_BODY_BYTES = 1024 * 1024
MAX_UPLOAD_BODY_BYTES = 6 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_UPLOAD_BODY_BYTES

# ---------------------------------------------------------------------------
# Clinic rules
# ---------------------------------------------------------------------------
CANCELLATION_NOTICE_HOURS = env.int("CANCELLATION_NOTICE_HOURS", default=24)
REMINDER_HOURS = env.int("REMINDER_HOURS", default=24)
CLOSE_PAST_AFTER_HOURS = env.int("CLOSE_PAST_AFTER_HOURS", default=48)
BOOKING_MIN_LEAD_MINUTES = env.int("BOOKING_MIN_LEAD_MINUTES", default=60)
MAX_ACTIVE_APPOINTMENTS_PER_PATIENT = env.int("MAX_ACTIVE_APPOINTMENTS_PER_PATIENT", default=10)
# Slot holds (docs/api-rules.md): how long a hold keeps a block, how many a patient may keep.
HOLD_TTL_SECONDS = env.int("HOLD_TTL_SECONDS", default=300)
HOLD_MAX_PER_PATIENT = env.int("HOLD_MAX_PER_PATIENT", default=3)
# Idempotency-Key: mandatory on the keyed writes or not; how long a retry waits for the first
# request, how long a claim's lease lasts, how long answers are kept for replay.
IDEMPOTENCY_REQUIRED = env.bool("IDEMPOTENCY_REQUIRED", default=False)
IDEMPOTENCY_WAIT_SECONDS = env.float("IDEMPOTENCY_WAIT_SECONDS", default=10)
IDEMPOTENCY_LEASE_SECONDS = env.int("IDEMPOTENCY_LEASE_SECONDS", default=60)
IDEMPOTENCY_KEY_TTL_HOURS = env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=24)
# Waitlist (docs/api-rules.md, waitlist): entries may span at most WAITLIST_MAX_SPAN_DAYS days;
# a patient keeps at most WAITLIST_MAX_ACTIVE_PER_PATIENT waiting entries.
WAITLIST_MAX_SPAN_DAYS = env.int("WAITLIST_MAX_SPAN_DAYS", default=92)
# Standing schedules (docs/api-rules.md, templates): blocks are materialised this many days
# ahead (in the request that writes a template, and daily by materialize_availability); a
# template making more than TEMPLATE_MAX_SLOTS blocks in that horizon is refused (400).
AVAILABILITY_HORIZON_DAYS = env.int("AVAILABILITY_HORIZON_DAYS", default=56)
TEMPLATE_MAX_SLOTS = env.int("TEMPLATE_MAX_SLOTS", default=5000)
WAITLIST_MAX_ACTIVE_PER_PATIENT = env.int("WAITLIST_MAX_ACTIVE_PER_PATIENT", default=5)
# A freed block is offered only this far ahead, to WAITLIST_OFFER_BATCH patients at a time who
# share one hold for WAITLIST_OFFER_TTL_SECONDS; an entry that misses WAITLIST_MAX_MISSED offers
# expires.
WAITLIST_MIN_LEAD_MINUTES = env.int("WAITLIST_MIN_LEAD_MINUTES", default=180)
WAITLIST_OFFER_BATCH = env.int("WAITLIST_OFFER_BATCH", default=3)
WAITLIST_OFFER_TTL_SECONDS = env.int("WAITLIST_OFFER_TTL_SECONDS", default=3600)
WAITLIST_MAX_MISSED = env.int("WAITLIST_MAX_MISSED", default=3)
# Check-in opens this long before the start and stays open to the end of its day (TIME_ZONE).
CHECKIN_OPENS_MINUTES = env.int("CHECKIN_OPENS_MINUTES", default=120)
# Leave (docs/api-rules.md, leave): resolving by reschedule moves each affected visit to the
# earliest bookable block starting before the leave's end plus this many days.
LEAVE_RESCHEDULE_SEARCH_DAYS = env.int("LEAVE_RESCHEDULE_SEARCH_DAYS", default=30)

# ---------------------------------------------------------------------------
# Email
# ---------------------------------------------------------------------------
_email_url = env.str("EMAIL_URL", default="consolemail://" if DEBUG else "")
if not _email_url:
    _required("EMAIL_URL", "outgoing mail, e.g. smtp+tls://user:password@mail.example.com:587")
vars().update(environ.Env.email_url_config(_email_url))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="medappt <no-reply@localhost>")

# ---------------------------------------------------------------------------------------------
# FHIR R4 read facade (formats/fhir/)
# ---------------------------------------------------------------------------------------------
# Check every /fhir/ answer against its fhir.resources R4B model, the value sets and the
# Appointment invariants before sending it; a failure is logged and answered as a 500.
FHIR_VALIDATE_RESPONSES = env.bool("FHIR_VALIDATE_RESPONSES", default=False)

# ---------------------------------------------------------------------------------------------
# Calendar feeds and invites (formats/calendar.py)
# ---------------------------------------------------------------------------------------------
# Live feed links per patient or doctor; one more -> 409 feed_limit.
CALENDAR_FEEDS_PER_USER = env.int("CALENDAR_FEEDS_PER_USER", default=5)
# The events' SUMMARY, translated into the owner's language (never a name or a reason).
CALENDAR_SUMMARY = env.str("CALENDAR_SUMMARY", default="Appointment")
# The invites' ORGANIZER (mailto the address of DEFAULT_FROM_EMAIL).
CLINIC_NAME = env.str("CLINIC_NAME", default="medappt")
# Seconds an SMTP connection may wait before the send fails (and is retried later).
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
# A mail is tried this many times (backing off 30 s, 1 min, 2 min, ... up to an hour) before
# it is marked failed; a worker's claim on a mail lasts EMAIL_LEASE_SECONDS.
EMAIL_MAX_ATTEMPTS = env.int("EMAIL_MAX_ATTEMPTS", default=5)
EMAIL_LEASE_SECONDS = env.int("EMAIL_LEASE_SECONDS", default=120)

# ---------------------------------------------------------------------------
# Webhooks and the transactional outbox (DESIGN-R2 R2-6, messaging/)
# ---------------------------------------------------------------------------
# A POST waits WEBHOOK_TIMEOUT_SECONDS; a delivery is tried WEBHOOK_MAX_ATTEMPTS times, the
# n-th retry after min(BASE * 2^(n-1), MAX) seconds plus jitter. After a rotation the old
# secret still signs for WEBHOOK_SECRET_OVERLAP_HOURS. WEBHOOK_ALLOW_INSECURE_TARGETS (tests,
# local receivers only) allows http:// and private or loopback addresses, never another scheme.
WEBHOOK_TIMEOUT_SECONDS = env.int("WEBHOOK_TIMEOUT_SECONDS", default=10)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=12)
WEBHOOK_BACKOFF_BASE_SECONDS = env.int("WEBHOOK_BACKOFF_BASE_SECONDS", default=30)
WEBHOOK_BACKOFF_MAX_SECONDS = env.int("WEBHOOK_BACKOFF_MAX_SECONDS", default=21600)
WEBHOOK_SECRET_OVERLAP_HOURS = env.int("WEBHOOK_SECRET_OVERLAP_HOURS", default=24)
WEBHOOK_ALLOW_INSECURE_TARGETS = env.bool("WEBHOOK_ALLOW_INSECURE_TARGETS", default=False)
# Dispatched outbox events (and their deliveries) are deleted after this many days.
OUTBOX_RETENTION_DAYS = env.int("OUTBOX_RETENTION_DAYS", default=30)

# ---------------------------------------------------------------------------
# Background jobs (Celery; core/jobs.py, medappt/celery.py)
# ---------------------------------------------------------------------------
# Give the broker its own Redis database (e.g. .../1 when REDIS_URL is .../0), with
# maxmemory-policy noeviction: evicting a queued task loses it.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
# Without a broker, tasks run in-process when the transaction commits: DEBUG only (`make run`)
# and tests; with DEBUG off a broker is required.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not CELERY_BROKER_URL)
if not DEBUG and not CELERY_BROKER_URL and not env.bool("CELERY_TASK_ALWAYS_EAGER", default=False):
    raise ImproperlyConfigured(
        "REDIS_URL (or CELERY_BROKER_URL) must be set when DEBUG is off: background jobs "
        "(mail, reminders, sealing) need a broker."
    )
CELERY_TASK_EAGER_PROPAGATES = env.bool("CELERY_TASK_EAGER_PROPAGATES", default=False)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# At least once: a task is acknowledged when it ends, and redelivered when its worker dies.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# No task uses a countdown or an ETA (retries due later live in the database), so an
# unacknowledged task is redelivered after this many seconds.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=300)
}
CELERY_TIMEZONE = "UTC"
# Django's LOGGING stays in charge of the log lines, in workers too.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Every periodic job (docs/operations.md); each is also a manage.py command for cron.
CELERY_BEAT_SCHEDULE = {
    "send-pending-emails": {"task": "core.tasks.send_pending_emails", "schedule": 60.0},
    "audit-seal": {"task": "audit.tasks.audit_seal", "schedule": 60.0},
    "send-reminders": {"task": "scheduling.tasks.send_reminders", "schedule": 300.0},
    "close-past-appointments": {
        "task": "scheduling.tasks.close_past_appointments",
        "schedule": 3600.0,
    },
    "expire-holds": {"task": "scheduling.tasks.expire_holds", "schedule": 60.0},
    "process-waitlist": {"task": "scheduling.tasks.process_waitlist", "schedule": 60.0},
    "purge-idempotency-keys": {"task": "core.tasks.purge_idempotency_keys", "schedule": 3600.0},
    "outbox-dispatch": {"task": "messaging.tasks.outbox_dispatch", "schedule": 30.0},
    "deliver-due-webhooks": {"task": "messaging.tasks.deliver_due_webhooks", "schedule": 15.0},
    "purge-outbox": {"task": "messaging.tasks.purge_outbox", "schedule": 86400.0},
    "materialize-availability": {
        "task": "scheduling.tasks.materialize_availability",
        "schedule": 86400.0,
    },
}

# ---------------------------------------------------------------------------
# Internationalisation
# ---------------------------------------------------------------------------
LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en")
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# ---------------------------------------------------------------------------
# Static and media files
# ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_URL = env.str("MEDIA_URL", default="/media/")
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
STORAGES = {
    "default": {
        "BACKEND": env.str(
            "DEFAULT_FILE_STORAGE", default="django.core.files.storage.FileSystemStorage"
        )
    },
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# ---------------------------------------------------------------------------
# Security
# ---------------------------------------------------------------------------
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# Peers (CIDRs) whose X-Forwarded-For is read at all; empty trusts none (core/context.py).
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy.strip(), strict=False)
    except ValueError as _error:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES: {_proxy!r} is not a CIDR") from _error
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
# A refused form under /portal/ is a portal page saying what to do (core/errors.py).
CSRF_FAILURE_VIEW = "core.exceptions.csrf_failure"
# Admin sessions (the API uses JWTs): a working day, not Django's two weeks.
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# The admin and the API docs (BrowserPolicyMiddleware). Scripts only from our own files: the
# Swagger UI start script is served from a URL (SpectacularSwaggerSplitView), ReDoc needs
# none. Styles allow 'unsafe-inline': Swagger UI, ReDoc and the admin set style attributes
# (styles cannot run code). data: images and fonts are the UIs' inlined icons; ReDoc runs its
# search in a blob: worker.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

# The portal (BrowserPolicyMiddleware): everything from our own origin, nothing inline; htmx
# is served by the project and configured through a meta tag.
PORTAL_CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
# The machine-readable prefixes; the portal and the admin are same-origin pages.
CORS_URLS_REGEX = r"^/(api|fhir|calendar)/.*$"
CORS_ALLOW_HEADERS = (*default_cors_headers, "idempotency-key")
CORS_EXPOSE_HEADERS = ["Retry-After", "X-Request-ID", "Idempotent-Replayed", "ETag"]

# ---------------------------------------------------------------------------
# Audit
# ---------------------------------------------------------------------------
AUDITLOG_INCLUDE_ALL_MODELS = False
AUDITLOG_DISABLE_REMOTE_ADDR = False
AUDITLOG_MASK_CALLABLE = "audit.masking.mask_fully"

# ---------------------------------------------------------------------------
# Logging: one line per request from medappt.request; nothing secret is logged.
# ---------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # A calendar feed's path holds its token: redacted in every line (core/logfilters.py).
    "filters": {"calendar_feed_paths": {"()": "core.logfilters.RedactCalendarFeedPaths"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["calendar_feed_paths"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # The request line comes from medappt.request; Django's own would repeat it.
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING"},
    },
}
