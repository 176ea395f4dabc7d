package csrf

import (
	"crypto/rand"
	"errors"
	"net/http"
	"strings"
	"testing"
	"testing/cryptotest"
)

// Fixtures from Django's tests/csrf_tests/tests.py (django.md §4.1).
const (
	testSecret        = "lcccccccX2kcccccccY2jcccccccssIC"
	maskedTestSecret1 = "1bcdefghij2bcdefghij3bcdefghij4bcdefghij5bcdefghij6bcdefghijABCD"
	maskedTestSecret2 = "2JgchWvM1tpxT2lfz9aydoXW9yT1DN3NdLiejYxOOlzzV4nhBbYqmqZYbAV3V5Bf"
)

func unmaskString(token string) string {
	var b [secretLength]byte
	unmask(&b, token)
	return string(b[:])
}

func TestUnmaskDjangoVectors(t *testing.T) {
	a, b, c := strings.Repeat("a", 32), strings.Repeat("b", 32), strings.Repeat("c", 32)
	tests := []struct{ token, want string }{
		{a + a, a},
		{a + b, b},
		{b + c, b},
		{a + c, c},
		{strings.Repeat("vFioG3XOLyGyGsPRFyB9iYUs341ufzIE", 2), a},
		{maskedTestSecret1, testSecret},
		{maskedTestSecret2, testSecret},
	}
	for _, tt := range tests {
		if got := unmaskString(tt.token); got != tt.want {
			t.Errorf("unmask(%q) = %q, want %q", tt.token, got, tt.want)
		}
	}
}

func TestMaskRoundTripAndFreshness(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		secret := newSecret()
		if !validSecret(secret) {
			t.Fatalf("newSecret() = %q: not 32 alphanumerics", secret)
		}
		tok := maskSecret(secret)
		if len(tok) != tokenLength || checkFormat(tok) != nil {
			t.Fatalf("maskSecret = %q: want 64 alphanumerics", tok)
		}
		if got := unmaskString(tok); got != secret {
			t.Fatalf("round trip: got %q, want %q", got, secret)
		}
		if seen[tok] {
			t.Fatalf("token %q repeated: masking is not fresh", tok)
		}
		seen[tok] = true
	}
	// Same secret, different masks every time (BREACH).
	t1, t2 := maskSecret(testSecret), maskSecret(testSecret)
	if t1 == t2 {
		t.Fatalf("two masks of one secret are equal: %q", t1)
	}
	if !tokenMatches(t1, testSecret) || !tokenMatches(t2, testSecret) {
		t.Fatal("masked tokens do not match their secret")
	}
}

func TestRandomAlnumUsesWholeAlphabet(t *testing.T) {
	var buf [62 * 200]byte
	randomAlnum(buf[:])
	counts := map[byte]int{}
	for _, c := range buf {
		counts[c]++
	}
	if len(counts) != 62 {
		t.Fatalf("drew %d distinct characters, want 62", len(counts))
	}
	for c, n := range counts {
		if alphaIndex[c] == 0xff {
			t.Fatalf("drew %q, outside the alphabet", c)
		}
		if n < 100 || n > 320 { // mean 200; far outside means a biased draw
			t.Errorf("character %q drawn %d times of %d", c, n, len(buf))
		}
	}
}

func TestCheckFormat(t *testing.T) {
	tests := []struct {
		in   string
		want error
	}{
		{strings.Repeat("A", 32), nil},
		{strings.Repeat("A", 64), nil},
		{testSecret, nil},
		{maskedTestSecret1, nil},
		{strings.Repeat("*", 64), ErrInvalidCharacters},
		{strings.Repeat("a", 16), ErrIncorrectLength},
		{"", ErrIncorrectLength},
		{strings.Repeat("a", 31) + "é", ErrIncorrectLength}, // é is 2 bytes: 33 bytes
		{strings.Repeat("a", 30) + "é", ErrInvalidCharacters},
		{strings.Repeat("a", 31) + "-", ErrInvalidCharacters},
		{strings.Repeat("a", 65), ErrIncorrectLength},
		{strings.Repeat("a", 100000), ErrIncorrectLength},
	}
	for _, tt := range tests {
		if got := checkFormat(tt.in); !errors.Is(got, tt.want) && got != tt.want {
			t.Errorf("checkFormat(%.40q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestTokenMatches(t *testing.T) {
	tests := []struct {
		token string
		want  bool
	}{
		{maskedTestSecret1, true},
		{maskedTestSecret2, true},
		{testSecret, true}, // bare secret, as Django accepts
		{strings.Repeat("a", 32), false},
		{strings.Repeat("a", 64), false},
		{maskedTestSecret1[:63] + "E", false},
		{strings.Repeat("a", 16), false}, // wrong length
	}
	for _, tt := range tests {
		if got := tokenMatches(tt.token, testSecret); got != tt.want {
			t.Errorf("tokenMatches(%q) = %v, want %v", tt.token, got, tt.want)
		}
	}
}

func TestCookieValue(t *testing.T) {
	tests := []struct {
		lines []string
		want  string
		ok    bool
	}{
		{nil, "", false},
		{[]string{"csrftoken=abc"}, "abc", true},
		{[]string{"a=1; csrftoken=abc; b=2"}, "abc", true},
		{[]string{"a=1;csrftoken=\"abc\""}, "abc", true},
		{[]string{"xcsrftoken=abc; csrftokenx=def"}, "", false},
		{[]string{"a=1", " csrftoken = abc"}, " abc", true}, // as net/http; the format check rejects the space
		{[]string{"a=1", "csrftoken="}, "", true},
		{[]string{"csrftoken=first; csrftoken=second"}, "first", true},
	}
	for _, tt := range tests {
		got, ok := cookieValue(tt.lines, "csrftoken")
		if got != tt.want || ok != tt.ok {
			t.Errorf("cookieValue(%q) = %q, %v; want %q, %v", tt.lines, got, ok, tt.want, tt.ok)
		}
		// Agreement with net/http's own parser where it finds the cookie.
		r := &http.Request{Header: http.Header{"Cookie": tt.lines}}
		if ck, err := r.Cookie("csrftoken"); err == nil && ck.Value != got {
			t.Errorf("cookieValue(%q) = %q, net/http says %q", tt.lines, got, ck.Value)
		}
	}
}

// Secret characters are drawn without modulo bias: with a known random stream, randomAlnum
// uses exactly the bytes below 248 (= 4 × 62), in order, each as alphabet[b % 62], and skips
// every byte from 248 up. The stream is made deterministic with testing/cryptotest.
func TestRandomAlnumRejectionSampling(t *testing.T) {
	const n = 4096
	for seed := uint64(1); seed <= 3; seed++ {
		cryptotest.SetGlobalRandom(t, seed)
		got := make([]byte, n)
		randomAlnum(got)

		cryptotest.SetGlobalRandom(t, seed) // the same stream again, read raw
		raw := make([]byte, 2*n)
		if _, err := rand.Read(raw); err != nil {
			t.Fatal(err)
		}
		want := make([]byte, 0, n)
		rejected := map[byte]bool{}
		for _, b := range raw {
			if len(want) == n {
				break
			}
			if b >= 248 {
				rejected[b] = true
				continue
			}
			want = append(want, alphabet[b%62])
		}
		if len(rejected) != 8 {
			t.Fatalf("seed %d: the stream holds only %d of the 8 rejected byte values; pick another seed", seed, len(rejected))
		}
		if string(got) != string(want) {
			t.Fatalf("seed %d: randomAlnum differs from rejection sampling below 248", seed)
		}
	}
}
