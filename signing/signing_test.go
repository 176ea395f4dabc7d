package signing

import (
	"bytes"
	"compress/zlib"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/json"
	"errors"
	"hash"
	"strings"
	"testing"
	"time"
)

func mustNew(t testing.TB, o Options) *Signer {
	t.Helper()
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Django tests/signing/tests.py vectors (django.md §4.2).
func TestDjangoVectors(t *testing.T) {
	for _, sep := range []string{":", "/", "*sep*", ","} {
		s := mustNew(t, Options{Key: "predictable-secret", Salt: "django.core.signing.Signer", Sep: sep})
		want := "foo" + sep + "jZQoX_FtSO70jX9HLRGg2A_2s4kdDBxz1QoO_OpEQb0"
		if got := s.Sign("foo"); got != want {
			t.Errorf("sep %q: Sign = %q, want %q", sep, got, want)
		}
		if v, err := s.Unsign(want); err != nil || v != "foo" {
			t.Errorf("sep %q: Unsign = %q, %v", sep, v, err)
		}
	}
	// Non-ASCII key (b"\xe7").
	s := mustNew(t, Options{Key: "\xe7", Salt: "django.core.signing.Signer"})
	if got, want := s.Sign("foo"), "foo:EE4qGC5MEKyQG5msxYA0sBohAxLC0BJf8uRhemh0BGU"; got != want {
		t.Errorf("non-ASCII key: %q, want %q", got, want)
	}
}

// The salted_hmac primitive against Django's vectors for other algorithms.
func TestSaltedHMACVectors(t *testing.T) {
	tests := []struct {
		name                   string
		h                      func() hash.Hash
		keySalt, value, secret string
		want                   string
	}{
		{"sha256", sha256.New, "django.core.signing.Signersigner", "foo", "predictable-secret", "jZQoX_FtSO70jX9HLRGg2A_2s4kdDBxz1QoO_OpEQb0"},
		{"sha512", sha512.New, "django.core.signing.Signersigner", "hello", "predictable-secret", "Usf3uVQOZ9m6uPfVonKR-EBXjPe7bjMbp3_Fq8MfsptgkkM1ojidN0BxYaT5HAEN1VzO9_jVu7R-VkqknHYNvw"},
		{"sha1", sha1.New, "somesaltsigner", "xyz", "secret", "zzdO_8rk-NGnm8jNasXRTF2P5kY"},
	}
	for _, tc := range tests {
		if got := b64.EncodeToString(saltedHMAC(tc.h, tc.keySalt, tc.value, tc.secret)); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestRoundTripAndSeparatorInValue(t *testing.T) {
	s := mustNew(t, Options{Key: "k1"})
	for _, v := range []string{"", "a", "a:b:c", ":", "::::", "ünïcødé", "x\x00y", strings.Repeat("z", 5000)} {
		got, err := s.Unsign(s.Sign(v))
		if err != nil || got != v {
			t.Errorf("round trip %q: got %q, %v", v, got, err)
		}
	}
}

func TestTampering(t *testing.T) {
	s := mustNew(t, Options{Key: "predictable-secret"})
	signed := s.Sign("hello:world")
	i := strings.LastIndex(signed, ":")
	cases := map[string]string{
		"upper":          strings.ToUpper(signed),
		"appended":       signed + "x",
		"first replaced": "j" + signed[1:],
		"sep removed":    signed[:i] + signed[i+1:],
		"truncated":      signed[:len(signed)-1],
		"empty":          "",
		"only sig":       signed[i:],
		"value changed":  "hello:world2" + signed[i:],
		"no sep":         "abc",
		"padded sig":     signed + "=",
	}
	for name, in := range cases {
		if _, err := s.Unsign(in); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: err = %v, want ErrBadSignature", name, err)
		}
	}
	// Non-canonical base64: flipping the unused low bits of the last character gives a string
	// that decodes to the same MAC under a lax decoder; it must still be refused.
	last := signed[len(signed)-1]
	alt := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", last) ^ 1
	mutated := signed[:len(signed)-1] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[alt])
	if _, err := s.Unsign(mutated); err == nil {
		t.Error("non-canonical signature accepted")
	}
}

func TestSaltsSeparate(t *testing.T) {
	a := mustNew(t, Options{Key: "k", Salt: "a"})
	b := mustNew(t, Options{Key: "k", Salt: "b"})
	if _, err := b.Unsign(a.Sign("v")); err == nil {
		t.Fatal("value signed with salt a verified with salt b")
	}
	// Namespace is injective where concatenation is not (CVE-2026-6873).
	if Namespace("ab", "c") == Namespace("a", "bc") {
		t.Fatal("Namespace collides")
	}
	n1 := mustNew(t, Options{Key: "k", Salt: Namespace("ab", "c")})
	n2 := mustNew(t, Options{Key: "k", Salt: Namespace("a", "bc")})
	if _, err := n2.Unsign(n1.Sign("v")); err == nil {
		t.Fatal("namespaced salts verified each other")
	}
}

func TestKeyRotation(t *testing.T) {
	old := mustNew(t, Options{Key: "oldsecret", Salt: "s"})
	cur := mustNew(t, Options{Key: "newsecret", Fallbacks: []string{"older", "oldsecret"}, Salt: "s"})
	if v, err := cur.Unsign(old.Sign("x")); err != nil || v != "x" {
		t.Fatalf("fallback not accepted: %q %v", v, err)
	}
	// Signing uses the newest key: a signer with only the new key verifies it, the old one does not.
	onlyNew := mustNew(t, Options{Key: "newsecret", Salt: "s"})
	signed := cur.Sign("y")
	if _, err := onlyNew.Unsign(signed); err != nil {
		t.Fatalf("not signed with current key: %v", err)
	}
	if _, err := old.Unsign(signed); err == nil {
		t.Fatal("signed with a fallback key")
	}
	// A signer without fallbacks refuses a value signed with a retired key.
	if _, err := onlyNew.Unsign(old.Sign("x")); err == nil {
		t.Fatal("retired key accepted")
	}
	// Django vector: sha1 variant aside, a fallback verifies under the same salt and separator.
	if _, err := New(Options{Key: "k", Fallbacks: []string{""}}); err == nil {
		t.Fatal("empty fallback accepted")
	}
}

func TestOptionsValidation(t *testing.T) {
	bad := []Options{
		{},
		{Key: "k", Sep: "-"},
		{Key: "k", Sep: "abc"},
		{Key: "k", Sep: "="},
		{Key: "k", Salt: "a\x00timestamp"},
	}
	for _, o := range bad {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
	if _, err := New(Options{}); !errors.Is(err, ErrNoKey) {
		t.Errorf("empty key: %v", err)
	}
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestTimestampSigner(t *testing.T) {
	// Django's TestTimestampSigner: signed at 123456789, checked at 123456800.
	c := &clock{time.Unix(123456789, 0)}
	ts, err := NewTimestamp(Options{Key: "predictable-secret"}, c.now)
	if err != nil {
		t.Fatal(err)
	}
	signed := ts.Sign("hello")
	// Rampart's wire format, fixed so that it cannot change unnoticed (computed independently with
	// Python hmac/hashlib: salted_hmac("rampart.signing\x00timestampsigner", "hello:8M0kX", key)).
	if want := "hello:8M0kX:LrVEBOuE7hhJi1pGzzVEnhUONVlrl-MvlkkZe29mvJE"; signed != want {
		t.Fatalf("Sign = %q, want %q", signed, want)
	}
	c.t = time.Unix(123456800, 0)
	for _, tc := range []struct {
		maxAge time.Duration
		err    error
	}{
		{12 * time.Second, nil},
		{11 * time.Second, nil},
		{10 * time.Second, ErrExpired},
		{0, ErrExpired},
		{-time.Second, ErrExpired},
	} {
		v, err := ts.Unsign(signed, tc.maxAge)
		if !errors.Is(err, tc.err) || (err == nil && v != "hello") {
			t.Errorf("maxAge %v: %q, %v; want err %v", tc.maxAge, v, err, tc.err)
		}
	}
	if _, err := ts.Unsign(signed, 10*time.Second); !errors.Is(err, ErrBadSignature) {
		t.Error("ErrExpired does not match ErrBadSignature")
	}
	v, at, err := ts.UnsignTime(signed, time.Minute)
	if err != nil || v != "hello" || !at.Equal(time.Unix(123456789, 0)) {
		t.Errorf("UnsignTime = %q %v %v", v, at, err)
	}
}

// A plain signature over "value:timestamp" must not pass as a timestamped one (domain separation).
func TestTimestampDomainSeparation(t *testing.T) {
	c := &clock{time.Unix(1_800_000_000, 0)}
	plain := mustNew(t, Options{Key: "k", Salt: "x"})
	ts, _ := NewTimestamp(Options{Key: "k", Salt: "x"}, c.now)
	forged := plain.Sign("admin:" + encodeBase62(c.t.Unix()+1e6))
	if _, err := ts.Unsign(forged, time.Hour); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("plain signature accepted as timestamped: %v", err)
	}
	if _, err := plain.Unsign(ts.Sign("v")); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("timestamped value accepted by plain signer: %v", err)
	}
}

func TestTimestampBadStamp(t *testing.T) {
	c := &clock{time.Unix(1_800_000_000, 0)}
	o := Options{Key: "k"}
	ts, _ := NewTimestamp(o, c.now)
	inner, _ := newSigner(o, "\x00timestamp")
	for _, stamp := range []string{"", "-", "0A", "-0", "!!", "zzzzzzzzzzz", "a b"} {
		if _, err := ts.Unsign(inner.Sign("v:"+stamp), time.Hour); !errors.Is(err, ErrBadSignature) {
			t.Errorf("stamp %q: %v", stamp, err)
		}
	}
	if _, err := ts.Unsign(inner.Sign("nostamp"), time.Hour); !errors.Is(err, ErrBadSignature) {
		t.Error("missing stamp accepted")
	}
}

func TestBase62(t *testing.T) {
	// Django TestBase62: round trip over a wide range.
	for _, n := range []int64{-10_000_000_000, -1_000_000, -100, -61, -1, 0, 1, 61, 62, 99, 123456789, 10_000_000_000, 839299365868340223} {
		got, ok := decodeBase62(encodeBase62(n))
		if !ok || got != n {
			t.Errorf("%d: %d %v", n, got, ok)
		}
	}
	for i := int64(-100); i < 100; i++ {
		if got, ok := decodeBase62(encodeBase62(i)); !ok || got != i {
			t.Errorf("%d: %d %v", i, got, ok)
		}
	}
	if encodeBase62(123456789) != "8M0kX" {
		t.Error("base62 alphabet differs from Django's")
	}
}

func TestDumpsLoads(t *testing.T) {
	c := &clock{time.Unix(1_800_000_000, 0)}
	ts, _ := NewTimestamp(Options{Key: "k", Salt: "dumps"}, c.now)
	type obj struct {
		A string `json:"a"`
		N []int  `json:"n"`
	}
	in := obj{A: strings.Repeat("compressible ", 50), N: []int{1, 2, 3}}
	for _, compress := range []bool{false, true} {
		s, err := ts.Dumps(in, compress)
		if err != nil {
			t.Fatal(err)
		}
		if compress != strings.HasPrefix(s, ".") {
			t.Errorf("compress=%v but prefix of %q", compress, s[:10])
		}
		var out obj
		if err := ts.Loads(s, time.Minute, &out); err != nil || out.A != in.A || len(out.N) != 3 {
			t.Errorf("compress=%v: %+v %v", compress, out, err)
		}
		var x obj
		if err := ts.Loads("x"+s, time.Minute, &x); !errors.Is(err, ErrBadSignature) {
			t.Errorf("tampered Loads: %v", err)
		}
	}
	// Small values are not compressed when that would not save space.
	s, _ := ts.Dumps(map[string]int{"a": 1}, true)
	if strings.HasPrefix(s, ".") {
		t.Error("compressed a value that did not shrink")
	}
	if _, err := ts.Dumps(func() {}, false); err == nil {
		t.Error("Dumps of a func succeeded")
	}
}

func TestGenerateKey(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		k := GenerateKey()
		if len(k) < 50 || KeyProblem(k) != nil {
			t.Fatalf("weak key %q", k)
		}
		for _, r := range k {
			if !strings.ContainsRune("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", r) {
				t.Fatalf("key %q not URL-safe", k)
			}
		}
		if seen[k] {
			t.Fatal("duplicate key")
		}
		seen[k] = true
	}
}

