package twofactor

import (
	"context"
	"encoding/base32"
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"

	"github.com/rampart-go/rampart/internal/corpora"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/memory"
)

type otpVectors struct {
	HOTP struct {
		SecretASCII string `json:"secret_ascii"`
		Cases       []struct {
			Counter uint64 `json:"counter"`
			HOTP    string `json:"hotp"`
		} `json:"cases"`
	} `json:"hotp_rfc4226"`
	TOTP struct {
		Step  uint `json:"step_seconds"`
		Seeds map[string]struct {
			ASCII string `json:"ascii"`
		} `json:"seeds"`
		Cases []map[string]any `json:"cases"`
	} `json:"totp_rfc6238"`
}

func loadVectors(t *testing.T) otpVectors {
	t.Helper()
	raw, err := os.ReadFile(corpora.File(t, "vectors/otp-kdf-vectors.json"))
	if err != nil {
		t.Fatalf("reading RFC vectors (shared corpora are part of the test fixtures): %v", err)
	}
	var v otpVectors
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func b32(s string) string {
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte(s))
}

// TestRFC4226 checks the HOTP primitive verifyTOTP builds on against RFC 4226 Appendix D.
func TestRFC4226(t *testing.T) {
	v := loadVectors(t)
	if len(v.HOTP.Cases) != 10 {
		t.Fatalf("want 10 RFC 4226 cases, got %d", len(v.HOTP.Cases))
	}
	for _, c := range v.HOTP.Cases {
		got, err := hotp.GenerateCodeCustom(b32(v.HOTP.SecretASCII), c.Counter, hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil || got != c.HOTP {
			t.Errorf("counter %d: got %q (%v), want %q", c.Counter, got, err, c.HOTP)
		}
	}
}

// TestRFC6238 checks TOTP for every hash and time in RFC 6238 Appendix B (8 digits, errata 2866 seeds).
func TestRFC6238(t *testing.T) {
	v := loadVectors(t)
	algs := map[string]otp.Algorithm{"SHA1": otp.AlgorithmSHA1, "SHA256": otp.AlgorithmSHA256, "SHA512": otp.AlgorithmSHA512}
	n := 0
	for _, c := range v.TOTP.Cases {
		unix := int64(c["unix"].(float64))
		for name, alg := range algs {
			want := c[name].(string)
			got, err := totp.GenerateCodeCustom(b32(v.TOTP.Seeds[name].ASCII), time.Unix(unix, 0).UTC(),
				totp.ValidateOpts{Period: v.TOTP.Step, Digits: otp.DigitsEight, Algorithm: alg})
			if err != nil || got != want {
				t.Errorf("%s at %d: got %q (%v), want %q", name, unix, got, err, want)
			}
			n++
		}
	}
	if n != 18 {
		t.Fatalf("want 18 RFC 6238 checks, ran %d", n)
	}
}

// rfcSeed is the SHA-1 secret of RFC 4226 Appendix D and RFC 6238 Appendix B.
const rfcSeed = "12345678901234567890"

// rfcUser is a user enrolled with the RFC seed, sealed by m as Begin would seal it; each call
// gets its own ID so that replay protection of one check does not affect another.
func rfcUser(t *testing.T, m *Manager, id string) store.User {
	t.Helper()
	sealed, err := m.sealSecret([]byte(rfcSeed))
	if err != nil {
		t.Fatal(err)
	}
	return store.User{ID: id, Username: id, IsActive: true, TOTPEnabled: true, TOTPSecret: sealed}
}

// The published vectors, through rampart's own Verify (sealed secret, clock, step arithmetic,
// skew window, digit count), not only through the OTP library: RFC 4226 Appendix D codes are
// TOTP codes at time counter×30, and a 6-digit TOTP code is the last six digits of RFC 6238's
// 8-digit SHA-1 values (the truncation is modulo 10^digits). Embedded so that they run even
// without the shared corpora; cross-checked against the corpus file when it is there.
func TestRFCVectorsThroughVerify(t *testing.T) {
	hotpCodes := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	totpSHA1 := []struct {
		unix int64
		code string
	}{{59, "94287082"}, {1111111109, "07081804"}, {1111111111, "14050471"}, {1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"}}
	if os.Getenv("RAMPART_CORPORA") != "" || os.Getenv("RAMPART_REQUIRE_CORPORA") != "" {
		v := loadVectors(t)
		for i, c := range v.HOTP.Cases {
			if i >= len(hotpCodes) || c.HOTP != hotpCodes[c.Counter] {
				t.Fatalf("embedded RFC 4226 table differs from the corpus at counter %d", c.Counter)
			}
		}
		for i, c := range v.TOTP.Cases {
			if int64(c["unix"].(float64)) != totpSHA1[i].unix || c["SHA1"].(string) != totpSHA1[i].code {
				t.Fatalf("embedded RFC 6238 table differs from the corpus at %v", c["unix"])
			}
		}
	}
	ctx := context.Background()
	var now time.Time
	// Throttling is off here: these checks are about which codes match, and a refused code
	// would otherwise delay the next check.
	m, err := New(memory.New(), Options{Keys: [][]byte{key}, Now: func() time.Time { return now }, ThrottleFactor: -1})
	if err != nil {
		t.Fatal(err)
	}
	exact, err := New(memory.New(), Options{Keys: [][]byte{key}, Now: func() time.Time { return now }, ThrottleFactor: -1, Skew: -1})
	if err != nil {
		t.Fatal(err)
	}
	type check struct {
		name string
		at   int64 // Unix seconds
		code string
		want error
	}
	var checks []check
	for c, code := range hotpCodes {
		at := int64(c) * 30
		checks = append(checks,
			check{"RFC 4226 counter " + strconv.Itoa(c) + " at its step", at + 29, code, nil},
			check{"RFC 4226 counter " + strconv.Itoa(c) + " one step late", at + 30, code, nil},
			check{"RFC 4226 counter " + strconv.Itoa(c) + " two steps late", at + 60, code, ErrInvalidCode})
		if c >= 1 {
			checks = append(checks, check{"RFC 4226 counter " + strconv.Itoa(c) + " one step early", at - 1, code, nil})
		}
		if c >= 2 {
			checks = append(checks, check{"RFC 4226 counter " + strconv.Itoa(c) + " two steps early", at - 31, code, ErrInvalidCode})
		}
	}
	for _, v := range totpSHA1 {
		checks = append(checks, check{"RFC 6238 SHA-1 at " + strconv.FormatInt(v.unix, 10), v.unix, v.code[2:], nil})
	}
	for i, c := range checks {
		now = time.Unix(c.at, 0).UTC()
		method, err := m.Verify(ctx, rfcUser(t, m, "u"+strconv.Itoa(i)), c.code)
		if !errors.Is(err, c.want) || (err == nil) != (c.want == nil) || (err == nil && method != MethodTOTP) {
			t.Errorf("%s: Verify(%s) = %q, %v; want %v", c.name, c.code, method, err, c.want)
		}
	}
	// The very first step, at Unix time 0, is a step like any other.
	now = time.Unix(0, 0).UTC()
	if _, err := m.Verify(ctx, rfcUser(t, m, "epoch"), hotpCodes[0]); err != nil {
		t.Errorf("RFC 4226 counter 0 at Unix time 0: %v", err)
	}
	// Skew 0: only the code of the current step.
	for i, c := range []check{
		{"exact step", 59, "287082", nil},
		{"previous step", 89, "287082", ErrInvalidCode},
		{"next step", 29, "287082", ErrInvalidCode},
	} {
		now = time.Unix(c.at, 0).UTC()
		if _, err := exact.Verify(ctx, rfcUser(t, exact, "x"+strconv.Itoa(i)), c.code); !errors.Is(err, c.want) || (err == nil) != (c.want == nil) {
			t.Errorf("skew 0, %s: %v, want %v", c.name, err, c.want)
		}
	}
	// The 8-digit form of a valid code is not a 6-digit code.
	now = time.Unix(59, 0).UTC()
	if _, err := m.Verify(ctx, rfcUser(t, m, "eight"), "94287082"); !errors.Is(err, ErrInvalidCode) {
		t.Errorf("8-digit RFC 6238 value accepted as a code: %v", err)
	}
}
