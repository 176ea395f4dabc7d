// Package lockout stops password guessing the way django-axes does, with the gaps axes is known
// for closed: failures are counted per username, per client IP and per (username, IP) pair at
// once, in atomic store counters that several instances share; every password check takes a
// slot in them before any hash (Begin), so a burst of concurrent guesses gets no more checks
// than the limit; a lock can escalate; and a store outage locks rather than lets guesses through.
//
// The three scopes answer three attacks:
//   - ScopePair (limit FailureLimit, default 5): a user mistyping from one address is slowed
//     down without locking the account for everyone else.
//   - ScopeUser (limit UserFailureLimit, default 4×FailureLimit): a botnet rotating addresses
//     against one account (credential guessing from many IPs) is stopped at the account, as the
//     OWASP Authentication cheat sheet asks ("lockout counter tied to the account, not the IP").
//   - ScopeIP (limit IPFailureLimit, default 4×FailureLimit): one address spraying a password
//     across many accounts is stopped even though no single account sees many failures.
//
// The app calls Begin before verifying a password: it takes a slot in every scope atomically
// in the store, or refuses the attempt, so at most the limit's number of passwords is ever
// checked per scope and lock window however many requests race (django-axes, like a read
// before the hash and a count after it, lets every request in a burst through). After the
// check the app ends the attempt with Fail, Succeed or Release. A refused attempt changes
// nothing: axes extended the cool-off on attempts made during a lockout, which punished users
// retrying with the right password (jazzband/django-axes#837); here a lockout ends CoolOff
// after the last failure that counted.
//
// Failures are counted whether or not the username exists, so a lock reveals nothing about
// which accounts exist.
//
// Lockout as denial of service (ASVS V6.1.1): anyone can lock a known account for CoolOff with
// UserFailureLimit guesses. The defaults keep that short (15 minutes, not axes' "until an admin
// resets it") and the owner keeps every other way in that does not take a password guess: a
// password reset mail still works while the account is locked, as the OWASP Authentication
// cheat sheet advises, and the lock is per account, not global (an empty username or an
// unknown client address never builds a shared key).
package lockout

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rampart-go/rampart/store"
)

// Scope is a set of dimensions failures are counted in.
type Scope uint8

const (
	// ScopePair counts failures per (username, client IP) pair.
	ScopePair Scope = 1 << iota
	// ScopeUser counts failures per username, whatever the client IP.
	ScopeUser
	// ScopeIP counts failures per client IP (IPv6 grouped by prefix), whatever the username.
	ScopeIP

	// ScopeAll is every scope; it is what a zero Options.LockBy means.
	ScopeAll = ScopePair | ScopeUser | ScopeIP
)

// String names the scope as it appears in Decision.Reason and Entry.Scope.
func (s Scope) String() string {
	var parts []string
	if s&ScopePair != 0 {
		parts = append(parts, "username+ip")
	}
	if s&ScopeUser != 0 {
		parts = append(parts, "username")
	}
	if s&ScopeIP != 0 {
		parts = append(parts, "ip")
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ",")
}

// Defaults. CoolOff is 15 minutes: axes' own documentation example and its progressive-lockout
// tier 1 (3 failures → 15 min), and the usual OWASP figure; long enough to make online guessing
// hopeless (5 guesses per 15 min per pair, 20 per account), short enough that a locked-out user
// or a victim of a deliberate lockout (lockout as DoS) is back quickly. Escalation raises it for
// persistent attackers.
const (
	DefaultFailureLimit     = 5
	DefaultCoolOff          = 15 * time.Minute
	DefaultMaxCoolOff       = 24 * time.Hour
	DefaultEscalationMemory = 24 * time.Hour
	DefaultIPv6Prefix       = 64
	DefaultPrefix           = "lockout:"
	DefaultLockCacheTTL     = time.Second
	// maxCached bounds the lock cache; past it, locks are simply read from the store.
	maxCached = 1 << 14
	// maxEncodedName is the longest normalised username kept readable in keys; longer (hostile)
	// names are hashed so keys stay short and cannot grow without bound.
	maxEncodedName = 128
)

// Reasons reported in Decision.Reason besides the Scope names.
const (
	// ReasonUnavailable means the store could not answer: the request is refused (fail closed).
	ReasonUnavailable = "unavailable"
)

