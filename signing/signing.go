// Package signing signs short strings and JSON values with HMAC-SHA256 so that they can make a
// round trip through an untrusted client (cookies, URLs, hidden fields) and come back unaltered.
//
// The wire format is Django's (django.core.signing): "value:signature" where the signature is the
// unpadded URL-safe base64 of HMAC-SHA256 keyed with SHA-256(salt + "signer" + secret). A Signer
// built with the same secret and salt therefore reads and writes Django-signed values, which eases
// migrating an application. Two things differ, on purpose:
//
//   - A TimestampSigner derives its key from a salt that is domain-separated from the plain
//     Signer's (salt + NUL + "timestamp"; plain salts may not contain NUL), so a plain signature over "v:ts" can never be replayed as
//     a timestamped one with a forged age. In Django both share a key when given the same salt.
//   - Composite salts must be built with Namespace, which length-prefixes every part, so that
//     ("ab","c") and ("a","bc") differ (Django's CVE-2026-6873 came from concatenating them).
//
// Key rotation follows Django's SECRET_KEY_FALLBACKS: values are signed with the current key and
// verified against the current key and then every fallback, in order.
//
// # Sharing signed values with a Django site
//
// A Signer with Django's SECRET_KEY as Key and DjangoSignerSalt as Salt signs and verifies
// exactly what Django's django.core.signing.Signer() does with its defaults (salt, ":"
// separator, SHA-256), so a value one side signs the other accepts, e.g. while a Django site
// and a Go one share a domain during a migration. A Django Signer(salt="x") matches Salt "x";
// SECRET_KEY_FALLBACKS are Fallbacks. Django's TimestampSigner, signing.dumps and signed
// cookies do not match rampart's TimestampSigner, whose keys are domain-separated on purpose
// (above): verify such values on the Django side, or re-issue them.
package signing

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"hash"
	"strconv"
	"strings"
	"sync"
)

// ErrBadSignature reports that a signed value was malformed, truncated, tampered with, or signed
// with a key that is neither the current key nor a fallback.
var ErrBadSignature = errors.New("signing: bad signature")

// ErrExpired reports a correctly signed timestamped value that is older than the allowed age.
// It wraps ErrBadSignature, so callers that only care about validity can test for that alone.
var ErrExpired = &expiredError{}

type expiredError struct{}

func (*expiredError) Error() string        { return "signing: signature expired" }
func (*expiredError) Is(target error) bool { return target == ErrBadSignature }

// ErrNoKey is returned by the constructors when no current key is given: signing with an empty
// key would make every signature forgeable.
var ErrNoKey = errors.New("signing: empty secret key")

// DefaultSalt is the salt used when Options.Salt is empty. Every distinct use of signing in an
// application should have its own salt (see Namespace), so that a value signed for one purpose
// is rejected everywhere else.
const DefaultSalt = "rampart.signing"

// DjangoSignerSalt is the salt of Django's django.core.signing.Signer when none is given (its
// module and class name). Use it as Options.Salt, with Django's SECRET_KEY as Key, to read and
// write values a Django site signs with Signer(); see the package documentation. It is a
// public, well-known salt: give it to no other use of the key.
const DjangoSignerSalt = "django.core.signing.Signer"

// Options configure a Signer or TimestampSigner. Only Key is required.
type Options struct {
	// Key is the current secret; it signs and verifies.
	Key string
	// Fallbacks are previous secrets, used to verify only, so that rotating Key does not
	// invalidate values already handed out. Remove them after the longest value lifetime.
	Fallbacks []string
	// Salt separates uses of the same key. Empty means DefaultSalt. Build it with Namespace
	// when it is made of several parts. DjangoSignerSalt matches Django's Signer().
	Salt string
	// Sep separates value and signature. Empty means ":". It must not be made only of
	// URL-safe base64 characters (A-Za-z0-9-_=), or it could appear inside a signature.
	Sep string
}

// Signer signs and verifies strings. It is safe for concurrent use. Build it with New.
type Signer struct {
	sep  string
	keys []*hmacPool // keys[0] signs; all verify
}

// hmacPool reuses HMAC states for one derived key: hmac.New costs two allocations and a key
// schedule per call, which dominates the cost of signing a short value.
type hmacPool struct {
	pool sync.Pool
}

func newHMACPool(derived []byte) *hmacPool {
	p := &hmacPool{}
	p.pool.New = func() any { return hmac.New(sha256.New, derived) }
	return p
}

// sum appends HMAC(parts...) to dst.
func (p *hmacPool) sum(dst []byte, parts ...string) []byte {
	h := p.pool.Get().(hash.Hash)
	h.Reset()
	for _, s := range parts {
		_, _ = h.Write([]byte(s))
	}
	dst = h.Sum(dst)
	p.pool.Put(h)
	return dst
}