// Django tests/check_framework CheckSecretKeyTest cases.
func TestKeyProblem(t *testing.T) {
	ok50 := strings.Repeat("abcdefghijklmnopqrstuvwx", 2) + "ab"
	cases := []struct {
		key  string
		want error
	}{
		{ok50, nil},
		{"", ErrKeyEmpty},
		{"django-insecure-" + GenerateKey(), ErrKeyInsecure},
		{"rampart-insecure-" + GenerateKey(), ErrKeyInsecure},
		{ok50[:49], ErrKeyShort},
		{strings.Repeat("abcd", 20), ErrKeyLowUnique},
		{strings.Repeat("é", 25) + "abcd" + strings.Repeat("x", 21), nil},
	}
	for _, tc := range cases {
		if got := KeyProblem(tc.key); got != tc.want {
			t.Errorf("KeyProblem(%q) = %v, want %v", tc.key, got, tc.want)
		}
	}
}

// During a key rotation every key verifies: the current one and each fallback wherever it sits
// in the list. Values signed with the current key keep working once fallbacks are configured.
func TestEveryRotationKeyVerifies(t *testing.T) {
	keys := []string{"current-key", "fallback-1", "fallback-2", "fallback-3"}
	rotating := mustNew(t, Options{Key: keys[0], Fallbacks: keys[1:], Salt: "s"})
	for _, k := range keys {
		signer := mustNew(t, Options{Key: k, Salt: "s"})
		signed := signer.Sign("value")
		if v, err := rotating.Unsign(signed); err != nil || v != "value" {
			t.Errorf("value signed with %q: Unsign = %q, %v; every rotation key must verify", k, v, err)
		}
	}
	// And a key outside the rotation still fails, with any number of fallbacks.
	stranger := mustNew(t, Options{Key: "stranger", Salt: "s"})
	if _, err := rotating.Unsign(stranger.Sign("value")); !errors.Is(err, ErrBadSignature) {
		t.Errorf("value signed with a key outside the rotation: %v", err)
	}
	// The timestamp signer rotates the same way.
	c := &clock{time.Unix(1_800_000_000, 0)}
	tsRotating, err := NewTimestamp(Options{Key: keys[0], Fallbacks: keys[1:]}, c.now)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		ts, _ := NewTimestamp(Options{Key: k}, c.now)
		if v, err := tsRotating.Unsign(ts.Sign("v"), time.Minute); err != nil || v != "v" {
			t.Errorf("timestamped value signed with %q: %q, %v", k, v, err)
		}
	}
}