// Options configure a Guard. The zero value is the secure default described on each field.
type Options struct {
	// FailureLimit is how many failures lock a (username, IP) pair. Zero means 5.
	FailureLimit int
	// UserFailureLimit is how many failures from any addresses lock a username. Zero means
	// 4×FailureLimit: higher than the pair limit so an attacker needs more work to lock a
	// known account for its owner, still far below NIST SP 800-63B's ceiling of 100.
	UserFailureLimit int
	// IPFailureLimit is how many failures against any usernames lock a client IP. Zero means
	// 4×FailureLimit, which leaves room for a few users behind one NAT.
	IPFailureLimit int
	// LockBy selects the scopes counted and checked. Zero means ScopeAll. Leaving out
	// ScopeUser lets rotating IPs guess one account forever; leaving out ScopeIP lets one IP
	// spray every account.
	LockBy Scope
	// CoolOff is how long a lock lasts after the failure that caused it, and the window in
	// which failures add up (each failure restarts it). Zero means 15 minutes.
	CoolOff time.Duration
	// Escalate doubles the cool-off for every further lockout of the same key within
	// EscalationMemory, up to MaxCoolOff (OWASP's exponential lockout; axes' lockout tiers).
	Escalate bool
	// MaxCoolOff caps escalation. Zero means 24 hours.
	MaxCoolOff time.Duration
	// EscalationMemory is how long past lockouts are remembered for escalation. Zero means 24 hours.
	EscalationMemory time.Duration
	// ResetUserOnSuccess makes Succeed also clear the username's counter. By default a
	// success clears only the pair's counter: clearing the account counter would hand a
	// distributed attacker a fresh budget every time the owner logs in.
	ResetUserOnSuccess bool
	// InsecureResetIPOnSuccess makes Succeed also clear the client IP's counter. It is
	// insecure: an attacker who owns one account can log into it between guesses and spray
	// other accounts from one address forever. Off by default.
	InsecureResetIPOnSuccess bool
	// IPv6Prefix groups IPv6 clients by this prefix length, since one subscriber usually
	// holds a whole /64 and could otherwise rotate addresses freely. Zero means 64.
	IPv6Prefix int
	// Normalize maps a username to its identity for counting. It must merge at least every
	// spelling the login form accepts as the same account. Nil means [store.UsernameKey],
	// the identity the user table itself uses.
	Normalize func(string) string
	// LockCacheTTL is how long a Guard remembers, in process, that a key is locked, so a
	// flood against a locked account is rejected without a store round trip (Redis or SQL
	// would otherwise cap rejects at a few thousand per second). Remembering a lock only ever
	// refuses more, never less; the cost is that an Unlock made on another instance takes up
	// to this long to be seen here (Unlock on this Guard is seen at once). Zero means 1s;
	// negative disables the cache.
	LockCacheTTL time.Duration
	// Prefix starts every counter key. Zero means "lockout:".
	Prefix string
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// OnRefused, when set, is told of every locked Decision that Check, Begin or Remembered
	// returns (an attempt refused without a password check), with its Reason: a bounded set
	// of scope names and ReasonUnavailable. It is how package metrics counts locked-request
	// rejections; it runs on the request's goroutine, so it must be quick.
	OnRefused func(reason string)
}

// Decision is the outcome of Check, Begin or Attempt.Fail.
type Decision struct {
	// Locked reports that the attempt must be refused without checking the password.
	Locked bool
	// RetryAfter is how long until the longest applicable lock ends (zero when not locked,
	// and when the store could not answer).
	RetryAfter time.Duration
	// Reason names the locked scopes ("username+ip", "username", "ip", comma-separated)
	// or ReasonUnavailable.
	Reason string
	// Tripped is set by Attempt.Fail when this failure reached a limit (a lockout began): the moment
	// to write an audit event or notify the account owner.
	Tripped bool
}

