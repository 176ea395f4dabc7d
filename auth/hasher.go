// Package auth keeps user accounts: password hashing (argon2id, with verification of every
// hash Django has produced — PBKDF2, argon2, bcrypt, scrypt and the legacy MD5, SHA-1 and
// crypt hashers — so an existing user table can be imported), authentication with
// equal work for unknown users, password change, session auth hashes and password-reset tokens.
package auth

import (
	"context"
	"crypto/md5"
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
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/scrypt"
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
	// DefaultMaxQueueWait is how long a login may wait for a hashing slot before it is
	// answered 503 with Retry-After: longer than any queue of ordinary use (a burst of 100
	// logins on 2 cores drains in under 2 s), short enough that a flood is refused rather than
	// left to pile up requests that users have given up on.
	DefaultMaxQueueWait = 5 * time.Second
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
	// scrypt: N up to 2^20 (1 GiB at r = 8, the memory bound), and N*r*p (the work) up to
	// 128 times Django's default of 2^14 * 8 * 1.
	maxScryptN    = 1 << 20
	maxScryptR    = 64
	maxScryptP    = 64
	maxScryptWork = 1 << 24

	// minUpgradeSaltLen and minUpgradeKeyLen are the shortest argon2id salt and key kept as
	// they are: Django's hashes have 22-byte salts and 16-byte keys, which are sound.
	minUpgradeSaltLen = 16
	minUpgradeKeyLen  = 16
)

// Algorithm names as they appear in HashInfo.Algorithm.
const (
	AlgArgon2id     = "argon2id"
	AlgArgon2i      = "argon2i"
	AlgPBKDF2SHA256 = "pbkdf2_sha256"
	AlgPBKDF2SHA1   = "pbkdf2_sha1"
	AlgBcryptSHA256 = "bcrypt_sha256"
	AlgBcrypt       = "bcrypt"
	AlgScrypt       = "scrypt"
	// Legacy Django hashers (see IsLegacy): verified once, then upgraded.
	AlgMD5          = "md5"
	AlgSHA1         = "sha1"
	AlgUnsaltedMD5  = "unsalted_md5"
	AlgUnsaltedSHA1 = "unsalted_sha1"
	AlgCrypt        = "crypt"
)

// IsLegacy reports whether alg is one of Django's legacy hashers (salted or unsalted MD5 and
// SHA-1, DES crypt): a single fast digest, which a leaked table gives up at billions of guesses
// per second. Such hashes verify so their users can log in once, and are then upgraded;
// `rampart check` counts those that remain (RAMPART-W040).
func IsLegacy(alg string) bool {
	switch alg {
	case AlgMD5, AlgSHA1, AlgUnsaltedMD5, AlgUnsaltedSHA1, AlgCrypt:
		return true
	}
	return false
}

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
	// Iterations is the PBKDF2 iteration count, the argon2 time cost or scrypt's N.
	Iterations int
	// MemoryKiB is the memory argon2 or scrypt needs; Threads is argon2's parallelism.
	MemoryKiB uint32
	Threads   uint8
	// BlockSize and Parallelism are scrypt's r and p.
	BlockSize, Parallelism int
	// Cost is the bcrypt cost.
	Cost int
	// SaltLen and KeyLen are in bytes (0 for bcrypt and crypt, whose salts are fixed).
	SaltLen, KeyLen int

	salt, key []byte
	bcrypt    []byte // the "$2b$..." part
	crypt     string // the 13-character DES crypt(3) result
}

