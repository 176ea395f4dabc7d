package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/cryptotest"
	"testing/synctest"

	"golang.org/x/crypto/bcrypt"
)

var ctx = context.Background()

// fast is a cheap hasher for behaviour tests (costs are not what is being tested).
func fast() *Hasher { return &Hasher{Argon2: Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}} }

func mustVerify(t *testing.T, h *Hasher, pw, enc string) bool {
	t.Helper()
	ok, err := h.Verify(ctx, pw, enc)
	if err != nil {
		t.Fatalf("Verify(%q): %v", enc, err)
	}
	return ok
}

// Django's documented vectors (tests/auth_tests/test_hashers.py).
func TestDjangoVectors(t *testing.T) {
	h := fast()
	tests := []struct {
		pw, enc string
	}{
		{"lètmein", "pbkdf2_sha256$600000$seasalt$OAXyhAQ/4ZDA9V5RMExt3C1OwQdUpLZ99vm1McFlLRA="},
		{"lètmein", "pbkdf2_sha256$1500000$seasalt$P4UiMPVduVWIL/oS1GzH+IofsccjJNM5hUTikBvi5to="},
		{"lètmein", "pbkdf2_sha256$600000$seasalt2$OSllgFdJjYQjb0RfMzrx8u0XYl4Fkt+wKpI1yq4lZlo="},
		{"lètmein", "pbkdf2_sha1$600000$seasalt2$2CLsaL1MZhq6JOG6QOHtVbiopHE="},
		{"secret", "argon2$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q"},
	}
	for i, tc := range tests {
		if !mustVerify(t, h, tc.pw, tc.enc) {
			t.Errorf("%s does not verify", tc.enc)
		}
		// Wrong-password checks on the cheaper vectors only (the 1.5M one costs ~1 s under -race).
		if i != 1 && mustVerify(t, h, tc.pw+"x", tc.enc) {
			t.Errorf("%s verifies a wrong password", tc.enc)
		}
		if !h.NeedsUpgrade(tc.enc) {
			t.Errorf("%s should need an upgrade", tc.enc)
		}
	}
}

type kdfVectors struct {
	SHA1 []struct {
		P, S  string
		C     int
		DKLen int
		DK    string
	} `json:"pbkdf2_hmac_sha1_rfc6070"`
	SHA256 []struct {
		P, S  string
		C     int
		DKLen int
		DK    string
	} `json:"pbkdf2_hmac_sha256_rfc7914_sec11"`
	Argon2id struct {
		Password, Salt string
		Cases          []struct {
			T, P int
			M    int `json:"m_KiB"`
			Tag  string
		}
	} `json:"argon2id_public_api_phc_reference"`
}

// RFC vectors from corpora/vectors/otp-kdf-vectors.json, fed through the stored-hash formats.
func TestRFCVectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/otp-kdf-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v kdfVectors
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	h := fast()
	b64 := func(hexs string, n int) string {
		b, _ := hex.DecodeString(hexs)
		return base64.StdEncoding.EncodeToString(b[:n])
	}
	n := 0
	for _, c := range v.SHA256 {
		// PBKDF2 blocks are independent: the first 32 bytes of a 64-byte key are the 32-byte key.
		enc := fmt.Sprintf("pbkdf2_sha256$%d$%s$%s", c.C, c.S, b64(c.DK, 32))
		if !mustVerify(t, h, c.P, enc) {
			t.Errorf("RFC 7914 %s/%s/%d", c.P, c.S, c.C)
		}
		n++
	}
	for _, c := range v.SHA1 {
		if c.P == "" || c.DKLen < 20 {
			continue // the NUL-byte vector has a 16-byte key; Django's format needs 20
		}
		enc := fmt.Sprintf("pbkdf2_sha1$%d$%s$%s", c.C, c.S, b64(c.DK, 20))
		ok := mustVerify(t, h, c.P, enc)
		if c.C > maxPBKDF2Iter {
			// 16,777,216 iterations is beyond the bound on stored costs: refused, not run.
			if ok {
				t.Errorf("over-bound iteration count verified")
			}
			continue
		}
		if !ok {
			t.Errorf("RFC 6070 %s/%s/%d", c.P, c.S, c.C)
		}
		n++
	}
	salt := base64.RawStdEncoding.EncodeToString([]byte(v.Argon2id.Salt))
	for _, c := range v.Argon2id.Cases {
		tag, _ := hex.DecodeString(c.Tag)
		for _, prefix := range []string{"argon2", ""} { // Django's format and bare PHC
			enc := fmt.Sprintf("%s$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", prefix, c.M, c.T, c.P, salt,
				base64.RawStdEncoding.EncodeToString(tag))
			if !mustVerify(t, h, v.Argon2id.Password, enc) {
				t.Errorf("argon2id vector %s", enc)
			}
			if mustVerify(t, h, "Password", enc) {
				t.Errorf("argon2id vector verifies a wrong password")
			}
			n++
		}
	}
	if n < 15 {
		t.Fatalf("only %d vectors ran", n)
	}
}

