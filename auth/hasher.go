// Package auth keeps user accounts: password hashing (argon2id, with verification of Django,
// PBKDF2 and bcrypt hashes so an existing user table can be imported), authentication with
// equal work for unknown users, password change, session auth hashes and password-reset tokens.
package auth

import (
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Argon2Params are argon2id cost parameters. Zero fields take the OWASP Password Storage
// Cheat Sheet minimum: m = 19 MiB, t = 2, p = 1.
type Argon2Params struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
}

// Defaults and bounds.
const (
	DefaultArgon2MemoryKiB = 19456
	DefaultArgon2Time      = 2
	DefaultArgon2Threads   = 1
	// DefaultMemoryBudgetMiB bounds the memory all concurrent hashes may use together.
	DefaultMemoryBudgetMiB = 256
	// MaxPasswordBytes is the longest password hashed or verified (password.DefaultMaxLength
	// characters of UTF-8); longer input does dummy work and fails, so it cannot buy more work.
	MaxPasswordBytes = 4096 * 4

	argon2SaltLen = 16
	argon2KeyLen  = 32

	// Bounds on parameters read from stored hashes: a hostile or corrupt row must not make a
	// single verification allocate gigabytes or run for minutes.
	maxEncodedLen      = 1024
	maxArgon2MemoryKiB = 1 << 20 // 1 GiB; the memory budget applies on top
	maxArgon2Time      = 64
	maxPBKDF2Iter      = 10_000_000
	maxBcryptCost      = 16
)

// Algorithm names as they appear in HashInfo.Algorithm.
const (
	AlgArgon2id     = "argon2id"
	AlgArgon2i      = "argon2i"
	AlgPBKDF2SHA256 = "pbkdf2_sha256"
	AlgPBKDF2SHA1   = "pbkdf2_sha1"
	AlgBcryptSHA256 = "bcrypt_sha256"
	AlgBcrypt       = "bcrypt"
)

// Errors from ParseHash and Hash.
var (
	ErrUnusable         = errors.New("auth: unusable password")
	ErrUnknownAlgorithm = errors.New("auth: unknown password hashing algorithm")
	ErrMalformedHash    = errors.New("auth: malformed password hash")
	ErrPasswordTooLong  = errors.New("auth: password too long")
)

// HashInfo describes a stored hash.
type HashInfo struct {
	// Algorithm is one of the Alg* constants.
	Algorithm string
	// Iterations is the PBKDF2 iteration count or the argon2 time cost.
	Iterations int
	// MemoryKiB and Threads are argon2 parameters.
	MemoryKiB uint32
	Threads   uint8
	// Cost is the bcrypt cost.
	Cost int
	// SaltLen and KeyLen are in bytes (0 for bcrypt, whose salt is fixed).
	SaltLen, KeyLen int

	salt, key []byte
	bcrypt    []byte // the "$2b$..." part
}

// Hasher hashes new passwords with argon2id and verifies every supported format. The zero
// value is ready to use with the OWASP parameters; a Hasher must not be copied after first use.
//
// Every hash or verification holds one of MaxConcurrent slots and, for argon2, its memory in
// MiB out of MemoryBudgetMiB, so a login flood queues (waiting respects ctx) instead of
// exhausting RAM: peak hashing memory stays below MemoryBudgetMiB.
type Hasher struct {
	// Argon2 is the cost of new hashes; stored hashes with other costs verify and report
	// NeedsUpgrade.
	Argon2 Argon2Params
	// MemoryBudgetMiB is the memory all concurrent argon2 computations may use; zero means
	// DefaultMemoryBudgetMiB. Stored hashes needing more than the whole budget never verify.
	MemoryBudgetMiB int
	// MaxConcurrent bounds simultaneous hash computations of any kind; zero means
	// 2 x GOMAXPROCS (hashing is CPU-bound; more in flight only adds latency and memory).
	MaxConcurrent int

	once sync.Once
	lim  *limiter
	// done counts computations, including the equal-work ones for unknown users.
	done atomic.Uint64
}

// Computations reports how many password hash computations (argon2, PBKDF2, bcrypt) this
// Hasher has run, including the equal-work ones for unknown users and unusable hashes. It is
// what a lockout test counts: a guess that is refused before hashing never shows here.
func (h *Hasher) Computations() uint64 { return h.done.Load() }

func (h *Hasher) params() Argon2Params {
	p := h.Argon2
	if p.MemoryKiB == 0 {
		p.MemoryKiB = DefaultArgon2MemoryKiB
	}
	if p.Time == 0 {
		p.Time = DefaultArgon2Time
	}
	if p.Threads == 0 {
		p.Threads = DefaultArgon2Threads
	}
	return p
}

