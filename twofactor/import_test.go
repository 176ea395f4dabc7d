package twofactor

import (
	"context"
	"encoding/base32"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestImportedDevice checks what an importer relies on: a secret sealed with SealSecret
// verifies like an enrolled one, and codes hashed with HashBackupCode (django-otp's static
// tokens, of any length, possibly all digits) are single-use backup codes.
func TestImportedDevice(t *testing.T) {
	m, st, clk, u := setup(t)
	ctx := context.Background()
	secret := []byte("0123456789abcdef0123456789abcdef01234567") // 40 bytes, django-otp's longest key
	sealed, err := m.SealSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.SealSecret(nil); err == nil {
		t.Error("an empty secret was sealed")
	}
	u.TOTPSecret, u.TOTPEnabled = sealed, true
	if err := st.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	tokens := []string{"lr64nl2t", "Ab-Cd 9", "123456", "98765432"}
	var hashes []string
	for _, tok := range tokens {
		h := m.HashBackupCode(tok)
		if h == "" {
			t.Fatalf("HashBackupCode(%q) refused", tok)
		}
		hashes = append(hashes, h)
	}
	for _, bad := range []string{"", " - ", strings.Repeat("x", maxBackupLen+1)} {
		if h := m.HashBackupCode(bad); h != "" {
			t.Errorf("HashBackupCode(%q) = %q, want refused", bad, h)
		}
	}
	if err := st.ReplaceBackupCodes(ctx, u.ID, hashes); err != nil {
		t.Fatal(err)
	}
	b32 := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret)
	if method, err := m.Verify(ctx, u, codeAt(t, b32, clk.Now())); err != nil || method != MethodTOTP {
		t.Fatalf("TOTP with the sealed secret: %v %v", method, err)
	}
	typed := []string{"LR64-NL2T", "abcd9", "123456", "98765432"}
	for i, code := range typed {
		clk.Add(time.Minute) // past any throttle
		if method, err := m.Verify(ctx, u, code); err != nil || method != MethodBackup {
			t.Errorf("static token %q typed as %q: %v %v", tokens[i], code, method, err)
		}
		clk.Add(time.Minute)
		if _, err := m.Verify(ctx, u, code); !errors.Is(err, ErrInvalidCode) {
			t.Errorf("static token %q accepted twice: %v", code, err)
		}
	}
}
