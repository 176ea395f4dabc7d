package signing

import (
	"strings"
	"testing"

	"github.com/rampart-go/rampart/internal/djangotest"
)

// Issue 14: with Django's SECRET_KEY and DjangoSignerSalt, Django's Signer() (Debian's
// python3-django 3.2) verifies what rampart signs and rampart verifies what Django signs;
// tampered values and rampart's default salt are refused by both.
func TestDjangoSignerInterop(t *testing.T) {
	py := djangotest.Python(t, "django")
	const key = "django-migration-key-0123456789-abcdefghijklmnopqrstuvwxyz-ünï"
	values := []string{"", "42", "hello", "a:b:c", "ünïcødé ✓", "user@example.com", strings.Repeat("v", 300)}
	s := mustNew(t, Options{Key: key, Salt: DjangoSignerSalt})
	other := mustNew(t, Options{Key: key}) // rampart's default salt
	var fromGo []string
	for _, v := range values {
		fromGo = append(fromGo, s.Sign(v))
	}
	tampered := s.Sign("admin")
	tampered = "root" + tampered[len("admin"):]
	fromGo = append(fromGo, tampered, other.Sign("hello"))

	var out struct {
		Signed   []string  `json:"signed"`
		Unsigned []*string `json:"unsigned"`
	}
	djangotest.Run(t, py, djangotest.Settings+`
from django.core.signing import Signer, BadSignature
signer = Signer()
out = {"signed": [signer.sign(v) for v in IN["values"]], "unsigned": []}
for v in IN["from_go"]:
    try:
        out["unsigned"].append(signer.unsign(v))
    except BadSignature:
        out["unsigned"].append(None)
print(json.dumps(out))
`, map[string]any{"secret_key": key, "values": values, "from_go": fromGo}, &out)

	if len(out.Signed) != len(values) || len(out.Unsigned) != len(fromGo) {
		t.Fatalf("Django returned %d signed, %d unsigned", len(out.Signed), len(out.Unsigned))
	}
	for i, v := range values {
		if out.Signed[i] != fromGo[i] {
			t.Errorf("Django signed %q as %q, rampart as %q", v, out.Signed[i], fromGo[i])
		}
		if got, err := s.Unsign(out.Signed[i]); err != nil || got != v {
			t.Errorf("rampart on Django's %q: %q, %v", out.Signed[i], got, err)
		}
		if out.Unsigned[i] == nil || *out.Unsigned[i] != v {
			t.Errorf("Django on rampart's %q: %v", fromGo[i], out.Unsigned[i])
		}
		if _, err := other.Unsign(out.Signed[i]); err == nil {
			t.Errorf("rampart's default salt accepted Django's %q", out.Signed[i])
		}
	}
	for _, i := range []int{len(values), len(values) + 1} {
		if out.Unsigned[i] != nil {
			t.Errorf("Django accepted %q", fromGo[i])
		}
	}
	if _, err := s.Unsign(tampered); err == nil {
		t.Error("rampart accepted a tampered value")
	}
}