// Entry is one locked key, for the admin page.
type Entry struct {
	// Scope is exactly one of ScopePair, ScopeUser, ScopeIP.
	Scope Scope
	// Username is the normalised username (empty for ScopeIP and for over-long names,
	// which are kept only as a hash; see Key).
	Username string
	// IP is the address or IPv6 prefix (empty for ScopeUser).
	IP string
	// Failures is the failure count.
	Failures int64
	// Until is when the lock ends.
	Until time.Time
	// Key is the store key, usable with UnlockKey.
	Key string
}

// Guard decides and records lockouts. It is safe for concurrent use.
type Guard struct {
	c                     store.Counters
	pairLimit, userLimit  int64
	ipLimit               int64
	by                    Scope
	cool, maxCool, memory time.Duration
	escalate              bool
	resetUser, resetIP    bool
	v6bits                int
	normalize             func(string) string
	prefix                string
	now                   func() time.Time
	cacheTTL              time.Duration
	cache                 lockCache
	onRefused             func(string)
}

// refused tells Options.OnRefused of a locked decision.
func (g *Guard) refused(d Decision) {
	if d.Locked && g.onRefused != nil {
		g.onRefused(d.Reason)
	}
}

// New returns a Guard keeping its counters in counters.
func New(counters store.Counters, opts Options) *Guard {
	g := &Guard{
		c:         counters,
		by:        opts.LockBy,
		cool:      opts.CoolOff,
		maxCool:   opts.MaxCoolOff,
		memory:    opts.EscalationMemory,
		escalate:  opts.Escalate,
		resetUser: opts.ResetUserOnSuccess,
		resetIP:   opts.InsecureResetIPOnSuccess,
		v6bits:    opts.IPv6Prefix,
		normalize: opts.Normalize,
		prefix:    opts.Prefix,
		now:       opts.Now,
		onRefused: opts.OnRefused,
	}
	limit := opts.FailureLimit
	if limit <= 0 {
		limit = DefaultFailureLimit
	}
	g.pairLimit = int64(limit)
	g.userLimit = int64(opts.UserFailureLimit)
	if g.userLimit <= 0 {
		g.userLimit = 4 * g.pairLimit
	}
	g.ipLimit = int64(opts.IPFailureLimit)
	if g.ipLimit <= 0 {
		g.ipLimit = 4 * g.pairLimit
	}
	if g.by&ScopeAll == 0 {
		g.by = ScopeAll
	}
	if g.cool <= 0 {
		g.cool = DefaultCoolOff
	}
	if g.maxCool <= 0 {
		g.maxCool = DefaultMaxCoolOff
	}
	if g.maxCool < g.cool {
		g.maxCool = g.cool
	}
	if g.memory <= 0 {
		g.memory = DefaultEscalationMemory
	}
	if g.v6bits <= 0 || g.v6bits > 128 {
		g.v6bits = DefaultIPv6Prefix
	}
	if g.normalize == nil {
		g.normalize = store.UsernameKey
	}
	if g.prefix == "" {
		g.prefix = DefaultPrefix
	}
	if g.now == nil {
		g.now = time.Now
	}
	g.cacheTTL = opts.LockCacheTTL
	if g.cacheTTL == 0 {
		g.cacheTTL = DefaultLockCacheTTL
	}
	g.cache.m = make(map[string]cachedLock)
	return g
}

// lockCache remembers locks seen in the store: key → when the lock ends and until when the
// memory may be trusted.
type lockCache struct {
	mu sync.Mutex
	m  map[string]cachedLock
}

type cachedLock struct {
	until, trust time.Time
	scope        Scope
}

func (g *Guard) cached(key string, now time.Time) (cachedLock, bool) {
	if g.cacheTTL < 0 || key == "" {
		return cachedLock{}, false
	}
	g.cache.mu.Lock()
	c, ok := g.cache.m[key]
	g.cache.mu.Unlock()
	if !ok || !now.Before(c.trust) {
		return cachedLock{}, false
	}
	return c, true
}

func (g *Guard) remember(key string, s Scope, until, now time.Time) {
	if g.cacheTTL < 0 || !until.After(now) {
		return
	}
	trust := now.Add(g.cacheTTL)
	if until.Before(trust) {
		trust = until
	}
	c := cachedLock{until: until, trust: trust, scope: s}
	g.cache.mu.Lock()
	defer g.cache.mu.Unlock()
	if len(g.cache.m) >= maxCached {
		for k, v := range g.cache.m {
			if !now.Before(v.trust) {
				delete(g.cache.m, k)
			}
		}
		if len(g.cache.m) >= maxCached {
			return
		}
	}
	g.cache.m[key] = c
}