func (h *Hasher) limiter() *limiter {
	h.once.Do(func() {
		budget := h.MemoryBudgetMiB
		if budget <= 0 {
			budget = DefaultMemoryBudgetMiB
		}
		slots := h.MaxConcurrent
		if slots <= 0 {
			slots = 2 * runtime.GOMAXPROCS(0)
		}
		h.lim = newLimiter(slots, budget)
	})
	return h.lim
}

func argon2Weight(memKiB uint32) int { return int((memKiB + 1023) / 1024) }

// Hash returns a new argon2id hash of password in Django's format
// (argon2$argon2id$v=19$m=...,t=...,p=...$salt$hash), which Django itself can verify.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if len(password) > MaxPasswordBytes {
		return "", ErrPasswordTooLong
	}
	p := h.params()
	salt := make([]byte, argon2SaltLen)
	rand.Read(salt)
	key, err := h.argon2(ctx, argon2.IDKey, password, salt, p, argon2KeyLen)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("argon2$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", p.MemoryKiB, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

type argon2Func func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte

func (h *Hasher) argon2(ctx context.Context, f argon2Func, password string, salt []byte, p Argon2Params, keyLen int) ([]byte, error) {
	w := argon2Weight(p.MemoryKiB)
	lim := h.limiter()
	if err := lim.acquire(ctx, w); err != nil {
		return nil, err
	}
	defer lim.release(w)
	h.done.Add(1)
	return f([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, uint32(keyLen)), nil
}

// dummy does the work of verifying a default-cost hash, for the paths that have nothing to
// verify (unknown user, unusable or unparsable hash), so they cost the same as a wrong password
// (Django #20760, CVE-2024-39329).
func (h *Hasher) dummy(ctx context.Context, password string) error {
	if len(password) > MaxPasswordBytes {
		password = password[:MaxPasswordBytes]
	}
	_, err := h.argon2(ctx, argon2.IDKey, password, make([]byte, argon2SaltLen), h.params(), argon2KeyLen)
	return err
}

// Verify reports whether password matches encoded. Unusable, unknown, malformed or
// over-budget hashes and over-long passwords report false after the same work as a real
// verification. The error is non-nil only when the work could not be done (ctx ended while
// waiting for a hashing slot); callers must then deny.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	info, err := ParseHash(encoded)
	if err != nil || len(password) > MaxPasswordBytes ||
		(info.MemoryKiB > 0 && argon2Weight(info.MemoryKiB) > h.limiter().budget) {
		return false, h.dummy(ctx, password)
	}
	var got []byte
	switch info.Algorithm {
	case AlgArgon2id, AlgArgon2i:
		f := argon2.IDKey
		if info.Algorithm == AlgArgon2i {
			f = argon2.Key
		}
		got, err = h.argon2(ctx, f, password, info.salt,
			Argon2Params{info.MemoryKiB, uint32(info.Iterations), info.Threads}, len(info.key))
		if err != nil {
			return false, err
		}
	case AlgPBKDF2SHA256, AlgPBKDF2SHA1:
		fn := sha256.New
		if info.Algorithm == AlgPBKDF2SHA1 {
			fn = sha1.New
		}
		if got, err = h.pbkdf2(ctx, fn, password, info); err != nil {
			return false, err
		}
	case AlgBcrypt, AlgBcryptSHA256:
		return h.bcrypt(ctx, password, info)
	}
	return subtle.ConstantTimeCompare(got, info.key) == 1, nil
}

func (h *Hasher) pbkdf2(ctx context.Context, fn func() hash.Hash, password string, info HashInfo) ([]byte, error) {
	lim := h.limiter()
	if err := lim.acquire(ctx, 0); err != nil {
		return nil, err
	}
	defer lim.release(0)
	h.done.Add(1)
	key, err := pbkdf2.Key(fn, password, info.salt, info.Iterations, len(info.key))
	if err != nil {
		// Only FIPS-mode parameter checks fail here; treat as a mismatch.
		return nil, nil
	}
	return key, nil
}

func (h *Hasher) bcrypt(ctx context.Context, password string, info HashInfo) (bool, error) {
	pw := []byte(password)
	if info.Algorithm == AlgBcryptSHA256 {
		// Django's BCryptSHA256PasswordHasher: bcrypt over the hex SHA-256, so no 72-byte cut.
		sum := sha256.Sum256(pw)
		pw = []byte(hex.EncodeToString(sum[:]))
	} else if len(pw) > 72 {
		// Plain bcrypt only ever saw the first 72 bytes; such hashes are upgraded on login.
		pw = pw[:72]
	}
	lim := h.limiter()
	if err := lim.acquire(ctx, 0); err != nil {
		return false, err
	}
	defer lim.release(0)
	h.done.Add(1)
	return bcrypt.CompareHashAndPassword(info.bcrypt, pw) == nil, nil
}

// NeedsUpgrade reports whether encoded should be replaced by a fresh Hash after a successful
// verification: another algorithm, other argon2 costs, or a short salt or key. Unusable
// passwords report false (there is no password to re-hash); unparsable hashes report true.
func (h *Hasher) NeedsUpgrade(encoded string) bool {
	info, err := ParseHash(encoded)
	if errors.Is(err, ErrUnusable) {
		return false
	}
	if err != nil || info.Algorithm != AlgArgon2id {
		return true
	}
	p := h.params()
	return info.MemoryKiB != p.MemoryKiB || uint32(info.Iterations) != p.Time || info.Threads != p.Threads ||
		info.SaltLen < argon2SaltLen || info.KeyLen != argon2KeyLen
}

// IsUsable reports whether encoded may ever verify: false only for "!"-prefixed values, like
// Django's is_password_usable (empty or garbage strings are "usable" but never verify).
func IsUsable(encoded string) bool { return !strings.HasPrefix(encoded, "!") }

const unusableChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// UnusablePassword returns a marker for accounts that cannot log in with a password
// ("!" + 40 random characters, as Django's make_password(None)); random so that two such
// accounts do not share a value an attacker could spot in a leaked table.
func UnusablePassword() string {
	return "!" + randomString(40)
}

func randomString(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = unusableChars[randIntn(len(unusableChars))]
	}
	return string(b)
}