// OpenBSD / John the Ripper bcrypt vectors, in the three accepted spellings.
func TestBcryptVectors(t *testing.T) {
	h := fast()
	for _, c := range []struct{ pw, hash string }{
		{"U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"},
		{"U*U*", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.VGOzA784oUp/Z0DY336zx7pLYAy0lwK"},
		{"U*U*U", "$2a$05$XXXXXXXXXXXXXXXXXXXXXOAcXxm9kjPGEMsLznoKqmqw7tc8WCx4a"},
		{"", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.7uG0VCzI2bS7j6ymqJi9CdcdxiRTWNy"},
	} {
		for _, enc := range []string{c.hash, "bcrypt$" + c.hash} {
			if !mustVerify(t, h, c.pw, enc) {
				t.Errorf("%q / %s", c.pw, enc)
			}
			if mustVerify(t, h, c.pw+"!", enc) {
				t.Errorf("wrong password verified for %s", enc)
			}
		}
	}
}

func TestBcryptRoundTrip(t *testing.T) {
	h := fast()
	long := strings.Repeat("a", 72)
	// bcrypt_sha256: Django pre-hashes with hex SHA-256, so bytes after 72 count.
	sum := sha256.Sum256([]byte(long + "1"))
	b, err := bcrypt.GenerateFromPassword([]byte(hex.EncodeToString(sum[:])), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	enc := "bcrypt_sha256$" + string(b)
	if !mustVerify(t, h, long+"1", enc) || mustVerify(t, h, long+"2", enc) {
		t.Error("bcrypt_sha256 must verify exactly, without truncation")
	}
	// Plain bcrypt: only the first 72 bytes ever counted.
	b, _ = bcrypt.GenerateFromPassword([]byte(long), bcrypt.MinCost)
	for _, enc := range []string{"bcrypt$" + string(b), string(b)} {
		if !mustVerify(t, h, long, enc) || !mustVerify(t, h, long+"tail", enc) || mustVerify(t, h, long[:71], enc) {
			t.Errorf("plain bcrypt semantics: %s", enc)
		}
		if !h.NeedsUpgrade(enc) {
			t.Error("bcrypt must be upgraded")
		}
	}
	info, err := ParseHash(enc)
	if err != nil || info.Algorithm != AlgBcryptSHA256 || info.Cost != bcrypt.MinCost {
		t.Errorf("ParseHash: %+v %v", info, err)
	}
}

func TestHashFormatAndUpgrade(t *testing.T) {
	h := &Hasher{} // OWASP defaults
	enc, err := h.Hash(ctx, "lètmein")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "argon2$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("format: %s", enc)
	}
	if !mustVerify(t, h, "lètmein", enc) || mustVerify(t, h, "letmein", enc) {
		t.Error("round trip")
	}
	if h.NeedsUpgrade(enc) {
		t.Error("fresh hash needs upgrade")
	}
	enc2, _ := h.Hash(ctx, "lètmein")
	if enc2 == enc {
		t.Error("salt not random")
	}
	info, err := ParseHash(enc)
	if err != nil || info.Algorithm != AlgArgon2id || info.MemoryKiB != 19456 || info.Iterations != 2 ||
		info.Threads != 1 || info.SaltLen != 16 || info.KeyLen != 32 {
		t.Errorf("info %+v %v", info, err)
	}
	// Parameter changes trigger an upgrade (TestUtilsHashPassArgon2).
	for _, p := range []Argon2Params{{MemoryKiB: 65536}, {Time: 3}, {Threads: 2}} {
		if !(&Hasher{Argon2: p}).NeedsUpgrade(enc) {
			t.Errorf("%+v: no upgrade", p)
		}
	}
	// Blank password hashes and verifies; " " does not match "".
	e, _ := fast().Hash(ctx, "")
	if !mustVerify(t, fast(), "", e) || mustVerify(t, fast(), " ", e) {
		t.Error("blank password")
	}
	if _, err := h.Hash(ctx, strings.Repeat("x", MaxPasswordBytes+1)); !errors.Is(err, ErrPasswordTooLong) {
		t.Errorf("too long: %v", err)
	}
}

func TestUnusable(t *testing.T) {
	u := UnusablePassword()
	if len(u) != 41 || u[0] != '!' || IsUsable(u) || UnusablePassword() == u {
		t.Fatalf("unusable %q", u)
	}
	if _, err := ParseHash(u); !errors.Is(err, ErrUnusable) {
		t.Error(err)
	}
	if fast().NeedsUpgrade(u) {
		t.Error("unusable needs upgrade")
	}
	for _, s := range []string{"lètmein_badencoded", "", "md5$x$y"} {
		if !IsUsable(s) {
			t.Errorf("IsUsable(%q)", s)
		}
	}
	if _, err := ParseHash("lolcat$abc"); !errors.Is(err, ErrUnknownAlgorithm) {
		t.Errorf("lolcat: %v", err)
	}
}

// test_check_password_calls_make_password_to_fake_runtime: an unusable hash, an unknown
// algorithm, garbage, an over-budget or hostile hash and an over-long password each do one
// default-cost hash and never verify.
func TestEqualWorkOnNothingToVerify(t *testing.T) {
	h := fast()
	good, _ := h.Hash(ctx, "pw")
	cases := []struct{ pw, enc string }{
		{"pw", UnusablePassword()},
		{"pw", "lolcat$1$2$3"},
		{"pw", ""},
		{"pw", "argon2$argon2id$v=19$m=1048576,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
		{"pw", "argon2$argon2id$v=19$m=64,t=999,p=1$c29tZXNhbHQ$AAAAAAAA"},
		{"pw", "bcrypt$$2b$31$" + strings.Repeat("a", 53)},
		{"pw", "pbkdf2_sha256$99999999999$salt$AAAA"},
		{strings.Repeat("p", MaxPasswordBytes+1), good},
	}
	for _, c := range cases {
		lim := h.pool()
		before, peak := lim.started.Load(), lim.peakMiB.Load()
		if mustVerify(t, h, c.pw, c.enc) {
			t.Errorf("%.40s verified", c.enc)
		}
		if got := lim.started.Load() - before; got != 1 {
			t.Errorf("%.40s: %d hash computations, want 1 dummy", c.enc, got)
		}
		if lim.peakMiB.Load() > max(peak, 1) {
			t.Errorf("%.40s: dummy used %d MiB", c.enc, lim.peakMiB.Load())
		}
	}
}

func TestConcurrencyBound(t *testing.T) {
	// Budget 4 MiB, 2 MiB per hash: never more than 2 at once, whatever MaxConcurrent allows.
	h := &Hasher{Argon2: Argon2Params{MemoryKiB: 2048, Time: 1}, MemoryBudgetMiB: 4, MaxConcurrent: 16}
	var wg sync.WaitGroup
	for range 24 {
		wg.Go(func() {
			if _, err := h.Hash(ctx, "pw"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	lim := h.pool()
	if p := lim.peakMiB.Load(); p > 4 || p < 2 {
		t.Errorf("peak %d MiB, budget 4", p)
	}
	if lim.inflightMiB.Load() != 0 || lim.inflight.Load() != 0 || lim.held() != 0 || lim.heldMiB() != 0 || lim.queued() != 0 {
		t.Error("slots or memory leaked")
	}
}

func TestPoolRespectsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newPool(1, 4, -1)
		if err := l.acquire(ctx, 3); err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := l.acquire(cctx, 1); !errors.Is(err, context.Canceled) {
			t.Errorf("ended context: %v", err)
		}
		// Memory exhausted but slots free: a queued waiter gives up when its context ends,
		// leaving nothing behind.
		l2 := newPool(4, 4, -1)
		if err := l2.acquire(ctx, 3); err != nil {
			t.Fatal(err)
		}
		tctx, cancel2 := context.WithCancel(ctx)
		done := make(chan error)
		go func() { done <- l2.acquire(tctx, 3) }()
		synctest.Wait()
		if n := l2.queued(); n != 1 {
			t.Fatalf("%d queued, want 1", n)
		}
		cancel2()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("queued: %v", err)
		}
		if l2.queued() != 0 || l2.held() != 1 || l2.heldMiB() != 3 {
			t.Errorf("state after cancel: queued %d, used %d, %d MiB", l2.queued(), l2.held(), l2.heldMiB())
		}
	})
}

func FuzzParseHash(f *testing.F) {
	for _, s := range []string{
		"pbkdf2_sha256$600000$seasalt$OAXyhAQ/4ZDA9V5RMExt3C1OwQdUpLZ99vm1McFlLRA=",
		"argon2$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q",
		"argon2$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$ZVrRXqxlLcWfcXCnMyv0m4RpvhvbnCi7",
		"$argon2id$v=19$m=64,t=1,p=1,p=2$c29tZXNhbHQ$ZVrRXqxlLcWfcXCnMyv0m4RpvhvbnCi7",
		"bcrypt_sha256$$2b$12$" + strings.Repeat("a", 53),
		"$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
		"!abc", "", "$", "argon2$", "pbkdf2_sha1$-1$$",
		"scrypt$1024$emptysaltpw$4$1$ioG7Yh+40oBMG062OleGZDusPpUcMWp6j0jSxT7+2rNcE0+ht1EK2YYxaLs8vmcgBeLnFSntd9t1waKratQ68Q==",
		"md5$seasalt$3f86d0d3d465b7b458c231bf3555c0e3", "sha1$$6d138ca3ae545631b3abd71a4f076ce759c5700b",
		"88a434c88cca4e900f7874cd98123f43", "crypt$$sePpRS0NCPEro", "crypt$x$$", "scrypt$2$s$1$1$",
	} {
		f.Add(s)
	}
	h := fast()
	f.Fuzz(func(t *testing.T, s string) {
		info, err := ParseHash(s)
		if err != nil {
			return
		}
		if info.MemoryKiB > maxArgon2MemoryKiB || info.Iterations > maxPBKDF2Iter || info.Cost > maxBcryptCost ||
			info.Iterations*info.BlockSize*info.Parallelism > maxScryptWork {
			t.Fatalf("over-bound parameters accepted: %+v", info)
		}
		_ = h.NeedsUpgrade(s)
		// Verify the cheap ones end to end (no panic on any parsed value).
		if info.MemoryKiB <= 1024 && info.Iterations <= 1000 && info.Cost <= 5 {
			if _, err := h.Verify(ctx, "pw", s); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func benchVerify(b *testing.B, h *Hasher, enc string) {
	b.ReportAllocs()
	for b.Loop() {
		if ok, _ := h.Verify(ctx, "lètmein", enc); !ok {
			b.Fatal("no match")
		}
	}
}

func BenchmarkHashArgon2idOWASP(b *testing.B) {
	h := &Hasher{}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Hash(ctx, "lètmein"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyArgon2idOWASP(b *testing.B) {
	h := &Hasher{}
	enc, _ := h.Hash(ctx, "lètmein")
	benchVerify(b, h, enc)
}

func BenchmarkVerifyPBKDF2Django600k(b *testing.B) {
	benchVerify(b, &Hasher{}, "pbkdf2_sha256$600000$seasalt$OAXyhAQ/4ZDA9V5RMExt3C1OwQdUpLZ99vm1McFlLRA=")
}

func BenchmarkVerifyBcryptSHA256Cost12(b *testing.B) {
	sum := sha256.Sum256([]byte("lètmein"))
	enc, _ := bcrypt.GenerateFromPassword([]byte(hex.EncodeToString(sum[:])), 12)
	benchVerify(b, &Hasher{}, "bcrypt_sha256$"+string(enc))
}

func BenchmarkVerifyUnusable(b *testing.B) {
	h := &Hasher{}
	u := UnusablePassword()
	b.ReportAllocs()
	for b.Loop() {
		_, _ = h.Verify(ctx, "lètmein", u)
	}
}

func BenchmarkParseHash(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_, _ = ParseHash("argon2$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$ZVrRXqxlLcWfcXCnMyv0m4RpvhvbnCi7ZVrRXqxlLcU")
	}
}

// Stored argon2 parameters are accepted up to the documented bounds and refused one step
// beyond each, so that a hostile or corrupt row cannot make one verification run for minutes
// (t > 64), allocate more than 1 GiB (m), use an impossible lane count (p outside 1..255, or
// m < 8p, which argon2 itself forbids) or verify against a salt or key too short to mean
// anything.
func TestParseHashArgon2Bounds(t *testing.T) {
	salt8 := base64.RawStdEncoding.EncodeToString([]byte("8bytesal"))
	salt7 := base64.RawStdEncoding.EncodeToString([]byte("7bytesa"))
	key4 := base64.RawStdEncoding.EncodeToString([]byte("key4"))
	key3 := base64.RawStdEncoding.EncodeToString([]byte("ke3"))
	enc := func(params, salt, key string) string {
		return "argon2$argon2id$v=19$" + params + "$" + salt + "$" + key
	}
	cases := []struct {
		name, encoded string
		ok            bool
	}{
		{"smallest", enc("m=8,t=1,p=1", salt8, key4), true},
		{"time at bound", enc("m=8,t=64,p=1", salt8, key4), true},
		{"time over bound", enc("m=8,t=65,p=1", salt8, key4), false},
		{"time zero", enc("m=8,t=0,p=1", salt8, key4), false},
		{"memory at bound", enc("m=1048576,t=1,p=1", salt8, key4), true},
		{"memory over bound", enc("m=1048577,t=1,p=1", salt8, key4), false},
		{"threads at bound", enc("m=2040,t=1,p=255", salt8, key4), true},
		{"threads over bound", enc("m=2048,t=1,p=256", salt8, key4), false},
		{"threads zero", enc("m=8,t=1,p=0", salt8, key4), false},
		{"memory at 8 per lane", enc("m=16,t=1,p=2", salt8, key4), true},
		{"memory under 8 per lane", enc("m=15,t=1,p=2", salt8, key4), false},
		{"memory under 8", enc("m=7,t=1,p=1", salt8, key4), false},
		{"salt too short", enc("m=8,t=1,p=1", salt7, key4), false},
		{"key too short", enc("m=8,t=1,p=1", salt8, key3), false},
		{"memory missing", enc("t=1,p=1", salt8, key4), false},
		{"time missing", enc("m=8,p=1", salt8, key4), false},
		{"threads missing", enc("m=8,t=1", salt8, key4), false},
		{"memory twice", enc("m=8,m=8,t=1,p=1", salt8, key4), false},
		{"time twice", enc("m=8,t=1,t=1,p=1", salt8, key4), false},
		{"threads twice", enc("m=8,t=1,p=1,p=1", salt8, key4), false},
		{"unknown parameter", enc("m=8,t=1,p=1,x=1", salt8, key4), false},
		{"no value", enc("m=8,t,p=1", salt8, key4), false},
		{"signed number", enc("m=+8,t=1,p=1", salt8, key4), false},
		{"over 32 bits", enc("m=4294967304,t=1,p=1", salt8, key4), false},
		{"salt not base64", enc("m=8,t=1,p=1", "!!!!!!!!!!!", key4), false},
		{"salt with a bad last character", enc("m=8,t=1,p=1", salt8+"AAAA!", key4), false},
		{"key with a bad last character", enc("m=8,t=1,p=1", salt8, key4+"AAAA!"), false},
		{"key not base64", enc("m=8,t=1,p=1", salt8, "!!!!!!"), false},
		{"padded salt", enc("m=8,t=1,p=1", salt8+"=", key4), false},
		{"version 16", "argon2$argon2id$v=16$m=8,t=1,p=1$" + salt8 + "$" + key4, false},
		{"argon2d", "argon2$argon2d$v=19$m=8,t=1,p=1$" + salt8 + "$" + key4, false},
		{"argon2i", "argon2$argon2i$v=19$m=8,t=1,p=1$" + salt8 + "$" + key4, true},
		{"bare PHC", "$argon2id$v=19$m=8,t=1,p=1$" + salt8 + "$" + key4, true},
	}
	for _, c := range cases {
		info, err := ParseHash(c.encoded)
		if (err == nil) != c.ok {
			t.Errorf("%s: ParseHash(%q) = %+v, %v; want ok=%v", c.name, c.encoded, info, err, c.ok)
		}
		if err != nil && !errors.Is(err, ErrMalformedHash) && !errors.Is(err, ErrUnknownAlgorithm) {
			t.Errorf("%s: error %v is neither ErrMalformedHash nor ErrUnknownAlgorithm", c.name, err)
		}
	}
	info, err := ParseHash(enc("m=2040,t=64,p=255", salt8, key4))
	if err != nil || info.MemoryKiB != 2040 || info.Iterations != 64 || info.Threads != 255 ||
		info.SaltLen != 8 || info.KeyLen != 4 || info.Algorithm != AlgArgon2id {
		t.Errorf("parameters read back: %+v, %v", info, err)
	}
}

// A stored hash with any number of "$"-separated parts, in any supported format, is an error,
// never a panic (ParseHash reads hostile rows).
func TestParseHashWrongPartCounts(t *testing.T) {
	good := map[string]string{
		"argon2":        "argon2$argon2id$v=19$m=8,t=1,p=1$OGJ5dGVzYWw$a2V5NA",
		"phc":           "$argon2id$v=19$m=8,t=1,p=1$OGJ5dGVzYWw$a2V5NA",
		"pbkdf2_sha256": "pbkdf2_sha256$600000$seasalt$OAXyhAQ/4ZDA9V5RMExt3C1OwQdUpLZ99vm1McFlLRA=",
		"pbkdf2_sha1":   "pbkdf2_sha1$1$salt$DGDID5YfDnHzqbUkr2ASBi/gN6Y=",
		"bcrypt":        "bcrypt$$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
		"bcrypt_sha256": "bcrypt_sha256$$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
	}
	for name, g := range good {
		if _, err := ParseHash(g); err != nil {
			t.Fatalf("%s: the well-formed hash %q does not parse: %v", name, g, err)
		}
		parts := strings.Split(g, "$")
		for n := 0; n <= len(parts)+2; n++ {
			var variant []string
			switch {
			case n <= len(parts):
				variant = parts[:n]
			default:
				variant = append(append([]string{}, parts...), make([]string, n-len(parts))...)
			}
			s := strings.Join(variant, "$")
			for _, v := range []string{s, s + "$", s + "$x", strings.TrimSuffix(s, "$")} {
				if v == g {
					continue
				}
				func() {
					defer func() {
						if r := recover(); r != nil {
							t.Errorf("%s: ParseHash(%q) panicked: %v", name, v, r)
						}
					}()
					if _, err := ParseHash(v); err == nil {
						t.Errorf("%s: ParseHash(%q) accepted a hash with %d parts", name, v, strings.Count(v, "$")+1)
					}
				}()
			}
		}
	}
}

// The documented limits hold exactly: a password of MaxPasswordBytes hashes and verifies (one
// byte more does neither), and a stored hash needing exactly the whole memory budget verifies
// while one needing more never does.
func TestHasherLimitsAtTheirEdges(t *testing.T) {
	h := fast()
	longest := strings.Repeat("p", MaxPasswordBytes)
	enc, err := h.Hash(ctx, longest)
	if err != nil {
		t.Fatalf("Hash of MaxPasswordBytes bytes: %v", err)
	}
	if !mustVerify(t, h, longest, enc) {
		t.Error("a password of exactly MaxPasswordBytes does not verify")
	}
	if _, err := h.Hash(ctx, longest+"p"); !errors.Is(err, ErrPasswordTooLong) {
		t.Errorf("Hash of MaxPasswordBytes+1 bytes: %v", err)
	}
	if mustVerify(t, h, longest+"p", enc) {
		t.Error("an over-long password verified")
	}

	budget := &Hasher{Argon2: Argon2Params{MemoryKiB: 1024, Time: 1, Threads: 1}, MemoryBudgetMiB: 1}
	atBudget, err := budget.Hash(ctx, "pw")
	if err != nil {
		t.Fatal(err)
	}
	if !mustVerify(t, budget, "pw", atBudget) {
		t.Error("a hash needing exactly the whole memory budget does not verify")
	}
	over, err := (&Hasher{Argon2: Argon2Params{MemoryKiB: 1025, Time: 1, Threads: 1}}).Hash(ctx, "pw")
	if err != nil {
		t.Fatal(err)
	}
	if mustVerify(t, budget, "pw", over) {
		t.Error("a hash needing more than the memory budget verified")
	}
}

// With MaxConcurrent zero, GOMAXPROCS hash computations may run at once, and the queue
// wait is bounded by DefaultMaxQueueWait.
func TestDefaultConcurrency(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(3))
	h := &Hasher{}
	if got := h.pool().slots; got != 3 {
		t.Errorf("GOMAXPROCS 3: %d concurrent computations, want 3", got)
	}
	if got := h.pool().maxWait; got != DefaultMaxQueueWait {
		t.Errorf("queue wait bound %v, want %v", got, DefaultMaxQueueWait)
	}
}

// Only argon2id hashes with the current costs are kept: argon2i with the very same
// parameters is upgraded on the next login, like every other algorithm.
func TestNeedsUpgradeArgon2i(t *testing.T) {
	h := fast()
	id, _ := h.Hash(ctx, "pw")
	parts := strings.Split(id, "$")
	parts[1] = "argon2i"
	argon2i := strings.Join(parts, "$")
	if info, err := ParseHash(argon2i); err != nil || info.Algorithm != AlgArgon2i {
		t.Fatalf("test setup: %+v, %v", info, err)
	}
	if !h.NeedsUpgrade(argon2i) {
		t.Error("argon2i with the current costs does not need an upgrade")
	}
	if h.NeedsUpgrade(id) {
		t.Error("argon2id with the current costs needs an upgrade")
	}
}

// Stored hashes are read up to maxEncodedLen bytes and refused beyond.
func TestParseHashLengthLimit(t *testing.T) {
	key := base64.StdEncoding.EncodeToString(make([]byte, sha256.Size))
	pad := func(total int) string {
		prefix := "pbkdf2_sha256$1$"
		salt := strings.Repeat("s", total-len(prefix)-1-len(key))
		return prefix + salt + "$" + key
	}
	if s := pad(maxEncodedLen); len(s) != maxEncodedLen {
		t.Fatalf("test setup: %d", len(s))
	} else if _, err := ParseHash(s); err != nil {
		t.Errorf("a hash of exactly maxEncodedLen bytes: %v", err)
	}
	if _, err := ParseHash(pad(maxEncodedLen + 1)); !errors.Is(err, ErrMalformedHash) {
		t.Errorf("a hash of maxEncodedLen+1 bytes: %v", err)
	}
}

// The unusable-password marker is drawn without modulo bias: with a known random stream, it
// is "!" followed by alphabet[b % 62] for exactly the bytes below 248 (= 4 × 62), in order.
// The streams are chosen to hold the byte 248 itself, the first one that must be skipped.
func TestUnusablePasswordRejectionSampling(t *testing.T) {
	expected := func(seed uint64) (string, bool) {
		cryptotest.SetGlobalRandom(t, seed)
		raw := make([]byte, 4096)
		if _, err := rand.Read(raw); err != nil {
			t.Fatal(err)
		}
		want, saw248 := "!", false
		for _, b := range raw {
			if len(want) == 41 {
				break
			}
			if b < 248 {
				want += string(unusableChars[int(b)%62])
			}
			saw248 = saw248 || b == 248
		}
		return want, saw248
	}
	checked := 0
	for seed := uint64(0); seed < 1000 && checked < 3; seed++ {
		want, saw248 := expected(seed)
		if !saw248 {
			continue
		}
		cryptotest.SetGlobalRandom(t, seed)
		if got := UnusablePassword(); got != want {
			t.Errorf("seed %d: UnusablePassword() = %q, rejection sampling gives %q", seed, got, want)
		}
		checked++
	}
	if checked < 3 {
		t.Fatalf("only %d streams holding the byte 248 found", checked)
	}
}

// Stored PBKDF2 hashes: an iteration count from 1 to maxPBKDF2Iter written in plain decimal,
// a non-empty salt and a standard-base64 key of exactly the hash's size.
func TestParseHashPBKDF2Fields(t *testing.T) {
	key32 := base64.StdEncoding.EncodeToString(make([]byte, 32))
	key20 := base64.StdEncoding.EncodeToString(make([]byte, 20))
	cases := []struct {
		encoded string
		ok      bool
	}{
		{"pbkdf2_sha256$1$salt$" + key32, true},
		{"pbkdf2_sha256$10000000$salt$" + key32, true},
		{"pbkdf2_sha256$10000001$salt$" + key32, false},
		{"pbkdf2_sha256$0$salt$" + key32, false},
		{"pbkdf2_sha256$-1$salt$" + key32, false},
		{"pbkdf2_sha256$+5$salt$" + key32, false},
		{"pbkdf2_sha256$x$salt$" + key32, false},
		{"pbkdf2_sha256$1$$" + key32, false},
		{"pbkdf2_sha256$1$salt$" + key20, false},
		{"pbkdf2_sha256$1$salt$" + key32[:len(key32)-1], false},
		{"pbkdf2_sha256$1$salt$!" + key32[1:], false},
		{"pbkdf2_sha1$1$salt$" + key20, true},
		{"pbkdf2_sha1$1$salt$" + key32, false},
	}
	for _, c := range cases {
		info, err := ParseHash(c.encoded)
		if (err == nil) != c.ok {
			t.Errorf("ParseHash(%q) = %+v, %v; want ok=%v", c.encoded, info, err, c.ok)
		}
	}
}

// Stored bcrypt hashes: exactly "$2a$", "$2b$" or "$2y$", a two-digit cost from bcrypt's
// minimum to maxBcryptCost, "$" and 53 characters of bcrypt's base64 alphabet ("./A-Za-z0-9").
func TestParseHashBcryptFields(t *testing.T) {
	body := "CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW" // 53 characters
	good := "$2a$05$" + body
	with := func(i int, c byte) string { b := []byte(good); b[i] = c; return string(b) }
	cases := []struct {
		name, s string
		ok      bool
	}{
		{"2a", good, true},
		{"2b", "$2b$05$" + body, true},
		{"2y", "$2y$05$" + body, true},
		{"2x", "$2x$05$" + body, false},
		{"2c", "$2c$05$" + body, false},
		{"first byte", with(0, 'x'), false},
		{"version digit", with(1, '3'), false},
		{"third separator", with(3, 'x'), false},
		{"cost separator", with(6, 'x'), false},
		{"59 bytes", good[:59], false},
		{"61 bytes", good + "C", false},
		{"cost 4 (bcrypt's minimum)", "$2a$04$" + body, true},
		{"cost 3", "$2a$03$" + body, false},
		{"cost 16", "$2a$16$" + body, true},
		{"cost 17", "$2a$17$" + body, false},
		{"cost not a number", "$2a$x5$" + body, false},
	}
	for _, c := range "./AZaz09" {
		cases = append(cases, struct {
			name, s string
			ok      bool
		}{"body character " + string(c), with(59, byte(c)), true})
	}
	for _, c := range "@[`{:-!$" {
		cases = append(cases, struct {
			name, s string
			ok      bool
		}{"body character " + string(c), with(59, byte(c)), false})
	}
	for _, c := range cases {
		for _, prefix := range []string{"", "bcrypt$", "bcrypt_sha256$"} {
			if prefix == "" && !strings.HasPrefix(c.s, "$2") {
				continue // not recognised as bcrypt at all
			}
			_, err := ParseHash(prefix + c.s)
			if (err == nil) != c.ok {
				t.Errorf("%s (%q%s): %v, want ok=%v", c.name, prefix, c.s, err, c.ok)
			}
		}
	}
}