// forget drops the whole cache: unlocks are rare admin actions, so precision is not worth code.
func (g *Guard) forget() {
	g.cache.mu.Lock()
	clear(g.cache.m)
	g.cache.mu.Unlock()
}

// key kinds; each key is prefix + kind + "|" + parts. Usernames are encoded with an alphabet
// that has no "|" (base64url, or a SHA-256 for long names), so no username can forge the key
// of another scope, another user or another IP.
const (
	kindUser  = "u"
	kindIP    = "i"
	kindPair  = "p"
	levelMark = "L" // escalation level counters: prefix + "L" + kind + "|" + ...
	failMark  = "F" // failure counts beside the slot counters: prefix + "F" + kind + "|" + ...
)

type keys struct {
	user, ip, pair string
	scopes         Scope // scopes that apply to this attempt
}

// encodeUser returns the key form of an already normalised username.
func encodeUser(name string) string {
	if len(name) > maxEncodedName {
		sum := sha256.Sum256([]byte(name))
		return "h" + base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return "e" + base64.RawURLEncoding.EncodeToString([]byte(name))
}

func decodeUser(enc string) (string, bool) {
	if !strings.HasPrefix(enc, "e") {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(enc[1:])
	if err != nil {
		return "", false
	}
	return string(b), true
}

// ipKey returns the counting identity of ip: the address for IPv4, its prefix for IPv6.
func (g *Guard) ipKey(ip netip.Addr) string {
	ip = ip.Unmap()
	if ip.Is6() && g.v6bits < 128 {
		p, err := ip.WithZone("").Prefix(g.v6bits)
		if err == nil {
			return p.String()
		}
	}
	return ip.WithZone("").String()
}

// keysFor builds the keys of an attempt. An empty username drops the user and pair scopes
// (axes#261: an empty username once shared one global counter and locked everyone out); an
// unusable IP drops the IP and pair scopes for the same reason, leaving the account counted.
func (g *Guard) keysFor(username string, ip netip.Addr) keys {
	var k keys
	name := g.normalize(username)
	hasUser := name != ""
	hasIP := ip.IsValid()
	var enc, ipk string
	if hasUser {
		enc = encodeUser(name)
		if g.by&ScopeUser != 0 {
			k.user = g.prefix + kindUser + "|" + enc
			k.scopes |= ScopeUser
		}
	}
	if hasIP {
		ipk = g.ipKey(ip)
		if g.by&ScopeIP != 0 {
			k.ip = g.prefix + kindIP + "|" + ipk
			k.scopes |= ScopeIP
		}
	}
	if hasUser && hasIP && g.by&ScopePair != 0 {
		k.pair = g.prefix + kindPair + "|" + enc + "|" + ipk
		k.scopes |= ScopePair
	}
	return k
}

func (g *Guard) limitOf(s Scope) int64 {
	switch s {
	case ScopePair:
		return g.pairLimit
	case ScopeUser:
		return g.userLimit
	default:
		return g.ipLimit
	}
}

func (k keys) each(f func(s Scope, key string) error) error {
	for _, sk := range [...]struct {
		s   Scope
		key string
	}{{ScopePair, k.pair}, {ScopeUser, k.user}, {ScopeIP, k.ip}} {
		if k.scopes&sk.s == 0 {
			continue
		}
		if err := f(sk.s, sk.key); err != nil {
			return err
		}
	}
	return nil
}

// unavailable is the fail-closed decision for a store error.
func unavailable(err error) (Decision, error) {
	return Decision{Locked: true, Reason: ReasonUnavailable}, fmt.Errorf("lockout: store: %w", err)
}

// Check reports whether an attempt for username from ip would be refused now, without
// reserving anything: for pages that show the state and for logins proven without a password
// (see Succeed). It reads at most three counters. A password check must use Begin instead:
// Check followed by a later count is the race Begin closes. A store error yields a locked
// Decision and the error (fail closed).
func (g *Guard) Check(ctx context.Context, username string, ip netip.Addr) (Decision, error) {
	d, err := g.check(ctx, username, ip)
	g.refused(d)
	return d, err
}

func (g *Guard) check(ctx context.Context, username string, ip netip.Addr) (Decision, error) {
	now := g.now()
	k := g.keysFor(username, ip)
	// A remembered lock answers without the store (see Options.LockCacheTTL).
	if d, ok := g.cachedDecision(k, now); ok {
		return d, nil
	}
	var d Decision
	var locked Scope
	err := k.each(func(s Scope, key string) error {
		c, err := g.c.GetCounter(ctx, key, now)
		if err != nil {
			return err
		}
		if c.N >= g.limitOf(s) {
			locked |= s
			g.remember(key, s, c.ExpiresAt, now)
			if ra := c.ExpiresAt.Sub(now); ra > d.RetryAfter {
				d.RetryAfter = ra
			}
		}
		return nil
	})
	if err != nil {
		return unavailable(err)
	}
	if locked != 0 {
		d.Locked = true
		d.Reason = locked.String()
	}
	return d, nil
}

// Begin reserves one credential check for username from ip, atomically in the store, before
// any password is hashed: in every scope it takes one of the scope's limit slots (the
// failures counted so far plus the checks in flight), or finds none free and refuses the
// attempt. When d.Locked is set, a is nil, nothing is held and the caller must refuse
// without checking the password (WriteLocked). Otherwise the caller checks the password and
// then calls exactly one of a.Fail, a.Succeed or a.Release.
//
// This is what makes "at most limit password checks per scope per lock window" true under
// any concurrency and on several instances: a burst of guesses cannot all pass a read of the
// counters before any of them is counted (the check-then-act race of reading in Check and
// counting in a later Fail). A slot held by a check in flight also keeps the scope from
// tripping, so a login that succeeds can never do so after its scope locked.
//
// A store error yields a locked Decision (ReasonUnavailable) and the error: fail closed.
func (g *Guard) Begin(ctx context.Context, username string, ip netip.Addr) (a *Attempt, d Decision, err error) {
	defer func() { g.refused(d) }()
	now := g.now()
	k := g.keysFor(username, ip)
	if d, ok := g.cachedDecision(k, now); ok {
		return nil, d, nil
	}
	a = &Attempt{g: g, k: k, at: now}
	var locked Scope
	err = k.each(func(s Scope, key string) error {
		c, ok, err := g.c.Reserve(ctx, key, g.limitOf(s), now, g.cool)
		if err != nil {
			return err
		}
		if !ok {
			// Every slot is taken: by failures, or by checks still in flight. Either way no
			// further check may start; the scopes after this one need not be touched.
			locked = s
			g.remember(key, s, c.ExpiresAt, now)
			d.RetryAfter = max(d.RetryAfter, c.ExpiresAt.Sub(now))
			return errFull
		}
		a.held |= s
		a.until[scopeIndex(s)] = c.ExpiresAt
		return nil
	})
	if err != nil && !errors.Is(err, errFull) {
		// Give back what was taken; if the store is down that fails too, and the slots
		// expire with the cool-off, which only ever refuses more.
		_ = a.Release(context.WithoutCancel(ctx))
		return nil, Decision{Locked: true, Reason: ReasonUnavailable}, fmt.Errorf("lockout: store: %w", err)
	}
	if locked != 0 {
		if rerr := a.Release(context.WithoutCancel(ctx)); rerr != nil {
			return nil, Decision{Locked: true, Reason: ReasonUnavailable}, rerr
		}
		return nil, Decision{Locked: true, RetryAfter: d.RetryAfter, Reason: locked.String()}, nil
	}
	return a, Decision{}, nil
}

// Remembered answers from the guard's in-process lock memory alone (see
// Options.LockCacheTTL): a locked Decision and true when a lock that applies to this attempt
// was seen recently, without a store round trip. An app that runs cheaper refusals (a rate
// limit with its own memory) before Begin asks this first, so a flood against a locked
// account costs neither those nor a reservation.
func (g *Guard) Remembered(username string, ip netip.Addr) (Decision, bool) {
	d, ok := g.cachedDecision(g.keysFor(username, ip), g.now())
	g.refused(d)
	return d, ok
}

// errFull stops Begin at the first scope without a free slot.
var errFull = errors.New("lockout: scope full")

// cachedDecision answers from the lock cache (see Options.LockCacheTTL).
func (g *Guard) cachedDecision(k keys, now time.Time) (Decision, bool) {
	var d Decision
	var locked Scope
	_ = k.each(func(s Scope, key string) error {
		if c, ok := g.cached(key, now); ok {
			locked |= s
			d.RetryAfter = max(d.RetryAfter, c.until.Sub(now))
		}
		return nil
	})
	if locked == 0 {
		return Decision{}, false
	}
	return Decision{Locked: true, RetryAfter: d.RetryAfter, Reason: locked.String()}, true
}

func scopeIndex(s Scope) int {
	switch s {
	case ScopePair:
		return 0
	case ScopeUser:
		return 1
	default:
		return 2
	}
}

// Attempt is one credential check reserved by Guard.Begin. It is used by one goroutine, and
// exactly one of Fail, Succeed or Release ends it; later calls return ErrAttemptEnded.
type Attempt struct {
	g     *Guard
	k     keys
	at    time.Time
	held  Scope
	until [3]time.Time // when each held scope's slots expire, from the reservation
	done  bool
}

// ErrAttemptEnded is returned by an Attempt's methods after the first of them.
var ErrAttemptEnded = errors.New("lockout: attempt already ended")

// Fail records that the reserved check failed: its slot stays taken as a failure for
// CoolOff (each failure restarts the window). The failure that fills a scope's last slot
// trips it (Decision.Tripped, exactly once per lock however many instances race) and, with
// Escalate, starts a lock of CoolOff×2^(n-1), n being the number of lockouts of that key
// within EscalationMemory, capped at MaxCoolOff. Decision.Locked reports that a scope is now
// locked, so the caller can answer with WriteLocked instead of the form.
func (a *Attempt) Fail(ctx context.Context) (Decision, error) {
	if a == nil || a.done {
		return Decision{}, ErrAttemptEnded
	}
	a.done = true
	g := a.g
	now := g.now()
	var d Decision
	var locked Scope
	err := a.k.each(func(s Scope, key string) error {
		if a.held&s == 0 {
			return nil
		}
		// Failures are counted beside the slots: slots also hold checks in flight, and only
		// when every slot is a failure has the scope tripped. A success holds a slot until it
		// ends, so no scope can trip while a correct password is being verified.
		f, err := g.c.Incr(ctx, g.failKey(key), 1, now, g.cool, true)
		if err != nil {
			return err
		}
		limit := g.limitOf(s)
		if f.N < limit {
			return nil
		}
		locked |= s
		tripped := f.N == limit
		if tripped {
			d.Tripped = true
		}
		until := a.until[scopeIndex(s)]
		if g.escalate {
			cool, err := g.escalated(ctx, key, tripped, now)
			if err != nil {
				return err
			}
			if cool > g.cool {
				c, err := g.c.Incr(ctx, key, 0, now, cool, true)
				if err != nil {
					return err
				}
				until = c.ExpiresAt
			}
		}
		g.remember(key, s, until, now)
		d.RetryAfter = max(d.RetryAfter, until.Sub(now))
		return nil
	})
	if err != nil {
		return unavailable(err)
	}
	if locked != 0 {
		d.Locked = true
		d.Reason = locked.String()
	}
	return d, nil
}

// Succeed records that the reserved check succeeded: the pair's counters are cleared (the
// pair just proved it knows the password), plus the username's and the IP's when the options
// say so; in the other scopes the slot is given back, so a success never counts against the
// account or the address. Escalation memory is kept, so a lock soon after is still escalated.
func (a *Attempt) Succeed(ctx context.Context) error {
	if a == nil || a.done {
		return ErrAttemptEnded
	}
	a.done = true
	g := a.g
	g.forget()
	return a.k.each(func(s Scope, key string) error {
		if g.clearsOnSuccess(s) {
			return g.clear(ctx, key)
		}
		if a.held&s != 0 {
			return g.release(ctx, key)
		}
		return nil
	})
}

// Release gives the reserved slots back without counting anything: for a check that did
// not happen (the request failed before the password was verified, or the store failed).
func (a *Attempt) Release(ctx context.Context) error {
	if a == nil || a.done {
		return ErrAttemptEnded
	}
	a.done = true
	return a.k.each(func(s Scope, key string) error {
		if a.held&s == 0 {
			return nil
		}
		return a.g.release(ctx, key)
	})
}

// release gives one slot of key back. The counter keeps its expiry; a counter that expired or
// was cleared meanwhile (an unlock) would come back negative, which would grant extra
// slots, so it is removed instead.
func (g *Guard) release(ctx context.Context, key string) error {
	c, err := g.c.Incr(ctx, key, -1, g.now(), g.cool, false)
	if err != nil {
		return fmt.Errorf("lockout: store: %w", err)
	}
	if c.N < 0 {
		if err := g.c.DeleteCounter(ctx, key); err != nil {
			return fmt.Errorf("lockout: store: %w", err)
		}
	}
	return nil
}

// clear removes the slots and failures of key.
func (g *Guard) clear(ctx context.Context, key string) error {
	for _, k := range [...]string{key, g.failKey(key)} {
		if err := g.c.DeleteCounter(ctx, k); err != nil {
			return fmt.Errorf("lockout: store: %w", err)
		}
	}
	return nil
}

// escalated returns the cool-off of the current lock of key, counting a new lockout when tripped.
func (g *Guard) escalated(ctx context.Context, key string, tripped bool, now time.Time) (time.Duration, error) {
	lk := g.levelKey(key)
	var level int64
	if tripped {
		c, err := g.c.Incr(ctx, lk, 1, now, g.memory, true)
		if err != nil {
			return 0, err
		}
		level = c.N
	} else {
		c, err := g.c.GetCounter(ctx, lk, now)
		if err != nil {
			return 0, err
		}
		level = c.N
	}
	cool := g.cool
	for i := int64(1); i < level && cool < g.maxCool; i++ {
		cool *= 2
	}
	return min(cool, g.maxCool), nil
}

func (g *Guard) levelKey(key string) string {
	return g.prefix + levelMark + strings.TrimPrefix(key, g.prefix)
}

// failKey is the failure count beside the slot counter key.
func (g *Guard) failKey(key string) string {
	return g.prefix + failMark + strings.TrimPrefix(key, g.prefix)
}

// Succeed records a login proven without a password check reserved by Begin (a passkey,
// after Check said the attempt is not locked): it clears what Attempt.Succeed clears, the
// pair's counters and, when the options say so, the username's and the IP's.
func (g *Guard) Succeed(ctx context.Context, username string, ip netip.Addr) error {
	k := g.keysFor(username, ip)
	g.forget()
	return k.each(func(s Scope, key string) error {
		if g.clearsOnSuccess(s) {
			return g.clear(ctx, key)
		}
		return nil
	})
}

// clearsOnSuccess reports whether a success clears scope s: the pair always (it just proved
// it knows the password), the username and the IP only when the options say so.
func (g *Guard) clearsOnSuccess(s Scope) bool {
	return s == ScopePair || (s == ScopeUser && g.resetUser) || (s == ScopeIP && g.resetIP)
}

// Unlock clears every counter of username: its account counter, all its (username, IP) pairs,
// and their escalation memory (the admin decided to trust the account again).
func (g *Guard) Unlock(ctx context.Context, username string) error {
	name := g.normalize(username)
	if name == "" {
		return errors.New("lockout: empty username")
	}
	enc := encodeUser(name)
	if err := g.deleteWithLevel(ctx, g.prefix+kindUser+"|"+enc); err != nil {
		return err
	}
	return g.deletePrefix(ctx, g.prefix+kindPair+"|"+enc+"|", nil)
}

// UnlockIP clears the counters of ip (its IPv6 prefix) and of every pair involving it.
func (g *Guard) UnlockIP(ctx context.Context, ip netip.Addr) error {
	if !ip.IsValid() {
		return errors.New("lockout: invalid IP")
	}
	ipk := g.ipKey(ip)
	if err := g.deleteWithLevel(ctx, g.prefix+kindIP+"|"+ipk); err != nil {
		return err
	}
	suffix := "|" + ipk
	return g.deletePrefix(ctx, g.prefix+kindPair+"|", func(key string) bool {
		return strings.HasSuffix(key, suffix)
	})
}

// UnlockKey clears one counter listed by Locked (and its escalation memory).
func (g *Guard) UnlockKey(ctx context.Context, key string) error {
	if !strings.HasPrefix(key, g.prefix) || strings.HasPrefix(key, g.prefix+levelMark) || strings.HasPrefix(key, g.prefix+failMark) {
		return errors.New("lockout: not a lockout key")
	}
	return g.deleteWithLevel(ctx, key)
}

func (g *Guard) deleteWithLevel(ctx context.Context, key string) error {
	g.forget()
	for _, k := range [...]string{key, g.failKey(key), g.levelKey(key)} {
		if err := g.c.DeleteCounter(ctx, k); err != nil {
			return fmt.Errorf("lockout: store: %w", err)
		}
	}
	return nil
}

// deletePrefix removes the counters under prefix, their failure counts and their escalation
// memory, which may outlive an expired counter and so are listed on their own.
func (g *Guard) deletePrefix(ctx context.Context, prefix string, keep func(string) bool) error {
	g.forget()
	now := g.now()
	for _, p := range [...]string{prefix, g.failKey(prefix), g.levelKey(prefix)} {
		cs, err := g.c.ListCounters(ctx, p, 0, now, 0)
		if err != nil {
			return fmt.Errorf("lockout: store: %w", err)
		}
		for _, c := range cs {
			if keep != nil && !keep(c.Key) {
				continue
			}
			if err := g.c.DeleteCounter(ctx, c.Key); err != nil {
				return fmt.Errorf("lockout: store: %w", err)
			}
		}
	}
	return nil
}

// Locked lists the keys currently locked, at most limit of them (limit <= 0: all), pairs
// first, then usernames, then IPs, each in key order.
func (g *Guard) Locked(ctx context.Context, limit int) ([]Entry, error) {
	now := g.now()
	var out []Entry
	for _, s := range [...]Scope{ScopePair, ScopeUser, ScopeIP} {
		if g.by&s == 0 {
			continue
		}
		rest := 0
		if limit > 0 {
			rest = limit - len(out)
			if rest <= 0 {
				break
			}
		}
		kind := map[Scope]string{ScopePair: kindPair, ScopeUser: kindUser, ScopeIP: kindIP}[s]
		prefix := g.prefix + kind + "|"
		cs, err := g.c.ListCounters(ctx, prefix, g.limitOf(s), now, rest)
		if err != nil {
			return nil, fmt.Errorf("lockout: store: %w", err)
		}
		for _, c := range cs {
			e := Entry{Scope: s, Failures: c.N, Until: c.ExpiresAt, Key: c.Key}
			rest := strings.TrimPrefix(c.Key, prefix)
			switch s {
			case ScopeIP:
				e.IP = rest
			case ScopeUser:
				e.Username, _ = decodeUser(rest)
			case ScopePair:
				enc, ip, _ := strings.Cut(rest, "|")
				e.Username, _ = decodeUser(enc)
				e.IP = ip
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// LockedMessage is the body WriteLocked sends. It names no account, so it reveals nothing.
const LockedMessage = "Too many failed login attempts. Please try again later.\n"

// UnavailableMessage is the body WriteLocked sends when the store could not answer.
const UnavailableMessage = "Login is temporarily unavailable. Please try again later.\n"

// WriteLocked writes the response for a locked Decision: 429 Too Many Requests with
// Retry-After in whole seconds rounded up (never 0, which clients read as "retry now"), or
// 503 Service Unavailable when the lock came from a store outage.
func WriteLocked(w http.ResponseWriter, d Decision) {
	secs := int64((d.RetryAfter + time.Second - 1) / time.Second)
	status, msg := http.StatusTooManyRequests, LockedMessage
	if d.Reason == ReasonUnavailable {
		status, msg = http.StatusServiceUnavailable, UnavailableMessage
		if secs <= 0 {
			secs = 30
		}
	}
	if secs < 1 {
		secs = 1
	}
	h := w.Header()
	h.Set("Retry-After", strconv.FormatInt(secs, 10))
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg))
}