// zlibPayload returns the signed, compressed Dumps form of raw JSON bytes, built by hand so that
// the test controls the inflated size exactly.
func zlibPayload(t *testing.T, ts *TimestampSigner, raw []byte) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	if _, err := zw.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return ts.Sign("." + b64.EncodeToString(buf.Bytes()))
}

// A signed compressed payload inflates to at most MaxDecompressed bytes: a bomb made with a
// leaked key is refused as a bad signature instead of filling memory, and anything up to the
// bound still loads.
func TestLoadsBoundsDecompression(t *testing.T) {
	c := &clock{time.Unix(1_800_000_000, 0)}
	ts, _ := NewTimestamp(Options{Key: "k", Salt: "dumps"}, c.now)
	jsonString := func(n int) []byte { // a JSON string literal of exactly n bytes
		return []byte(`"` + strings.Repeat("a", n-2) + `"`)
	}
	var s string
	if err := ts.Loads(zlibPayload(t, ts, jsonString(MaxDecompressed)), time.Minute, &s); err != nil || len(s) != MaxDecompressed-2 {
		t.Errorf("payload of exactly MaxDecompressed bytes: len %d, %v", len(s), err)
	}
	for _, n := range []int{MaxDecompressed + 1, MaxDecompressed + 2, 4 << 20} {
		var v string
		if err := ts.Loads(zlibPayload(t, ts, jsonString(n)), time.Minute, &v); !errors.Is(err, ErrBadSignature) {
			t.Errorf("payload inflating to %d bytes: err = %v, want ErrBadSignature", n, err)
		}
	}
	// A signed payload that claims compression but is not zlib, or is truncated zlib.
	var v string
	if err := ts.Loads(ts.Sign(".bm90IHpsaWI"), time.Minute, &v); !errors.Is(err, ErrBadSignature) {
		t.Errorf("not zlib: %v", err)
	}
	full := zlibPayload(t, ts, jsonString(1000))
	inner, _ := ts.s.Unsign(full)
	payload := inner[:strings.LastIndex(inner, ":")]
	if err := ts.Loads(ts.Sign(payload[:len(payload)-8]), time.Minute, &v); !errors.Is(err, ErrBadSignature) {
		t.Errorf("truncated zlib: %v", err)
	}
}

