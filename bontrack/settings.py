"""The one settings file, driven by the environment.

- ``DATABASE_URL``: unset means a SQLite file under ``var/``; ``sqlite:///PATH`` or
  ``postgres://...`` otherwise.
- ``SECRET_KEY``: else the key ``make run`` wrote to ``var/secret_key``; with debug off and no key,
  start-up refuses.
- ``BONTRACK_CREDENTIALS_KEY``: the Fernet key that encrypts second-factor secrets, else the key
  ``make run`` wrote to ``var/credentials_key``; older keys in
  ``BONTRACK_CREDENTIALS_KEY_FALLBACKS`` (comma-separated). Production refuses to start without.
- ``BONTRACK_AUDIT_KEY``: the HMAC key of the audit trail and the security log, else the key
  ``make run`` wrote to ``var/audit_key``; older keys in ``BONTRACK_AUDIT_KEY_FALLBACKS``
  (comma-separated). Production refuses to start without. ``BONTRACK_AUDIT_CHECKPOINTS``: the
  append-only file of signed chain heads (``var/audit_checkpoints.jsonl``).
- ``BONTRACK_DEBUG=1`` turns debug on (never in production).
- ``BONTRACK_IDLE_MINUTES``: a signed-in page session ends after this many idle minutes (30).
- ``BONTRACK_ENV=production``: served over HTTPS behind ``BONTRACK_ALLOWED_HOSTS``; secure
  ``__Host-`` cookies, HSTS, and start-up refuses an unsafe configuration (security/production.py).
  Security settings (docs/security.md): ``BONTRACK_SESSION_HOURS`` (12),
  ``BONTRACK_LOCKOUT_FAILURES`` (10) and ``BONTRACK_LOCKOUT_MINUTES`` (30),
  ``BONTRACK_BREAK_GLASS_MINUTES`` (60), ``BONTRACK_TRUSTED_PROXIES`` (0), ``BONTRACK_HTTPS``,
  ``BONTRACK_MFA_ENFORCED`` (1).
- ``BONTRACK_ARGON2_TIME_COST``, ``BONTRACK_ARGON2_MEMORY_KIB``, ``BONTRACK_ARGON2_PARALLELISM``:
  the password hasher's cost, else what ``manage.py calibrate_argon2`` wrote to
  ``var/argon2.json``, else OWASP's floor (docs/security.md).
- ``REDIS_URL``: background tasks (huey) queue in Redis; unset means huey's SQLite storage in
  ``var/tasks.sqlite3`` (``BONTRACK_TASK_QUEUE`` names another file). Bulk exports are written
  under ``var/exports/`` (``BONTRACK_EXPORT_DIR``).
- ``BONTRACK_EMAIL_HOST`` (with ``_PORT``, ``_USER``, ``_PASSWORD``, ``_TLS``): reminders go out by
  SMTP; unset, they are printed by the console backend. ``BONTRACK_EMAIL_FROM``: the sender,
  with the clinic's address for patients as Reply-To; unset, reminders come from that address.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from bontrack.accounts.argon2_parameters import (
    Argon2ParameterError,
    Argon2Parameters,
    load_parameters,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("BONTRACK_VAR_DIR", BASE_DIR / "var"))
DEBUG = os.environ.get("BONTRACK_DEBUG", "") == "1"
# Set by the test runner (pyproject.toml's pytest env): throwaway keys, a fast password hasher,
# an in-process cache. Never set in a deployment (security/production.py refuses it).
TESTING = os.environ.get("BONTRACK_TESTING", "") == "1"
# Under pytest-xdist each worker keeps its own files (task queue, exports, audit checkpoints,
# clinical files and the SQLite test database) in a directory of its own.
_TEST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "") if TESTING else ""
if _TEST_WORKER:
    VAR_DIR = VAR_DIR / _TEST_WORKER
# "production": served over HTTPS to the outside; checked at the end of this file.
PRODUCTION = os.environ.get("BONTRACK_ENV", "local") == "production"
BONTRACK_HTTPS = PRODUCTION or os.environ.get("BONTRACK_HTTPS", "") == "1"


def _secret_key() -> str:
    key = os.environ.get("SECRET_KEY", "")
    key_file = VAR_DIR / "secret_key"
    if not key and key_file.exists():
        key = key_file.read_text(encoding="utf-8").strip()
    if not key and TESTING:
        import secrets

        key = secrets.token_urlsafe(50)  # a throwaway key per test run, never written anywhere
    if not key:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set and var/secret_key does not exist: run `make run` once, "
            "or set SECRET_KEY"
        )
    return key


SECRET_KEY = _secret_key()


def _credentials_key() -> tuple[str, str]:
    """The Fernet key of second-factor secrets (security/credentials.py) and where it came from.
    None found is not an error here: the first secret to encrypt or decrypt says what to set,
    and production refuses to start (security/production.py)."""
    key = os.environ.get("BONTRACK_CREDENTIALS_KEY", "").strip()
    if key:
        return key, "environment"
    key_file = VAR_DIR / "credentials_key"
    if key_file.exists():
        key = key_file.read_text(encoding="utf-8").strip()
        if key:
            return key, "file"
    if TESTING:
        import base64
        import secrets

        # A throwaway key per test run, never written anywhere (the form of Fernet.generate_key).
        return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii"), "throwaway"
    return "", ""


# The current key encrypts; older keys, comma-separated, still decrypt after a rotation until
# `manage.py reencrypt_credentials` has run. Never in the database or its backups.
BONTRACK_CREDENTIALS_KEY, BONTRACK_CREDENTIALS_KEY_SOURCE = _credentials_key()
BONTRACK_CREDENTIALS_KEY_FALLBACKS = [
    k.strip()
    for k in os.environ.get("BONTRACK_CREDENTIALS_KEY_FALLBACKS", "").split(",")
    if k.strip()
]


def _audit_key() -> tuple[str, str]:
    """The HMAC key of the audit trail and the security log (audit/keys.py) and where it came
    from: never the database, so that whoever edits the tables cannot re-key them."""
    key = os.environ.get("BONTRACK_AUDIT_KEY", "").strip()
    if key:
        return key, "environment"
    key_file = VAR_DIR / "audit_key"
    if key_file.exists():
        key = key_file.read_text(encoding="utf-8").strip()
        if key:
            return key, "file"
    if TESTING:
        import secrets

        return secrets.token_urlsafe(32), "throwaway"  # per test run, never written anywhere
    return "", ""


# The current key signs new entries and checkpoints; older keys, comma-separated, still verify
# what they signed after a rotation. Never in the database or its backups.
BONTRACK_AUDIT_KEY, BONTRACK_AUDIT_KEY_SOURCE = _audit_key()
BONTRACK_AUDIT_KEY_FALLBACKS = [
    k.strip() for k in os.environ.get("BONTRACK_AUDIT_KEY_FALLBACKS", "").split(",") if k.strip()
]
# The append-only file of signed checkpoints of every chain's head (`bontrack audit checkpoint`).
BONTRACK_AUDIT_CHECKPOINTS = Path(
    os.environ.get("BONTRACK_AUDIT_CHECKPOINTS", "") or VAR_DIR / "audit_checkpoints.jsonl"
)
ALLOWED_HOSTS = [
    h for h in os.environ.get("BONTRACK_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h
]
if TESTING:
    ALLOWED_HOSTS.append("testserver")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # Serves the API docs' Swagger UI from the installed package, never from a CDN.
    "ninja",
    # htmx request details (request.htmx) and htmx itself as a static file, for the pages.
    "django_htmx",
    "bontrack.accounts",
    "bontrack.audit",
    "bontrack.patients",
    "bontrack.inventory",
    "bontrack.treatments",
    "bontrack.outcomes",
    "bontrack.charting",
    "bontrack.interop",
    "bontrack.billing",
    "bontrack.invoicing",
    # The pages, the sign-in and second-factor ones included: listed before allauth, so that its
    # templates (account/, allauth/, mfa/) override allauth's.
    "bontrack.web",
    # Sign-in policy, sessions, break-glass, audit reports.
    "bontrack.security",
    # Sign-in with a second factor: TOTP with recovery codes, WebAuthn security keys (mfa), and
    # the list of one's sessions (usersessions).
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
    # Lockout after repeated failed sign-ins, per account and per address.
    "axes",
    # Content-Security-Policy with per-request nonces (its checks catch an outdated config).
    "csp",
    # Background tasks (bulk $export); `manage.py run_huey` is the consumer.
    "huey.contrib.djhuey",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Below WhiteNoise: every response the app renders is Cache-Control: no-store.
    "bontrack.security.middleware.NoStoreMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "bontrack.security.middleware.SessionLifetimeMiddleware",
    "bontrack.security.middleware.SecondFactorRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "bontrack.api.middleware.ApiErrorShapeMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "bontrack.urls"
WSGI_APPLICATION = "bontrack.wsgi.application"

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
                "csp.context_processors.nonce",
            ]
        },
    }
]


def _database() -> dict[str, object]:
    url = os.environ.get("DATABASE_URL", "")
    # Persistent connections are worth 1.8x on reads and 3.4x on writes with SQLite (DESIGN 4).
    config: dict[str, object] = dict(
        dj_database_url.parse(url, conn_max_age=600)
        if url
        else {"ENGINE": "django.db.backends.sqlite3", "NAME": str(VAR_DIR / "bontrack.sqlite3")}
    )
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # SQLite ignores select_for_update(): IMMEDIATE transactions serialise writers instead,
        # WAL lets readers run beside them, and the busy timeout waits instead of failing.
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
        config["CONN_MAX_AGE"] = 600
        # A file-based test database, so that a separate server or consumer process sees it.
        config["TEST"] = {"NAME": str(VAR_DIR / "test-bontrack.sqlite3")}
    return config


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "bontrack.accounts.passwords.MaximumLengthValidator", "OPTIONS": {"max_length": 128}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    # 43,940 breached passwords of 12 characters or more, bundled (accounts/passwords.py).
    {"NAME": "bontrack.accounts.passwords.BreachedPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
]
# Argon2id for new passwords; a hash of another kind, or of other Argon2 parameters, is re-made
# with these at the next sign-in with the password.
PASSWORD_HASHERS = [
    "bontrack.accounts.hashers.HostArgon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]


def _argon2() -> tuple[Argon2Parameters, str]:
    """Argon2id's time cost, memory cost and parallelism for this host: the environment's
    BONTRACK_ARGON2_*, else what `manage.py calibrate_argon2` wrote to var/argon2.json, else
    OWASP's floor (accounts/argon2_parameters.py). Start-up refuses anything under that floor."""
    try:
        return load_parameters(VAR_DIR, os.environ)
    except Argon2ParameterError as error:
        raise ImproperlyConfigured(str(error)) from error


