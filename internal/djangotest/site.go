package djangotest

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// SiteModules are the Python modules a Django site with django-otp needs.
var SiteModules = []string{"django", "django_otp", "argon2", "bcrypt"}

// SiteUser is one account of a site built by BuildSite, with what a test needs to log in as it.
type SiteUser struct {
	Username string `json:"username"`
	Password string `json:"password"`
	// Hasher is the Django hasher algorithm of the stored hash ("pbkdf2_sha256", "crypt"...).
	Hasher string `json:"hasher"`
	// TOTP is true when the user has a confirmed django-otp TOTP device rampart can import.
	TOTP bool `json:"totp"`
	// StaticTokens are the tokens of the user's confirmed static device, if any.
	StaticTokens []string `json:"static_tokens"`
	// ReplayToken, when set, is a TOTP code django-otp already accepted (so last_t is its step).
	ReplayToken string `json:"replay_token"`
	LastT       int64  `json:"last_t"`
	// AcceptedAt is when django-otp accepted ReplayToken (Unix seconds).
	AcceptedAt int64 `json:"accepted_at"`
}

// Site describes what BuildSite made.
type Site struct {
	Users []SiteUser `json:"users"`
	// Hashers are every hasher algorithm used (one user each, at least).
	Hashers []string `json:"hashers"`
	Groups  int      `json:"groups"`
	// Unconfirmed, OtherDevices and EightDigit count the devices rampart must skip.
	Unconfirmed  int `json:"unconfirmed"`
	OtherDevices int `json:"other_devices"`
	EightDigit   int `json:"eight_digit"`
}

// siteScript configures Django with auth, contenttypes and django-otp's TOTP, static and
// HOTP plugins on the database given in the input, every hasher Django 3.2 ships (crypt when
// the crypt module imports), and then either builds a site ("build") or prints the TOTP codes
// django-otp computes for users' confirmed devices ("tokens").
const siteScript = `
import json, os, sys, time, binascii
IN = json.load(sys.stdin)
import django
from django.conf import settings
H = "django.contrib.auth.hashers."
hashers = [H + n for n in ["PBKDF2PasswordHasher", "PBKDF2SHA1PasswordHasher", "Argon2PasswordHasher",
    "BCryptSHA256PasswordHasher", "BCryptPasswordHasher", "SHA1PasswordHasher", "MD5PasswordHasher",
    "UnsaltedSHA1PasswordHasher", "UnsaltedMD5PasswordHasher"]]
try:
    import crypt  # noqa: F401  (gone in Python 3.13)
    hashers.append(H + "CryptPasswordHasher")
except ImportError:
    pass
settings.configure(
    SECRET_KEY="djangotest-site-" + "x" * 40,
    USE_TZ=True,
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "django_otp",
        "django_otp.plugins.otp_totp", "django_otp.plugins.otp_static", "django_otp.plugins.otp_hotp"],
    DATABASES={"default": IN["db"]},
    PASSWORD_HASHERS=hashers,
    DEFAULT_AUTO_FIELD="django.db.models.AutoField",
)
django.setup()
from django.contrib.auth.hashers import make_password, check_password, get_hashers
from django.contrib.auth.models import User, Group, Permission
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_hotp.models import HOTPDevice

def first_totp(user):
    return TOTPDevice.objects.filter(user=user, confirmed=True, digits=6).order_by("id").first()

# django-otp's token() is an int: codes are shown (and typed) with their leading zeros.
if IN["mode"] == "tokens":
    at = IN.get("at") or time.time()
    out = {}
    for name in IN["usernames"]:
        d = first_totp(User.objects.get(username=name))
        t = TOTP(d.bin_key, d.step, d.t0, d.digits, d.drift)
        t.time = at
        out[name] = {"token": "%0*d" % (d.digits, t.token()), "t": t.t()}
    print(json.dumps(out))
    sys.exit(0)

from django.core.management import call_command
call_command("migrate", verbosity=0, interactive=False)
algs = [h.algorithm for h in get_hashers()]
editors = Group.objects.create(name="editors")
editors.permissions.add(Permission.objects.get(codename="change_user"), Permission.objects.get(codename="view_user"))
mods = Group.objects.create(name="Site moderators")
mods.permissions.add(Permission.objects.get(codename="view_totpdevice"))
users, out = [], {"hashers": algs, "groups": 2, "unconfirmed": 0, "other_devices": 0, "eight_digit": 0}
for i, alg in enumerate(algs):
    pw = "pw-%s-%s" % (alg, binascii.hexlify(os.urandom(6)).decode())
    u = User.objects.create_user("u_" + alg, alg + "@example.com", None)
    u.password = make_password(pw, hasher=alg)
    assert check_password(pw, u.password), alg
    u.is_staff = i % 3 == 0
    u.save()
    (editors if i % 2 == 0 else mods).user_set.add(u)
    users.append({"username": u.username, "password": pw, "hasher": alg, "totp": False, "static_tokens": [],
        "replay_token": "", "last_t": -1, "accepted_at": 0})
pw = "pw-boss-" + binascii.hexlify(os.urandom(6)).decode()
User.objects.create_superuser("Boss", "boss@example.com", pw)
users.append({"username": "Boss", "password": pw, "hasher": algs[0], "totp": False, "static_tokens": [],
    "replay_token": "", "last_t": -1, "accepted_at": 0})
User.objects.get(username="u_md5").user_permissions.add(Permission.objects.get(codename="delete_user"))
by = {x["username"]: x for x in users}

def totp_user(name):
    TOTPDevice.objects.create(user=User.objects.get(username=name), name="phone", confirmed=True)
    by[name]["totp"] = True

for name in ["u_pbkdf2_sha256", "u_argon2", "u_bcrypt_sha256", "u_sha1", "u_unsalted_md5", "Boss"]:
    totp_user(name)
# A TOTP code django-otp accepted: its step is the device's last_t, so rampart must refuse it.
d = first_totp(User.objects.get(username="u_argon2"))
tok = "%06d" % TOTP(d.bin_key, d.step, d.t0, d.digits, d.drift).token()
assert d.verify_token(tok)
d.refresh_from_db()
by["u_argon2"].update(replay_token=tok, last_t=d.last_t, accepted_at=int(time.time()))
# Static tokens beside TOTP.
sd = StaticDevice.objects.create(user=User.objects.get(username="u_pbkdf2_sha256"), name="backup", confirmed=True)
for _ in range(3):
    by["u_pbkdf2_sha256"]["static_tokens"].append(sd.token_set.create(token=StaticToken.random_token()).token)
# What rampart must skip: an unconfirmed TOTP device, an 8-digit one, a HOTP device.
TOTPDevice.objects.create(user=User.objects.get(username="u_md5"), name="pending", confirmed=False)
TOTPDevice.objects.create(user=User.objects.get(username="u_bcrypt"), name="8 digits", confirmed=True, digits=8)
HOTPDevice.objects.create(user=User.objects.get(username="u_pbkdf2_sha1"), name="token", confirmed=True)
out.update(users=users, unconfirmed=1, eight_digit=1, other_devices=1)
print(json.dumps(out))
`

