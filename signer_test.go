package rampart_test

import (
	"errors"
	"testing"
	"time"

	"github.com/rampart-go/rampart"
	"github.com/rampart-go/rampart/settings"
	"github.com/rampart-go/rampart/signing"
	"github.com/rampart-go/rampart/store/memory"
)

// A value the application signs through the stack verifies after the key is rotated (the old
// key now a fallback), not for another purpose, and not once expired; a value signed with a
// key that is no longer listed does not verify.
func TestStackTimestampSigner(t *testing.T) {
	const oldKey = "rampart-test-key-0123456789abcdefghijklmnopqrstuvwxyz"
	const newKey = "rampart-test-key-ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210"
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	stack := func(env map[string]string) *rampart.Stack {
		t.Helper()
		env["RAMPART_ALLOWED_HOSTS"] = "example.com"
		s, err := settings.LoadFrom(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, "")
		if err != nil {
			t.Fatal(err)
		}
		st, err := rampart.New(t.Context(), s, rampart.Options{Store: memory.New()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	purpose := signing.Namespace("app", "invite")
	before := stack(map[string]string{"RAMPART_SECRET_KEY": oldKey})
	sg, err := before.TimestampSigner(purpose, clock)
	if err != nil {
		t.Fatal(err)
	}
	signed := sg.Sign("ann")

	rotated := stack(map[string]string{"RAMPART_SECRET_KEY": newKey, "RAMPART_SECRET_KEY_FALLBACKS": oldKey})
	sg, err = rotated.TimestampSigner(purpose, clock)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := sg.Unsign(signed, time.Hour); err != nil || v != "ann" {
		t.Errorf("after rotation: %q, %v; want ann", v, err)
	}
	now = now.Add(2 * time.Hour)
	if _, err := sg.Unsign(signed, time.Hour); !errors.Is(err, signing.ErrBadSignature) {
		t.Errorf("expired: %v, want ErrBadSignature", err)
	}
	now = now.Add(-2 * time.Hour)
	other, err := rotated.TimestampSigner(signing.Namespace("app", "reset"), clock)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Unsign(signed, time.Hour); !errors.Is(err, signing.ErrBadSignature) {
		t.Errorf("other purpose: %v, want ErrBadSignature", err)
	}
	retired, err := stack(map[string]string{"RAMPART_SECRET_KEY": newKey}).TimestampSigner(purpose, clock)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := retired.Unsign(signed, time.Hour); !errors.Is(err, signing.ErrBadSignature) {
		t.Errorf("old key dropped: %v, want ErrBadSignature", err)
	}
}