BONTRACK_ARGON2, BONTRACK_ARGON2_SOURCE = _argon2()

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Production: hashed names cached for a year, gzip and Brotli copies made once at build time.
    # Elsewhere the files are copied as they are: compressing some 900 of them took minutes of a
    # first start.
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
    # Clinical photos and signed consent forms: local files outside any public URL (served only
    # by views that check access and audit); any storage backend of Django's API may replace it.
    "clinical": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(VAR_DIR / "clinical-files"), "base_url": "/nowhere/"},
    },
}
if TESTING:
    # Tests create many users: a fast hasher there, the slow default everywhere else.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}

SESSION_COOKIE_HTTPONLY = True
# Idle sessions end: each request renews the cookie, which expires after this many idle minutes.
SESSION_COOKIE_AGE = int(os.environ.get("BONTRACK_IDLE_MINUTES", "30")) * 60
SESSION_SAVE_EVERY_REQUEST = True
# However active, a session ends this many hours after sign-in (security/middleware.py).
BONTRACK_SESSION_HOURS = float(os.environ.get("BONTRACK_SESSION_HOURS", "12"))
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True  # the pages put the token in forms and htmx headers, never read it
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if BONTRACK_HTTPS:
    # Cookies only over HTTPS, with the __Host- prefix (no Domain, Path=/: no sibling host can
    # set or read them); HSTS for a year, subdomains included, eligible for preload lists.
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SESSION_COOKIE_NAME = "__Host-bontrack-session"
    CSRF_COOKIE_NAME = "__Host-bontrack-csrf"
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = 31_536_000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    if os.environ.get("BONTRACK_PROXY_SSL_HEADER", "") == "1":
        # Behind a TLS-terminating proxy that sets X-Forwarded-Proto (and strips the client's).
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Reverse proxies in front of the app that append to X-Forwarded-For (core/addresses.py).
BONTRACK_TRUSTED_PROXIES = int(os.environ.get("BONTRACK_TRUSTED_PROXIES", "0"))

