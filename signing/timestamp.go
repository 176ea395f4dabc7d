package signing

import (
	"bytes"
	"compress/zlib"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// TimestampSigner signs a value together with the time of signing, so that the value can be
// refused once it is older than a maximum age. It is safe for concurrent use.
type TimestampSigner struct {
	s   *Signer
	now func() time.Time
}

// NewTimestamp returns a TimestampSigner for o. now is the clock (nil means time.Now); tests
// inject a fixed one. Its keys are domain-separated from a plain Signer's with the same salt.
func NewTimestamp(o Options, now func() time.Time) (*TimestampSigner, error) {
	s, err := newSigner(o, "\x00timestamp")
	if err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &TimestampSigner{s: s, now: now}, nil
}

// Sign returns "value:timestamp:signature", the timestamp being base 62 Unix seconds as in Django.
func (t *TimestampSigner) Sign(value string) string {
	return t.s.Sign(value + t.s.sep + encodeBase62(t.now().Unix()))
}

// Unsign verifies signed and returns its value. It returns ErrBadSignature for anything not
// signed by one of the keys and ErrExpired when the value is older than maxAge. A maxAge of
// zero or less is refused (ErrExpired), so that forgetting to pass an age never means "forever".
func (t *TimestampSigner) Unsign(signed string, maxAge time.Duration) (string, error) {
	v, _, err := t.UnsignTime(signed, maxAge)
	return v, err
}

// UnsignTime is Unsign that also returns the time at which the value was signed.
func (t *TimestampSigner) UnsignTime(signed string, maxAge time.Duration) (string, time.Time, error) {
	inner, err := t.s.Unsign(signed)
	if err != nil {
		return "", time.Time{}, err
	}
	i := strings.LastIndex(inner, t.s.sep)
	if i < 0 {
		return "", time.Time{}, ErrBadSignature
	}
	ts, ok := decodeBase62(inner[i+len(t.s.sep):])
	if !ok {
		return "", time.Time{}, ErrBadSignature
	}
	at := time.Unix(ts, 0)
	if maxAge <= 0 || t.now().Sub(at) > maxAge {
		return "", at, ErrExpired
	}
	return inner[:i], at, nil
}

// MaxDecompressed bounds what Loads inflates. Only signed data is ever inflated, so this matters
// only if a key leaks, but a leaked key should not also mean a memory-exhaustion bomb.
const MaxDecompressed = 1 << 20

// Dumps encodes v as compact JSON, optionally zlib-compresses it (only when that saves space,
// marked by a leading "." inside the signed part, as Django does), encodes it as URL-safe base64
// and signs it with the time. The result is safe in URLs and cookies.
func (t *TimestampSigner) Dumps(v any, compress bool) (string, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("signing: %w", err)
	}
	prefix := ""
	if compress {
		var buf bytes.Buffer
		zw := zlib.NewWriter(&buf)
		_, _ = zw.Write(data)
		_ = zw.Close()
		if buf.Len() < len(data)-1 {
			data = buf.Bytes()
			prefix = "."
		}
	}
	return t.Sign(prefix + b64.EncodeToString(data)), nil
}

// Loads verifies s (see Unsign for maxAge) and decodes its JSON into v.
func (t *TimestampSigner) Loads(s string, maxAge time.Duration, v any) error {
	payload, err := t.Unsign(s, maxAge)
	if err != nil {
		return err
	}
	compressed := strings.HasPrefix(payload, ".")
	if compressed {
		payload = payload[1:]
	}
	data, err := b64.DecodeString(payload)
	if err != nil {
		return ErrBadSignature
	}
	if compressed {
		zr, err := zlib.NewReader(bytes.NewReader(data))
		if err != nil {
			return ErrBadSignature
		}
		data, err = io.ReadAll(io.LimitReader(zr, MaxDecompressed+1))
		if err != nil || len(data) > MaxDecompressed {
			return ErrBadSignature
		}
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("signing: payload: %w", err)
	}
	return nil
}

const base62Digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// encodeBase62 is Django's base62 (django.core.signing.b62_encode): a leading "-" for negatives.
func encodeBase62(n int64) string {
	if n == 0 {
		return "0"
	}
	var buf [12]byte
	i := len(buf)
	u := uint64(n)
	if n < 0 {
		u = uint64(-n)
	}
	for u > 0 {
		i--
		buf[i] = base62Digits[u%62]
		u /= 62
	}
	if n < 0 {
		i--
		buf[i] = '-'
	}
	return string(buf[i:])
}

// decodeBase62 parses the canonical base62 form only (no leading zeros, no "-0", no overflow),
// so that every timestamp has exactly one spelling.
func decodeBase62(s string) (int64, bool) {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	if s == "" || len(s) > 10 || (s[0] == '0' && (len(s) > 1 || neg)) {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		d := strings.IndexByte(base62Digits, s[i])
		if d < 0 {
			return 0, false
		}
		n = n*62 + uint64(d) // at most 10 digits: 62^10 < 2^63, so no overflow
	}
	if neg {
		return -int64(n), true
	}
	return int64(n), true
}

// GenerateKey returns a new secret key: 64 URL-safe base64 characters carrying 384 random bits,
// which passes KeyProblem. It is what `rampart genkey` prints.
func GenerateKey() string {
	for {
		var b [48]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (it crashes the program instead)
		k := b64.EncodeToString(b[:])
		if KeyProblem(k) == nil {
			return k
		}
	}
}

// Weak-key problems reported by KeyProblem.
var (
	ErrKeyEmpty     = errors.New("is empty")
	ErrKeyShort     = errors.New("is shorter than 50 characters")
	ErrKeyLowUnique = errors.New("has fewer than 5 distinct characters")
	ErrKeyInsecure  = errors.New("starts with a well-known insecure prefix")
)

// MinKeyLength and MinKeyUnique are Django's security.W009 thresholds.
const (
	MinKeyLength = 50
	MinKeyUnique = 5
)

// insecurePrefixes are prefixes that mark a key generated for development and printed in
// project templates, hence public.
var insecurePrefixes = []string{"django-insecure-", "rampart-insecure-"}

// KeyProblem applies Django's security.W009 rule to key (empty, fewer than 50 characters, fewer
// than 5 distinct characters, or a well-known insecure prefix) and returns the first problem
// found, or nil for an acceptable key. Characters are counted as Unicode code points, as in Django.
func KeyProblem(key string) error {
	if key == "" {
		return ErrKeyEmpty
	}
	for _, p := range insecurePrefixes {
		if strings.HasPrefix(key, p) {
			return ErrKeyInsecure
		}
	}
	if utf8.RuneCountInString(key) < MinKeyLength {
		return ErrKeyShort
	}
	seen := make(map[rune]struct{}, MinKeyUnique)
	for _, r := range key {
		seen[r] = struct{}{}
		if len(seen) >= MinKeyUnique {
			return nil
		}
	}
	return ErrKeyLowUnique
}
