"""Settings of the Django side of bench/app.sh: Django 3.2 as Debian ships it, configured the way
rampart's reference app runs in production behind a TLS-terminating proxy on loopback.

Everything comes from the environment the driver (bench/cmd/appbench) sets: BENCH_DJANGO_SECRET,
BENCH_DJANGO_DB (SQLite file), BENCH_DJANGO_HOST (the Host the requests carry).
"""
import os
from datetime import timedelta

BASE_DIR = os.path.dirname(os.path.abspath(__file__))

SECRET_KEY = os.environ["BENCH_DJANGO_SECRET"]
DEBUG = False
ALLOWED_HOSTS = [os.environ.get("BENCH_DJANGO_HOST", "127.0.0.1")]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "axes",
    "benchsite",
]

# The order Django's and axes' documentation give; AxesMiddleware last.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# argon2id first, at rampart's cost (auth.DefaultArgon2*: m=19456 KiB, t=2, p=1).
PASSWORD_HASHERS = [
    "benchsite.hashers.RampartCostArgon2PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]

ROOT_URLCONF = "benchsite.urls"
WSGI_APPLICATION = "benchsite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [os.path.join(BASE_DIR, "templates")],
        "APP_DIRS": False,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csrf",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["BENCH_DJANGO_DB"],
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

# Sessions in the database (Django's default engine), flash messages in the session.
SESSION_ENGINE = "django.contrib.sessions.backends.db"
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# Behind a TLS-terminating proxy on loopback, as rampart's RAMPART_TRUSTED_PROXIES=127.0.0.1/32.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = True
SECURE_HSTS_SECONDS = 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SECURE = True
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"

LOGIN_URL = "/accounts/login"
LOGIN_REDIRECT_URL = "/"

# Lockout as rampart's default: 5 failures per (username, client IP) pair, 15 minutes, 429.
AXES_FAILURE_LIMIT = 5
AXES_LOCK_OUT_BY_COMBINATION_USER_AND_IP = True
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False
# The client's address from the trusted proxy's X-Forwarded-For, as rampart reads it.
AXES_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")

USE_TZ = True
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