func randIntn(n int) int {
	// Rejection sampling over one byte; n <= 256.
	limit := 256 - 256%n
	var b [1]byte
	for {
		rand.Read(b[:])
		if int(b[0]) < limit {
			return int(b[0]) % n
		}
	}
}

// ParseHash decodes a stored hash. Supported: Django's argon2 (argon2id and argon2i, v=19),
// pbkdf2_sha256, pbkdf2_sha1, bcrypt_sha256 and bcrypt; bare PHC argon2 ("$argon2id$...") and
// bare bcrypt ("$2a$", "$2b$", "$2y$"). It never panics, and it rejects parameters beyond
// sane bounds so that a hostile row cannot make verification arbitrarily expensive.
func ParseHash(encoded string) (HashInfo, error) {
	if strings.HasPrefix(encoded, "!") {
		return HashInfo{}, ErrUnusable
	}
	if len(encoded) > maxEncodedLen {
		return HashInfo{}, ErrMalformedHash
	}
	switch {
	case strings.HasPrefix(encoded, "argon2$"):
		return parseArgon2(strings.TrimPrefix(encoded, "argon2"))
	case strings.HasPrefix(encoded, "$argon2"):
		return parseArgon2(encoded)
	case strings.HasPrefix(encoded, "pbkdf2_sha256$"):
		return parsePBKDF2(AlgPBKDF2SHA256, encoded, sha256.Size)
	case strings.HasPrefix(encoded, "pbkdf2_sha1$"):
		return parsePBKDF2(AlgPBKDF2SHA1, encoded, sha1.Size)
	case strings.HasPrefix(encoded, "bcrypt_sha256$"):
		return parseBcrypt(AlgBcryptSHA256, strings.TrimPrefix(encoded, "bcrypt_sha256$"))
	case strings.HasPrefix(encoded, "bcrypt$"):
		return parseBcrypt(AlgBcrypt, strings.TrimPrefix(encoded, "bcrypt$"))
	case strings.HasPrefix(encoded, "$2"):
		return parseBcrypt(AlgBcrypt, encoded)
	}
	return HashInfo{}, ErrUnknownAlgorithm
}