// deriveKey is Django's salted_hmac key derivation: H(keySalt + secret).
func deriveKey(newHash func() hash.Hash, keySalt, secret string) []byte {
	h := newHash()
	_, _ = h.Write([]byte(keySalt))
	_, _ = h.Write([]byte(secret))
	return h.Sum(nil)
}

// saltedHMAC is Django's salted_hmac(key_salt, value, secret, algorithm), kept generic over the
// hash so that tests can check it against Django's SHA-1 and SHA-512 vectors as well.
func saltedHMAC(newHash func() hash.Hash, keySalt, value, secret string) []byte {
	m := hmac.New(newHash, deriveKey(newHash, keySalt, secret))
	_, _ = m.Write([]byte(value))
	return m.Sum(nil)
}

var b64 = base64.RawURLEncoding

func validSep(sep string) bool {
	if sep == "" {
		return false
	}
	for i := 0; i < len(sep); i++ {
		c := sep[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '=') {
			return true
		}
	}
	return false
}

func newSigner(o Options, saltSuffix string) (*Signer, error) {
	if o.Key == "" {
		return nil, ErrNoKey
	}
	sep := o.Sep
	if sep == "" {
		sep = ":"
	}
	if !validSep(sep) {
		return nil, errors.New("signing: unsafe separator " + strconv.Quote(sep) + " (it must contain a character outside A-Za-z0-9-_=)")
	}
	salt := o.Salt
	if salt == "" {
		salt = DefaultSalt
	}
	// No salt may contain NUL: the timestamp signer's suffix starts with one, which keeps its
	// keys apart from every plain signer's keys whatever salt the application picks.
	if strings.IndexByte(salt, 0) >= 0 {
		return nil, errors.New("signing: salt must not contain NUL")
	}
	keySalt := salt + saltSuffix + "signer"
	s := &Signer{sep: sep}
	s.keys = append(s.keys, newHMACPool(deriveKey(sha256.New, keySalt, o.Key)))
	for i, k := range o.Fallbacks {
		if k == "" {
			return nil, errors.New("signing: fallback key " + strconv.Itoa(i) + " is empty")
		}
		s.keys = append(s.keys, newHMACPool(deriveKey(sha256.New, keySalt, k)))
	}
	return s, nil
}

// New returns a Signer for o. It fails when o.Key is empty or o.Sep is unsafe.
func New(o Options) (*Signer, error) { return newSigner(o, "") }

// Signature returns the signature of value alone, without the value.
func (s *Signer) Signature(value string) string {
	var buf [sha256.Size]byte
	return b64.EncodeToString(s.keys[0].sum(buf[:0], value))
}

// Sign returns value followed by the separator and its signature. value may contain the
// separator: Unsign splits at the last one, and signatures never contain it.
func (s *Signer) Sign(value string) string {
	var buf [sha256.Size]byte
	mac := s.keys[0].sum(buf[:0], value)
	out := make([]byte, 0, len(value)+len(s.sep)+b64.EncodedLen(len(mac)))
	out = append(out, value...)
	out = append(out, s.sep...)
	out = b64.AppendEncode(out, mac)
	return string(out)
}

// Unsign verifies signed and returns the value it carries, or ErrBadSignature.
func (s *Signer) Unsign(signed string) (string, error) {
	i := strings.LastIndex(signed, s.sep)
	if i < 0 {
		return "", ErrBadSignature
	}
	value, sig := signed[:i], signed[i+len(s.sep):]
	if s.verify(value, sig) {
		return value, nil
	}
	return "", ErrBadSignature
}

// verify compares sig with the signature of value under every key. The encoded strings are
// compared rather than decoded bytes, so non-canonical base64 spellings of a valid MAC are
// rejected and a signed value has exactly one valid form.
func (s *Signer) verify(value, sig string) bool {
	if len(sig) != b64.EncodedLen(sha256.Size) {
		return false
	}
	var macBuf [sha256.Size]byte
	var encBuf [43]byte
	ok := 0
	for _, k := range s.keys {
		mac := k.sum(macBuf[:0], value)
		b64.Encode(encBuf[:], mac)
		// Check every key, so timing does not reveal which key matched.
		ok |= subtle.ConstantTimeCompare(encBuf[:], []byte(sig))
	}
	return ok == 1
}

// Namespace builds an unambiguous salt from several parts by length-prefixing each one, so that
// for example the cookie name and purpose ("ab","c") and ("a","bc") give different salts.
func Namespace(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(strconv.Itoa(len(p)))
		b.WriteByte(':')
		b.WriteString(p)
		b.WriteByte(',')
	}
	return b.String()
}