// A separator must hold a character that base64url never produces, or a signature could
// contain it and Unsign would split in the wrong place: every letter and digit is refused, at
// both ends of each range, and the neighbours of those ranges are accepted.
func TestSeparatorAlphabet(t *testing.T) {
	for _, sep := range []string{"a", "z", "A", "Z", "0", "9", "-", "_", "=", "aZ09", "zz"} {
		if _, err := New(Options{Key: "k", Sep: sep}); err == nil {
			t.Errorf("separator %q accepted: base64url signatures may contain it", sep)
		}
	}
	for _, sep := range []string{"/", ":", "@", "[", "`", "{", "a:", ":z", "~", "."} {
		s, err := New(Options{Key: "k", Sep: sep})
		if err != nil {
			t.Errorf("separator %q refused: %v", sep, err)
			continue
		}
		if v, err := s.Unsign(s.Sign("x" + sep + "y")); err != nil || v != "x"+sep+"y" {
			t.Errorf("separator %q: round trip = %q, %v", sep, v, err)
		}
	}
}

// No salt may contain NUL anywhere, the first byte included: the timestamp signer's keys are
// derived from salt + NUL + "timestamp", and a plain signer salted "\x00timestamp" behind an
// empty application salt must not be able to reach them.
func TestSaltNULRefusedAnywhere(t *testing.T) {
	for _, salt := range []string{"\x00", "\x00timestamp", "a\x00", "a\x00b"} {
		if _, err := New(Options{Key: "k", Salt: salt}); err == nil {
			t.Errorf("salt %q accepted", salt)
		}
		if _, err := NewTimestamp(Options{Key: "k", Salt: salt}, nil); err == nil {
			t.Errorf("timestamp salt %q accepted", salt)
		}
	}
}