// DatabaseSettings returns Django's DATABASES["default"] for a SQLite file or a PostgreSQL URL.
func DatabaseSettings(t testing.TB, sqlitePath, postgresURL string) map[string]string {
	t.Helper()
	if postgresURL == "" {
		return map[string]string{"ENGINE": "django.db.backends.sqlite3", "NAME": sqlitePath}
	}
	u, err := url.Parse(postgresURL)
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := u.User.Password()
	return map[string]string{"ENGINE": "django.db.backends.postgresql", "NAME": strings.TrimPrefix(u.Path, "/"),
		"USER": u.User.Username(), "PASSWORD": pw, "HOST": u.Hostname(), "PORT": u.Port()}
}

// BuildSite makes a real Django project database with Django itself (migrate, then users of
// every hasher, two groups with permissions, django-otp TOTP devices, one of them with a code
// already accepted, static tokens, and devices rampart must skip) on db (DatabaseSettings).
func BuildSite(t testing.TB, python string, db map[string]string) Site {
	t.Helper()
	var s Site
	Run(t, python, siteScript, map[string]any{"mode": "build", "db": db}, &s)
	return s
}

// Token is a TOTP code django-otp computes, and its time step.
type Token struct {
	Token string `json:"token"`
	T     int64  `json:"t"`
}

// TOTPTokens asks django-otp for the codes of the users' first confirmed 6-digit TOTP devices
// at time at (now when zero).
func TOTPTokens(t testing.TB, python string, db map[string]string, at time.Time, usernames ...string) map[string]Token {
	t.Helper()
	in := map[string]any{"mode": "tokens", "db": db, "usernames": usernames}
	if !at.IsZero() {
		in["at"] = at.Unix()
	}
	out := map[string]Token{}
	Run(t, python, siteScript, in, &out)
	return out
}
