// Package djangotest runs real Python and Django from tests, so that rampart's Django
// interoperability (password hashes, CSRF cookies and tokens, signed values) is checked
// against the code it claims to match rather than against a copy of it.
//
// A test asks for a Python interpreter that can import the modules it needs. Without one
// the test is skipped with the Debian packages to install — except in CI (the test
// services' variables, RAMPART_TEST_POSTGRES_URL, are set), where it fails: .ci/run installs
// python3-django, python3-argon2 and python3-bcrypt, so a missing module there is a broken
// CI, not an optional check. RAMPART_TEST_PYTHON names the interpreter to use; otherwise
// "python3" on PATH and then /usr/bin/python3 (Debian's, which the python3-* packages serve
// even when another python3 comes first on PATH) are tried.
package djangotest

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// Required reports whether the interoperability tests must run rather than skip (in CI).
func Required() bool { return os.Getenv("RAMPART_TEST_POSTGRES_URL") != "" }

var cache sync.Map // modules (joined) -> interpreter path ("" when none)

// Python returns an interpreter that imports every module named (for example "django",
// "argon2", "bcrypt"), or skips the test (fails it in CI).
func Python(t testing.TB, modules ...string) string {
	t.Helper()
	key := strings.Join(modules, ",")
	if v, ok := cache.Load(key); ok {
		return found(t, v.(string), modules)
	}
	var candidates []string
	if p := os.Getenv("RAMPART_TEST_PYTHON"); p != "" {
		candidates = []string{p}
	} else {
		candidates = []string{"python3", "/usr/bin/python3"}
	}
	path := ""
	for _, c := range candidates {
		p, err := exec.LookPath(c)
		if err != nil {
			continue
		}
		script := "import " + strings.Join(append([]string{"sys"}, modules...), ", ")
		if exec.Command(p, "-c", script).Run() == nil {
			path = p
			break
		}
	}
	cache.Store(key, path)
	return found(t, path, modules)
}

func found(t testing.TB, path string, modules []string) string {
	t.Helper()
	if path != "" {
		return path
	}
	msg := "no python3 that imports " + strings.Join(modules, ", ") +
		" (apt-get install python3-django python3-argon2 python3-bcrypt, or set RAMPART_TEST_PYTHON)"
	if Required() {
		t.Fatal("Django interoperability test cannot run in CI: " + msg)
	}
	t.Skip("Django interoperability test skipped: " + msg)
	return ""
}

// Run runs script with python, in a fresh temporary directory, with input encoded as JSON
// on its standard input, and decodes the JSON the script prints into output. A failing
// script fails the test with its standard error.
func Run(t testing.TB, python, script string, input, output any) {
	t.Helper()
	in, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, "-W", "ignore", "-c", script)
	cmd.Dir = t.TempDir()
	cmd.Stdin = bytes.NewReader(in)
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "PYTHONHASHSEED=0")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), output); err != nil {
		t.Fatalf("python output: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
}

// Settings is a Python prologue that configures a minimal Django (settings.configure with
// SECRET_KEY taken from the input's "secret_key") and calls django.setup(). Scripts start
// with it, then read the input from the variable IN.
const Settings = `
import json, sys
IN = json.load(sys.stdin)
import django
from django.conf import settings
settings.configure(
    SECRET_KEY=IN.get("secret_key", "x" * 50),
    DEBUG=False,
    ALLOWED_HOSTS=["*"],
    USE_TZ=True,
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth"],
    DATABASES={},
    PASSWORD_HASHERS=IN.get("hashers", ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]),
    ROOT_URLCONF=__name__,
    MIDDLEWARE=IN.get("middleware", []),
    CSRF_COOKIE_NAME=IN.get("csrf_cookie_name", "csrftoken"),
    CSRF_HEADER_NAME=IN.get("csrf_header_name", "HTTP_X_CSRFTOKEN"),
)
django.setup()
urlpatterns = []
`