// The empty string is a value like any other for the timestamp signer, and a maximum age of
// zero is refused even for a value signed this very second (forgetting the age must never
// mean "forever", nor "valid within the same second").
func TestTimestampEdgeValues(t *testing.T) {
	c := &clock{time.Unix(1_800_000_000, 0)}
	ts, _ := NewTimestamp(Options{Key: "k"}, c.now)
	if v, err := ts.Unsign(ts.Sign(""), time.Minute); err != nil || v != "" {
		t.Errorf("empty value: %q, %v", v, err)
	}
	if v, err := ts.Unsign(ts.Sign(":"), time.Minute); err != nil || v != ":" {
		t.Errorf("separator as value: %q, %v", v, err)
	}
	signed := ts.Sign("v")
	for _, age := range []time.Duration{0, -time.Nanosecond} {
		if _, err := ts.Unsign(signed, age); !errors.Is(err, ErrExpired) {
			t.Errorf("maxAge %v at zero elapsed time: %v, want ErrExpired", age, err)
		}
	}
	if v, err := ts.Unsign(signed, time.Nanosecond); err != nil || v != "v" {
		t.Errorf("maxAge 1ns at zero elapsed time: %q, %v", v, err)
	}
	c.t = c.t.Add(time.Second)
	if _, err := ts.Unsign(signed, time.Second); err != nil {
		t.Errorf("age exactly maxAge: %v, want valid", err)
	}
	if _, err := ts.Unsign(signed, time.Second-time.Nanosecond); !errors.Is(err, ErrExpired) {
		t.Errorf("age just over maxAge: %v, want ErrExpired", err)
	}
}

