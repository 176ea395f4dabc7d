package settings

import (
	"slices"
	"strings"
	"testing"
)

func TestEmailSettings(t *testing.T) {
	lookup := func(env map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	}
	s, err := Parse(lookup(map[string]string{
		"RAMPART_EMAIL_URL":  "smtp://apikey:relay%2Fsecret@smtp.example.com:587",
		"RAMPART_EMAIL_FROM": "Site <noreply@example.com>",
	}), "")
	if err != nil {
		t.Fatal(err)
	}
	if s.EmailURL.Reveal() != "smtp://apikey:relay%2Fsecret@smtp.example.com:587" || s.EmailFrom != "Site <noreply@example.com>" {
		t.Errorf("EmailURL %q, EmailFrom %q", s.EmailURL.Reveal(), s.EmailFrom)
	}
	if out := s.String(); strings.Contains(out, "relay") || !strings.Contains(out, "RAMPART_EMAIL_URL=smtp://apikey:"+Mask+"@smtp.example.com:587") {
		t.Errorf("the SMTP password is not masked:\n%s", out)
	}
	if v := s.SecretValues(); !slices.Contains(v, "relay/secret") || !slices.Contains(v, s.EmailURL.Reveal()) {
		t.Errorf("SecretValues %q lacks the SMTP URL or its password", v)
	}

	def, err := Parse(lookup(nil), "")
	if err != nil || def.EmailURL != "" || def.EmailFrom != "webmaster@localhost" {
		t.Errorf("defaults: %q %q %v", def.EmailURL, def.EmailFrom, err)
	}

	for env, name := range map[string]string{
		"RAMPART_EMAIL_URL=http://relay.example.com":         "RAMPART_EMAIL_URL",
		"RAMPART_EMAIL_URL=smtp://user:hunter22@relay:587/x": "RAMPART_EMAIL_URL",
		"RAMPART_EMAIL_FROM=not an address":                  "RAMPART_EMAIL_FROM",
		"RAMPART_EMAIL_FROM=a@example.com, b@example.com":    "RAMPART_EMAIL_FROM",
	} {
		k, v, _ := strings.Cut(env, "=")
		_, err := Parse(lookup(map[string]string{k: v}), "")
		if err == nil || !strings.Contains(err.Error(), name) || strings.Contains(err.Error(), "hunter22") {
			t.Errorf("%s: %v; want an error naming %s without the password", env, err, name)
		}
	}

	// Validate judges a Settings built in code the same way.
	bad := def
	bad.EmailURL = "smtps://"
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "RAMPART_EMAIL_URL") {
		t.Errorf("Validate with a bad EmailURL: %v", err)
	}
	bad = def
	bad.EmailURL, bad.EmailFrom = "smtp://relay.example.com", ""
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "RAMPART_EMAIL_FROM") {
		t.Errorf("Validate with an EmailURL and no EmailFrom: %v", err)
	}
}
