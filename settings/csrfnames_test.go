package settings

import (
	"strings"
	"testing"
)

// RAMPART_CSRF_FIELD_NAME and RAMPART_CSRF_HEADER_NAME: defaults, Django's names, and values
// that would break the rendered field or are not headers.
func TestCSRFNames(t *testing.T) {
	s, err := LoadFrom(envOf(prodEnv()), "")
	if err != nil {
		t.Fatal(err)
	}
	if s.CSRFFieldName != "csrf_token" || s.CSRFHeaderName != "X-CSRF-Token" {
		t.Errorf("defaults %q %q", s.CSRFFieldName, s.CSRFHeaderName)
	}
	env := prodEnv()
	env["RAMPART_CSRF_FIELD_NAME"] = "csrfmiddlewaretoken"
	env["RAMPART_CSRF_HEADER_NAME"] = "X-CSRFToken"
	if s, err = LoadFrom(envOf(env), ""); err != nil || s.CSRFFieldName != "csrfmiddlewaretoken" || s.CSRFHeaderName != "X-CSRFToken" {
		t.Errorf("Django names: %q %q %v", s.CSRFFieldName, s.CSRFHeaderName, err)
	}
	for _, bad := range []struct{ name, value string }{
		{"RAMPART_CSRF_FIELD_NAME", `csrf"><script>`},
		{"RAMPART_CSRF_FIELD_NAME", "csrf token"},
		{"RAMPART_CSRF_HEADER_NAME", "HTTP_X_CSRFTOKEN"},
		{"RAMPART_CSRF_HEADER_NAME", "X CSRF"},
		{"RAMPART_CSRF_HEADER_NAME", "X-CSRF:"},
	} {
		env := prodEnv()
		env[bad.name] = bad.value
		if _, err := LoadFrom(envOf(env), ""); err == nil || !strings.Contains(err.Error(), bad.name) {
			t.Errorf("%s=%q: %v", bad.name, bad.value, err)
		}
	}
}