// Dumps compresses only when that saves at least two bytes (Django's rule: the "." marker
// costs one), so its output is byte-compatible with Django's dumps.
func TestDumpsCompressesOnlyWhenItSaves(t *testing.T) {
	zlen := func(b []byte) int {
		var buf bytes.Buffer
		zw := zlib.NewWriter(&buf)
		_, _ = zw.Write(b)
		_ = zw.Close()
		return buf.Len()
	}
	c := &clock{time.Unix(1_800_000_000, 0)}
	ts, _ := NewTimestamp(Options{Key: "k", Salt: "dumps"}, c.now)
	// Find values whose compressed JSON is exactly one and exactly two bytes shorter.
	found := map[int]string{}
	x := uint32(1)
	for n := 8; n < 400 && len(found) < 3; n++ {
		for alphabet := 2; alphabet <= 64; alphabet *= 2 {
			s := make([]byte, n)
			for i := range s {
				x = x*1664525 + 1013904223
				s[i] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"[int(x>>24)%alphabet]
			}
			data, _ := json.Marshal(string(s))
			if saved := len(data) - zlen(data); saved >= 0 && saved <= 2 && found[saved] == "" {
				found[saved] = string(s)
			}
		}
	}
	for saved, compressed := range map[int]bool{0: false, 1: false, 2: true} {
		v, ok := found[saved]
		if !ok {
			t.Fatalf("no value found whose compression saves %d bytes", saved)
		}
		s, err := ts.Dumps(v, true)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(s, ".") != compressed {
			t.Errorf("compression saving %d bytes: compressed = %v, want %v", saved, !compressed, compressed)
		}
		var out string
		if err := ts.Loads(s, time.Minute, &out); err != nil || out != v {
			t.Errorf("round trip of the value saving %d bytes: %v", saved, err)
		}
	}
}

// Django's W009 thresholds are inclusive: exactly 50 characters and exactly 5 distinct ones
// pass, one less of either fails.
func TestKeyProblemBoundaries(t *testing.T) {
	cases := []struct {
		key  string
		want error
	}{
		{strings.Repeat("abcde", 10), nil},
		{strings.Repeat("abcd", 12) + "ab", ErrKeyLowUnique},
		{strings.Repeat("abcde", 10)[:49], ErrKeyShort},
		{strings.Repeat("ü", 46) + "abcd", nil}, // 50 code points, 5 distinct, 96 bytes
		{strings.Repeat("ü", 45) + "abcd", ErrKeyShort},
	}
	for _, c := range cases {
		if got := KeyProblem(c.key); got != c.want {
			t.Errorf("KeyProblem(%q) = %v, want %v", c.key, got, c.want)
		}
	}
}