// Hasher hashes new passwords with argon2id and verifies every supported format. The zero
// value is ready to use with the OWASP parameters; a Hasher must not be copied after first use.
//
// Every hash or verification holds one of MaxConcurrent slots and, for argon2 and scrypt, its
// memory in MiB out of MemoryBudgetMiB, so a login flood queues instead of exhausting RAM: the
// memory of the computations in flight stays below min(MaxConcurrent × cost, MemoryBudgetMiB).
// The queue is first come, first served, so a request's wait is its place in the queue; a
// request whose wait would exceed MaxQueueWait is refused with a *BusyError (ErrBusy) instead
// of waiting, and waiting also ends with ctx.
type Hasher struct {
	// Argon2 is the cost of new hashes; stored hashes with other costs verify and report
	// NeedsUpgrade.
	Argon2 Argon2Params
	// MemoryBudgetMiB is the memory all concurrent argon2 computations may use; zero means
	// DefaultMemoryBudgetMiB. Stored hashes needing more than the whole budget never verify.
	MemoryBudgetMiB int
	// MaxConcurrent bounds simultaneous hash computations of any kind; zero means GOMAXPROCS.
	// Hashing is CPU-bound: with more computations than cores each one only runs slower,
	// its memory (19 MiB at the default cost) is held longer, and the order in which they
	// finish is left to the scheduler rather than to the queue.
	MaxConcurrent int
	// MaxQueueWait bounds the wait for a slot: a request whose predicted wait (its place in the
	// queue × the recent time a slot is held ÷ MaxConcurrent) exceeds it, or that has waited
	// that long, fails with a *BusyError. Zero means DefaultMaxQueueWait; negative means no
	// bound but the caller's context.
	MaxQueueWait time.Duration

	once sync.Once
	lim  *pool
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

func (h *Hasher) pool() *pool {
	h.once.Do(func() {
		budget := h.MemoryBudgetMiB
		if budget <= 0 {
			budget = DefaultMemoryBudgetMiB
		}
		slots := h.MaxConcurrent
		if slots <= 0 {
			slots = runtime.GOMAXPROCS(0)
		}
		wait := h.MaxQueueWait
		if wait == 0 {
			wait = DefaultMaxQueueWait
		}
		h.lim = newPool(slots, budget, wait)
	})
	return h.lim
}

// MemoryInFlightMiB is the argon2 memory this Hasher's computations hold at once when every
// slot is busy at its configured cost: min(MaxConcurrent × the cost in MiB, MemoryBudgetMiB)
// after defaults (38 MiB on 2 cores at the default cost). It is what an application sizes a
// memory limit from (`rampart serve` does): golang.org/x/crypto/argon2 allocates that memory
// afresh in every call, so a login burst turns it over at the rate of logins. Stored hashes of
// a higher cost may hold more, up to MemoryBudgetMiB.
func (h *Hasher) MemoryInFlightMiB() int {
	p := h.pool()
	return min(p.slots*argon2Weight(h.params().MemoryKiB), p.budget)
}

// slot waits for a computation slot of w MiB, or claims the turn ctx carries (Admit), and
// returns what gives it back. Every computation counts in Computations.
func (h *Hasher) slot(ctx context.Context, w int) (func(), error) {
	p := h.pool()
	if t, ok := ctx.Value(turnKey{}).(*turn); ok && t.claim(p, w) {
		h.done.Add(1)
		return t.finish, nil
	}
	if err := p.acquire(ctx, w); err != nil {
		return nil, err
	}
	h.done.Add(1)
	start := time.Now()
	return func() { p.release(w, start) }, nil
}

// Admit waits for a turn in the hashing queue before the caller takes anything else a password
// check holds: the returned context carries the turn, and the next hash or verification made
// with it (or a context derived from it) runs in that slot without queueing again. done gives
// the slot back if nothing used it; call it when the check is over (it is safe to call twice).
//
// Why: a login reserves a lockout slot before its hash (so a burst of guesses gets no more
// hashes than the lockout allows). Reserved first and then queued, the reservation would be held
// through the whole queue wait, and a few concurrent logins of one account would fill the
// account's slots and be refused as if locked; admitted first, it is held for the hash alone.
// The turn is sized for a hash at the configured cost; a verification needing more memory
// queues again as usual.
func (h *Hasher) Admit(ctx context.Context) (context.Context, func(), error) {
	p := h.pool()
	w := argon2Weight(h.params().MemoryKiB)
	if err := p.acquire(ctx, w); err != nil {
		return ctx, func() {}, err
	}
	t := &turn{p: p, w: min(w, p.budget), start: time.Now()}
	return context.WithValue(ctx, turnKey{}, t), t.done, nil
}

func argon2Weight(memKiB uint32) int { return int((memKiB + 1023) / 1024) }

// Hash returns a new argon2id hash of password in Django's format
// (argon2$argon2id$v=19$m=...,t=...,p=...$salt$hash), which Django itself can verify.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	return h.hashWith(ctx, password, h.params())
}