# Content-Security-Policy (django-csp 4): scripts and styles from the app itself or carrying the
# request's nonce; no inline script, no eval, nothing from another origin, no framing. No inline
# style either: without a style-src-attr directive, style="" attributes fall under style-src,
# which refuses them. Templates use the stylesheet's classes instead, and scripts set styles
# through the CSSOM, which the policy does not govern.
from csp.constants import NONCE, NONE, SELF  # noqa: E402

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}

# django-allauth: sign-in by user name, no self sign-up, no e-mail (accounts/adapter.py).
AUTHENTICATION_BACKENDS = [
    # First: refuses any sign-in of a locked-out account or address (django-axes).
    "axes.backends.AxesStandaloneBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
ACCOUNT_ADAPTER = "bontrack.accounts.adapter.AccountAdapter"
ACCOUNT_FORMS = {"login": "bontrack.accounts.forms.SignInForm"}
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_LOGOUT_REDIRECT_URL = "/login/"
ACCOUNT_REAUTHENTICATION_TIMEOUT = 300
# Failed passwords and second-factor codes: at most 10 per user in 10 minutes (60 an hour, under
# ASVS 2.2.1's 100), 30 a minute per address; django-axes locks out on top of it.
ACCOUNT_RATE_LIMITS = {"login_failed": "30/m/ip,10/10m/key"}
ALLAUTH_TRUSTED_PROXY_COUNT = BONTRACK_TRUSTED_PROXIES
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
# TOTP secrets and recovery-code seeds are stored encrypted (security/credentials.py).
MFA_ADAPTER = "bontrack.security.mfa_adapter.MFAAdapter"
MFA_TOTP_ISSUER = "bontrack"
MFA_TOTP_TOLERANCE = 1  # a code of the previous or next 30 s (clock drift), each used once
# WebAuthn needs a secure origin: production is HTTPS; http://localhost counts for `make run`.
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = not BONTRACK_HTTPS
MFA_PASSKEY_LOGIN_ENABLED = False
# Second factors are required of prescribers and clinic admins (and of everyone in a clinic that
# asks for it): security/policy.py. The test suite turns this off outside its `mfa` tests.
BONTRACK_MFA_ENFORCED = os.environ.get("BONTRACK_MFA_ENFORCED", "1") == "1"
# Minutes a restricted chart stays open after break-glass (security/services.py).
BONTRACK_BREAK_GLASS_MINUTES = int(os.environ.get("BONTRACK_BREAK_GLASS_MINUTES", "60"))

# django-axes: 10 failed sign-ins lock the account (from anywhere) and the address (for any
# account) for 30 minutes: at most 20 tries an hour on one account (ASVS 2.2.1 allows 100).
AXES_FAILURE_LIMIT = int(os.environ.get("BONTRACK_LOCKOUT_FAILURES", "10"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("BONTRACK_LOCKOUT_MINUTES", "30")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "bontrack.web.lockout.locked_out_response"
AXES_CLIENT_IP_CALLABLE = "bontrack.core.addresses.client_ip"
AXES_USERNAME_CALLABLE = "bontrack.web.lockout.username_of"
AXES_VERBOSE = False


def _cache() -> dict[str, object]:
    """Shared by every worker process: second-factor codes are used once, rate limits hold."""
    if TESTING:
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    redis_url = os.environ.get("REDIS_URL", "")
    if redis_url:
        return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}
    return {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(VAR_DIR / "cache"),
    }


CACHES = {"default": _cache()}

# Reminders: the console backend prints them unless an SMTP host is given (tests use locmem).
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if os.environ.get("BONTRACK_EMAIL_HOST")
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_HOST = os.environ.get("BONTRACK_EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("BONTRACK_EMAIL_PORT", "587"))
EMAIL_HOST_USER = os.environ.get("BONTRACK_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("BONTRACK_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = os.environ.get("BONTRACK_EMAIL_TLS", "1") == "1"
EMAIL_TIMEOUT = 20
# Reminders come from the clinic's own address for patients (Clinic.contact_email), or from this
# server-wide sender with the clinic's address as Reply-To; never from an address nobody reads.
BONTRACK_EMAIL_FROM = os.environ.get("BONTRACK_EMAIL_FROM", "")
DEFAULT_FROM_EMAIL = BONTRACK_EMAIL_FROM or "webmaster@localhost"
# Uploads above this go to a temporary file rather than memory (photos are checked for size).
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}


def _huey() -> dict[str, object]:
    """huey with its SQLite storage (nothing else to run), or Redis when REDIS_URL is set. Tasks
    run in the consumer (`manage.py run_huey`, started by `make run`), never in the request:
    immediate mode is only for unit tests of a task's body, which set it themselves."""
    redis_url = os.environ.get("REDIS_URL", "")
    consumer = {"workers": 2, "worker_type": "thread"}
    if redis_url:
        return {
            "huey_class": "huey.RedisHuey",
            "name": "bontrack",
            "url": redis_url,
            "immediate": False,
            "consumer": consumer,
        }
    queue = os.environ.get(
        "BONTRACK_TASK_QUEUE", str(VAR_DIR / ("test-tasks.sqlite3" if TESTING else "tasks.sqlite3"))
    )
    return {
        "huey_class": "huey.SqliteHuey",
        "name": "bontrack",
        "filename": queue,
        "immediate": False,
        "consumer": consumer,
    }


HUEY = _huey()
# Bulk $export files: <dir>/<job id>/<Type>.ndjson, served only to the client that asked.
EXPORT_DIR = Path(os.environ.get("BONTRACK_EXPORT_DIR", VAR_DIR / "exports"))
# Hours a finished export's files are kept before a periodic task deletes them.
EXPORT_RETENTION_HOURS = int(os.environ.get("BONTRACK_EXPORT_RETENTION_HOURS", "24"))
# Minutes an export may go without its task reporting (a worker that is down) before it fails on
# its own, so that it never holds the clinic's one export slot.
EXPORT_TIMEOUT_MINUTES = int(os.environ.get("BONTRACK_EXPORT_TIMEOUT_MINUTES", "60"))
# The FHIR API's public base: bontrack's own code systems, extensions and search parameters are
# published under it (/fhir/CodeSystem/..., /fhir/StructureDefinition/...), their canonical URLs.
FHIR_BASE_URL = os.environ.get("BONTRACK_FHIR_BASE_URL", "http://127.0.0.1:8000/fhir").rstrip("/")

# WhiteNoise expects the static root to exist even before collectstatic has run.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)

# Start-up refuses an unsafe production configuration (security/production.py).
if PRODUCTION:
    from bontrack.security.production import production_problems

    _problems = production_problems(globals())
    if _problems:
        raise ImproperlyConfigured(
            "unsafe production configuration (BONTRACK_ENV=production):\n- "
            + "\n- ".join(_problems)
        )