// parseArgon2 reads a PHC string: $argon2id$v=19$m=M,t=T,p=P$salt$hash.
func parseArgon2(phc string) (HashInfo, error) {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[0] != "" {
		return HashInfo{}, ErrMalformedHash
	}
	var info HashInfo
	switch parts[1] {
	case "argon2id":
		info.Algorithm = AlgArgon2id
	case "argon2i":
		info.Algorithm = AlgArgon2i
	default: // argon2d is not offered by x/crypto and Django never produced it.
		return HashInfo{}, ErrUnknownAlgorithm
	}
	if parts[2] != "v=19" { // x/crypto implements version 0x13 only
		return HashInfo{}, ErrMalformedHash
	}
	var m, t, p uint64
	var seen [3]bool
	for kv := range strings.SplitSeq(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil || strings.HasPrefix(v, "+") {
			return HashInfo{}, ErrMalformedHash
		}
		switch {
		case k == "m" && !seen[0]:
			m, seen[0] = n, true
		case k == "t" && !seen[1]:
			t, seen[1] = n, true
		case k == "p" && !seen[2]:
			p, seen[2] = n, true
		default:
			return HashInfo{}, ErrMalformedHash
		}
	}
	if !seen[0] || !seen[1] || !seen[2] || p < 1 || p > 255 || t < 1 || t > maxArgon2Time ||
		m < 8*p || m > maxArgon2MemoryKiB {
		return HashInfo{}, ErrMalformedHash
	}
	salt, err1 := base64.RawStdEncoding.Strict().DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.Strict().DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) < 4 {
		return HashInfo{}, ErrMalformedHash
	}
	info.Iterations, info.MemoryKiB, info.Threads = int(t), uint32(m), uint8(p)
	info.salt, info.key, info.SaltLen, info.KeyLen = salt, key, len(salt), len(key)
	return info, nil
}

// parsePBKDF2 reads Django's algorithm$iterations$salt$base64(hash).
func parsePBKDF2(alg, encoded string, size int) (HashInfo, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 4 || parts[2] == "" {
		return HashInfo{}, ErrMalformedHash
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < 1 || iter > maxPBKDF2Iter || strings.HasPrefix(parts[1], "+") {
		return HashInfo{}, ErrMalformedHash
	}
	key, err := base64.StdEncoding.Strict().DecodeString(parts[3])
	if err != nil || len(key) != size {
		return HashInfo{}, ErrMalformedHash
	}
	return HashInfo{Algorithm: alg, Iterations: iter, salt: []byte(parts[2]), key: key,
		SaltLen: len(parts[2]), KeyLen: len(key)}, nil
}

// parseBcrypt reads "$2b$CC$<53 chars>" (optionally after Django's "bcrypt$"/"bcrypt_sha256$").
func parseBcrypt(alg, s string) (HashInfo, error) {
	if len(s) != 60 || s[0] != '$' || s[1] != '2' || s[3] != '$' || s[6] != '$' ||
		(s[2] != 'a' && s[2] != 'b' && s[2] != 'y') {
		return HashInfo{}, ErrMalformedHash
	}
	cost, err := strconv.Atoi(s[4:6])
	if err != nil || cost < bcrypt.MinCost || cost > maxBcryptCost {
		return HashInfo{}, ErrMalformedHash
	}
	for i := 7; i < len(s); i++ {
		c := s[i]
		if !(c == '.' || c == '/' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return HashInfo{}, ErrMalformedHash
		}
	}
	return HashInfo{Algorithm: alg, Cost: cost, bcrypt: []byte(s)}, nil
}

// limiter is a weighted semaphore: slots bound concurrent computations, tokens (MiB) bound
// their memory. Hand-written because x/sync is not a dependency and the stdlib has none; one
// acquirer collects tokens at a time (turn), so two waiters can never each hold part of what
// the other needs.
type limiter struct {
	slots  chan struct{}
	turn   chan struct{}
	tokens chan struct{}
	budget int

	// Observed by tests: computations started, in flight, and the peak of in-flight MiB.
	started, inflightMiB, peakMiB atomic.Int64
}

func newLimiter(slots, budgetMiB int) *limiter {
	return &limiter{
		slots:  make(chan struct{}, slots),
		turn:   make(chan struct{}, 1),
		tokens: make(chan struct{}, budgetMiB),
		budget: budgetMiB,
	}
}

func (l *limiter) acquire(ctx context.Context, w int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w = min(w, l.budget)
	select {
	case l.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	if w == 0 {
		l.observe(0)
		return nil
	}
	select {
	case l.turn <- struct{}{}:
	case <-ctx.Done():
		<-l.slots
		return ctx.Err()
	}
	for i := 0; i < w; i++ {
		select {
		case l.tokens <- struct{}{}:
		case <-ctx.Done():
			for ; i > 0; i-- {
				<-l.tokens
			}
			<-l.turn
			<-l.slots
			return ctx.Err()
		}
	}
	<-l.turn
	l.observe(w)
	return nil
}

func (l *limiter) observe(w int) {
	l.started.Add(1)
	cur := l.inflightMiB.Add(int64(w))
	for {
		p := l.peakMiB.Load()
		if cur <= p || l.peakMiB.CompareAndSwap(p, cur) {
			return
		}
	}
}

func (l *limiter) release(w int) {
	l.inflightMiB.Add(-int64(min(w, l.budget)))
	for range min(w, l.budget) {
		<-l.tokens
	}
	<-l.slots
}