func (h *Hasher) hashWith(ctx context.Context, password string, p Argon2Params) (string, error) {
	if len(password) > MaxPasswordBytes {
		return "", ErrPasswordTooLong
	}
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
	release, err := h.slot(ctx, argon2Weight(p.MemoryKiB))
	if err != nil {
		return nil, err
	}
	defer release()
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
		(info.MemoryKiB > 0 && argon2Weight(info.MemoryKiB) > h.pool().budget) {
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
	case AlgScrypt:
		if got, err = h.scrypt(ctx, password, info); err != nil {
			return false, err
		}
	default: // IsLegacy
		return h.legacy(ctx, password, info)
	}
	return subtle.ConstantTimeCompare(got, info.key) == 1, nil
}

func (h *Hasher) scrypt(ctx context.Context, password string, info HashInfo) ([]byte, error) {
	release, err := h.slot(ctx, argon2Weight(info.MemoryKiB))
	if err != nil {
		return nil, err
	}
	defer release()
	key, err := scrypt.Key([]byte(password), info.salt, info.Iterations, info.BlockSize, info.Parallelism, len(info.key))
	if err != nil {
		return nil, nil // parameters are checked by parseScrypt; a mismatch all the same
	}
	return key, nil
}

// legacy verifies an MD5, SHA-1 or crypt hash. The digest itself costs microseconds, so a
// default-cost hash is computed as well: a guess against a legacy account then costs the
// attacker and the server what a guess against any other account costs, and its timing does
// not single out the accounts whose hashes are weak.
func (h *Hasher) legacy(ctx context.Context, password string, info HashInfo) (bool, error) {
	var ok bool
	switch info.Algorithm {
	case AlgCrypt:
		ok = subtle.ConstantTimeCompare([]byte(desCrypt(password, info.crypt[:2])), []byte(info.crypt)) == 1
	case AlgMD5, AlgUnsaltedMD5:
		sum := md5.Sum(append(info.salt[:len(info.salt):len(info.salt)], password...))
		ok = subtle.ConstantTimeCompare(sum[:], info.key) == 1
	case AlgSHA1, AlgUnsaltedSHA1:
		sum := sha1.Sum(append(info.salt[:len(info.salt):len(info.salt)], password...))
		ok = subtle.ConstantTimeCompare(sum[:], info.key) == 1
	}
	if err := h.dummy(ctx, password); err != nil {
		return false, err
	}
	return ok, nil
}

func (h *Hasher) pbkdf2(ctx context.Context, fn func() hash.Hash, password string, info HashInfo) ([]byte, error) {
	release, err := h.slot(ctx, 0)
	if err != nil {
		return nil, err
	}
	defer release()
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
	release, err := h.slot(ctx, 0)
	if err != nil {
		return false, err
	}
	defer release()
	return bcrypt.CompareHashAndPassword(info.bcrypt, pw) == nil, nil
}

// NeedsUpgrade reports whether encoded should be replaced by Upgrade after a successful
// verification: another algorithm, an argon2id cost below the configured one in memory, time
// or lanes, or a salt or key shorter than 16 bytes. An argon2id hash that costs at least as
// much as the configured one in every parameter is kept (Django's m=102400,t=2,p=8 hashes
// stay as they are), so a cheaper configuration never weakens stored hashes. Unusable
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
	return info.MemoryKiB < p.MemoryKiB || uint32(info.Iterations) < p.Time || info.Threads < p.Threads ||
		info.SaltLen < minUpgradeSaltLen || info.KeyLen < minUpgradeKeyLen
}

// Upgrade returns a fresh argon2id hash of password to replace encoded, which the caller has
// just verified. Its cost is the configured one, raised to encoded's wherever encoded's is
// higher — argon2 memory, time and lanes; scrypt memory — so an upgrade never lowers the cost
// of a hash. Hashes of other algorithms (PBKDF2, bcrypt, the legacy ones) move to the
// configured argon2id cost, which OWASP's Password Storage Cheat Sheet rates at least as
// strong as their recommended settings.
func (h *Hasher) Upgrade(ctx context.Context, password, encoded string) (string, error) {
	p := h.params()
	if info, err := ParseHash(encoded); err == nil {
		switch info.Algorithm {
		case AlgArgon2id, AlgArgon2i:
			p.MemoryKiB = max(p.MemoryKiB, info.MemoryKiB)
			p.Time = max(p.Time, uint32(info.Iterations))
			p.Threads = max(p.Threads, info.Threads)
		case AlgScrypt:
			p.MemoryKiB = max(p.MemoryKiB, info.MemoryKiB)
		}
	}
	return h.hashWith(ctx, password, p)
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
// pbkdf2_sha256, pbkdf2_sha1, bcrypt_sha256, bcrypt and scrypt (Django 4.0+), the legacy
// md5, sha1, unsalted_md5 (bare 32 hex digits or "md5$$..."), unsalted_sha1 ("sha1$$...")
// and crypt; bare PHC argon2 ("$argon2id$...") and bare bcrypt ("$2a$", "$2b$", "$2y$"). It
// never panics, and it rejects parameters beyond sane bounds so that a hostile row cannot
// make verification arbitrarily expensive.
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
	case strings.HasPrefix(encoded, "scrypt$"):
		return parseScrypt(encoded)
	case strings.HasPrefix(encoded, "md5$"):
		return parseDigest(AlgMD5, AlgUnsaltedMD5, encoded, md5.Size)
	case strings.HasPrefix(encoded, "sha1$"):
		return parseDigest(AlgSHA1, AlgUnsaltedSHA1, encoded, sha1.Size)
	case strings.HasPrefix(encoded, "crypt$"):
		return parseCrypt(encoded)
	case len(encoded) == 2*md5.Size && !strings.Contains(encoded, "$"):
		// Django's identify_hasher takes any 32 characters without '$' for unsalted MD5.
		return parseDigest(AlgMD5, AlgUnsaltedMD5, "md5$$"+encoded, md5.Size)
	}
	return HashInfo{}, ErrUnknownAlgorithm
}

// parseScrypt reads Django's scrypt$N$salt$r$p$base64(hash).
func parseScrypt(encoded string) (HashInfo, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[2] == "" {
		return HashInfo{}, ErrMalformedHash
	}
	num := func(s string, hi int) (int, bool) {
		n, err := strconv.Atoi(s)
		return n, err == nil && n >= 1 && n <= hi && s[0] != '+' && s[0] != '0'
	}
	n, ok1 := num(parts[1], maxScryptN)
	r, ok2 := num(parts[3], maxScryptR)
	p, ok3 := num(parts[4], maxScryptP)
	if !ok1 || !ok2 || !ok3 || n < 2 || n&(n-1) != 0 || n*r*p > maxScryptWork {
		return HashInfo{}, ErrMalformedHash
	}
	key, err := base64.StdEncoding.Strict().DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 64 {
		return HashInfo{}, ErrMalformedHash
	}
	// V is 128*r*N bytes and B 128*r*p; over 1 GiB is refused like an argon2 row would be.
	mem := (128*r*n + 128*r*p + 1023) / 1024
	if mem > maxArgon2MemoryKiB {
		return HashInfo{}, ErrMalformedHash
	}
	return HashInfo{Algorithm: AlgScrypt, Iterations: n, BlockSize: r, Parallelism: p, MemoryKiB: uint32(mem),
		salt: []byte(parts[2]), key: key, SaltLen: len(parts[2]), KeyLen: len(key)}, nil
}

// parseDigest reads Django's md5$salt$hex and sha1$salt$hex, whose hex is the digest of salt
// followed by the password; an empty salt is the unsalted hasher's "md5$$hex" / "sha1$$hex".
// Django produced lower-case hex only and compared the strings, so only that verifies.
func parseDigest(alg, unsalted, encoded string, size int) (HashInfo, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 3 || len(parts[2]) != 2*size {
		return HashInfo{}, ErrMalformedHash
	}
	for i := 0; i < len(parts[2]); i++ {
		if c := parts[2][i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return HashInfo{}, ErrMalformedHash
		}
	}
	key, _ := hex.DecodeString(parts[2])
	if parts[1] == "" {
		alg = unsalted
	}
	return HashInfo{Algorithm: alg, salt: []byte(parts[1]), key: key, SaltLen: len(parts[1]), KeyLen: len(key)}, nil
}

// parseCrypt reads Django's crypt$$<13 characters of DES crypt(3)>. The middle field, empty
// since Django 1.4, held a salt before that Django never read back: crypt takes its salt from
// the result's first two characters, and so does this.
func parseCrypt(encoded string) (HashInfo, error) {
	_, rest, _ := strings.Cut(encoded, "$")
	_, h, ok := strings.Cut(rest, "$")
	if !ok || !validCryptHash(h) {
		return HashInfo{}, ErrMalformedHash
	}
	return HashInfo{Algorithm: AlgCrypt, crypt: h}, nil
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
