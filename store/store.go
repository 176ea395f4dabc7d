// Package store defines the small interfaces through which rampart keeps state, one per kind
// of state, so that sessions, lockout counters, rate-limit counters, TOTP replay state, users
// and audit events can live in SQLite, PostgreSQL or Redis and be shared by several instances.
//
// Backends live in store/memory, store/sqlite, store/postgres and store/redis; each implements
// every interface here (the Store aggregate) and passes the conformance suite in store/storetest.
//
// Contract shared by all methods:
//   - A missing item is reported with ErrNotFound (wrapped or not); any other error means the
//     backend could not answer, and callers fail closed (deny, or 503).
//   - Times are passed in by the caller (now) so that tests can use an injected clock; a backend
//     with its own notion of expiry (Redis TTLs) must give the same observable results.
//   - Counters and replay checks are atomic in the backend (one statement or one script), so
//     several instances sharing a backend agree.
//   - Times are kept to the microsecond and returned in UTC; the zero time survives a round trip.
//   - now should be close to the wall clock: Redis also expires sessions and counters natively
//     at their ExpiresAt, so an item whose ExpiresAt is already past in real time may be gone.
//   - Keys (session, counter, device) are arbitrary bytes, including NUL and invalid UTF-8.
//   - The conformance suite in store/storetest is the executable form of this contract.
package store

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound reports that the requested item does not exist or has expired.
var ErrNotFound = errors.New("store: not found")

// ErrConflict reports that a unique value (username, e-mail) is already taken.
var ErrConflict = errors.New("store: already exists")

// Session is one server-side session as a backend keeps it.
type Session struct {
	// Key identifies the session in the store. The session package stores the SHA-256 of the
	// cookie token here, never the token itself, so a leaked table cannot be replayed as cookies.
	Key string
	// UserID is empty for an anonymous session.
	UserID string
	// Data is opaque to the store.
	Data []byte
	// IP and UserAgent describe the client when the session was last seen (for session lists).
	IP        string
	UserAgent string
	CreatedAt time.Time
	LastSeen  time.Time
	// ExpiresAt is when the store may forget the session; loads after it return ErrNotFound.
	ExpiresAt time.Time
}

// Sessions keeps server-side sessions and their per-user index.
type Sessions interface {
	// LoadSession returns the session stored under key, or ErrNotFound when it is missing or
	// its ExpiresAt is not after now.
	LoadSession(ctx context.Context, key string, now time.Time) (Session, error)
	// SaveSession inserts or replaces s (all fields), keeping the per-user index in step.
	SaveSession(ctx context.Context, s Session) error
	// DeleteSession removes the session; deleting a missing session is not an error.
	DeleteSession(ctx context.Context, key string) error
	// UserSessions lists the unexpired sessions of userID, most recently seen first (ties by
	// key). Anonymous sessions are not indexed: an empty userID lists nothing.
	UserSessions(ctx context.Context, userID string, now time.Time) ([]Session, error)
	// DeleteUserSessions removes every session of userID except the one keyed exceptKey
	// (which may be empty) and returns how many were removed (which may include expired
	// sessions not yet swept). An empty userID removes nothing.
	DeleteUserSessions(ctx context.Context, userID, exceptKey string) (int, error)
}

// Counter is the state of one counter.
type Counter struct {
	Key       string
	N         int64
	ExpiresAt time.Time
}

// Counters are expiring atomic counters, used for lockout failures and rate limits.
type Counters interface {
	// Incr atomically adds delta to the counter at key and returns the new state. A missing or
	// expired counter starts from zero with ExpiresAt = now+ttl. When extend is true every call
	// moves ExpiresAt to now+ttl (a cool-off measured from the latest hit); otherwise the
	// expiry of a live counter is kept (a fixed window).
	Incr(ctx context.Context, key string, delta int64, now time.Time, ttl time.Duration, extend bool) (Counter, error)
	// Reserve atomically adds one to the live counter at key when its value is below limit,
	// moves ExpiresAt to now+ttl, and reports true with the new state. A counter already at or
	// above limit is left exactly as it is (value and expiry) and reported with false, so a
	// refused reservation neither counts nor prolongs anything. A missing or expired counter
	// starts from zero. It is how "at most limit attempts" holds under any concurrency: the
	// slot is taken before the work it allows, never checked first and counted after.
	Reserve(ctx context.Context, key string, limit int64, now time.Time, ttl time.Duration) (Counter, bool, error)
	// GetCounter returns the live counter at key, or Counter{Key: key} (N == 0, zero ExpiresAt)
	// when it is missing or expired.
	GetCounter(ctx context.Context, key string, now time.Time) (Counter, error)
	// DeleteCounter removes the counter; removing a missing counter is not an error.
	DeleteCounter(ctx context.Context, key string) error
	// ListCounters returns live counters whose key starts with prefix and whose N >= min,
	// at most limit of them (limit <= 0 means no limit), in byte-wise key order. The prefix is
	// literal ('%', '_' and '*' have no special meaning).
	ListCounters(ctx context.Context, prefix string, min int64, now time.Time, limit int) ([]Counter, error)
}

// OTPSteps keeps, per TOTP device, the last time step that was accepted, so a code can be used once.
type OTPSteps interface {
	// ClaimStep atomically records step for device when it is greater than the stored one and
	// reports true; it reports false (a replay) when step is at or before the stored one.
	ClaimStep(ctx context.Context, device string, step int64) (bool, error)
	// ResetSteps forgets the device's state (on re-enrollment).
	ResetSteps(ctx context.Context, device string) error
}

// User is an account.
type User struct {
	// ID is assigned by the backend on CreateUser (a decimal or random string; treat as opaque).
	ID string
	// Username is unique, compared case-insensitively (after the caller's normalisation).
	Username string
	// Email is unique when not empty, compared case-insensitively.
	Email        string
	PasswordHash string
	IsActive     bool
	IsStaff      bool
	// IsSuperuser users hold every permission (see Permissions) without being granted it.
	IsSuperuser bool
	DateJoined  time.Time
	// LastLogin is the zero time until the first login.
	LastLogin time.Time
	// TOTPSecret is the enrolled TOTP secret, sealed by the caller (never stored in the clear).
	TOTPSecret []byte
	// TOTPEnabled is true once enrollment was confirmed with a first code.
	TOTPEnabled bool
	// DeviceEpoch is bumped to revoke every remembered device at once.
	DeviceEpoch int64
	// PermsVersion changes whenever the user's permissions change (a grant or revoke for the
	// user, a group joined or left, a change to one of the user's groups). It is kept by the
	// backend: CreateUser starts it at 0 whatever u holds, UpdateUser leaves it as stored (a
	// stale copy of the user written back must not undo a bump), and the Permissions methods
	// move it forward. Because the user is loaded on every request anyway, a cache of
	// permissions keyed by (ID, PermsVersion) is invalidated on every instance at once.
	PermsVersion int64
}

// Users keeps accounts.
type Users interface {
	// CreateUser stores u with a new ID and returns it; ErrConflict when the username or
	// non-empty e-mail is taken (case-insensitively).
	CreateUser(ctx context.Context, u User) (User, error)
	// UserByID, UserByUsername and UserByEmail return ErrNotFound when there is no such user.
	// Username lookups compare UsernameKey; e-mail lookups are case-insensitive
	// (strings.ToLower on both sides). An
	// empty e-mail never matches, not even users without one; an ID not issued by the backend
	// (including "007" for "7") is ErrNotFound, not another error.
	UserByID(ctx context.Context, id string) (User, error)
	UserByUsername(ctx context.Context, username string) (User, error)
	UserByEmail(ctx context.Context, email string) (User, error)
	// UpdateUser replaces every field of the user with u.ID but PermsVersion; ErrNotFound when it does not
	// exist, ErrConflict when the new username or e-mail is taken by another user.
	UpdateUser(ctx context.Context, u User) error
	// ListUsers returns up to limit users ordered by username, starting after the username
	// `after`. Order and `after` use the lower-cased username compared byte-wise, so pages are
	// stable across backends; limit <= 0 means no limit.
	ListUsers(ctx context.Context, after string, limit int) ([]User, error)
}

// BackupCodes keeps hashed single-use second-factor backup codes.
type BackupCodes interface {
	// ReplaceBackupCodes drops every code of userID and stores hashes in their place.
	ReplaceBackupCodes(ctx context.Context, userID string, hashes []string) error
	// UseBackupCode atomically deletes the code with this hash and reports whether it existed.
	UseBackupCode(ctx context.Context, userID, hash string) (bool, error)
	// CountBackupCodes reports how many unused codes userID has.
	CountBackupCodes(ctx context.Context, userID string) (int, error)
}

// Event is one security event (login failure, lockout, CSRF rejection, CSP report...).
type Event struct {
	// ID is assigned by the backend; events sort by it.
	ID       int64
	Time     time.Time
	Kind     string
	UserID   string
	Username string
	IP       string
	Detail   string
}

// Events is the stored audit trail.
type Events interface {
	// AppendEvent stores e with a new ID.
	AppendEvent(ctx context.Context, e Event) error
	// RecentEvents returns up to limit events, newest (highest ID) first; limit <= 0 returns
	// none. Backends cap the stored trail as they append, not only at Sweep, so that no rate of
	// events can fill the disk between sweeps (Redis and the memory store keep the latest
	// 10000 by default; PostgreSQL the latest 100,000; SQLite 100,000 and up to 1% more).
	RecentEvents(ctx context.Context, limit int) ([]Event, error)
}

// EventQueue is an optional extension of Events for backends that can take an event without
// waiting (store/memory, and store/sqlite while it batches writes). TryAppendEvent stores or
// queues e and reports true, or reports false at once when only AppendEvent can store it. The
// audit package uses it to skip the goroutine and timer that bound a store that may block.
type EventQueue interface {
	TryAppendEvent(e Event) bool
}

// Store is everything a backend provides.
type Store interface {
	Sessions
	Counters
	OTPSteps
	Users
	BackupCodes
	Events
	// Ping reports whether the backend answers (for /healthz and fail-closed decisions).
	Ping(ctx context.Context) error
	// Sweep removes expired sessions and counters older than now; backends with native
	// expiry (Redis) may do nothing.
	Sweep(ctx context.Context, now time.Time) error
	// Close releases the backend's resources.
	Close() error
}

// Passkey is one WebAuthn credential (a passkey) registered by a user.
type Passkey struct {
	// ID is the credential ID chosen by the authenticator: arbitrary bytes, unique across users.
	ID []byte
	// UserID owns the passkey.
	UserID string
	// Name is the user's label for it ("laptop", "phone").
	Name string
	// Data is the credential record (public key, flags, transports), opaque to the store.
	Data []byte
	// SignCount is the authenticator's signature counter at its last accepted use.
	SignCount uint32
	CreatedAt time.Time
	// LastUsed is the zero time until the first login with it.
	LastUsed time.Time
}

// Passkeys keeps users' WebAuthn credentials. It is optional: the passkey layer checks for
// it with a type assertion, and every backend in this module provides it.
type Passkeys interface {
	// AddPasskey stores p; ErrConflict when a passkey with the same ID exists (for any user).
	AddPasskey(ctx context.Context, p Passkey) error
	// UserPasskeys lists userID's passkeys, oldest first (ties by ID, byte-wise).
	UserPasskeys(ctx context.Context, userID string) ([]Passkey, error)
	// PasskeyByID returns the passkey with this credential ID, or ErrNotFound.
	PasskeyByID(ctx context.Context, id []byte) (Passkey, error)
	// UsePasskey atomically records a login with the passkey: when count is greater than the
	// stored SignCount, or both are zero (authenticators without a counter), it stores count
	// and lastUsed and reports true. Otherwise the counter went backwards or stood still, the
	// sign of a cloned authenticator: nothing changes and it reports false. ErrNotFound when
	// there is no such passkey.
	UsePasskey(ctx context.Context, id []byte, count uint32, lastUsed time.Time) (bool, error)
	// DeletePasskey removes userID's passkey id and reports whether it existed; another
	// user's passkey with that ID is left alone (false).
	DeletePasskey(ctx context.Context, userID string, id []byte) (bool, error)
}

// Group is a named set of permissions; users in the group hold them.
type Group struct {
	Name string
	// Perms are the group's permissions, sorted byte-wise.
	Perms []string
}

// Grants is what a user holds, as Permissions.UserGrants returns it.
type Grants struct {
	// Groups are the names of the user's groups, sorted byte-wise.
	Groups []string
	// Perms are the permissions granted to the user directly, sorted byte-wise.
	Perms []string
	// Effective is Perms and every permission of the user's groups, sorted, without duplicates.
	Effective []string
}

// Permissions keeps permission grants to users and groups, and group membership, in the
// manner of Django's auth permissions and groups. A permission is an opaque string (the perms
// package checks their form, such as "comments.delete"); group names are opaque, compared
// exactly. Like Passkeys it is optional, found with a type assertion, so a backend written
// for Store keeps compiling; every backend in this module provides it.
//
// Every method that can change what a user holds moves the PermsVersion of each user
// affected forward, in the same atomic step as the change. Granting what is already held,
// or revoking what is not, is not an error (and reports false where a result is returned).
type Permissions interface {
	// GrantUserPerm gives userID perm; ErrNotFound when there is no such user.
	GrantUserPerm(ctx context.Context, userID, perm string) error
	// RevokeUserPerm takes perm from userID and reports whether it was granted directly.
	RevokeUserPerm(ctx context.Context, userID, perm string) (bool, error)
	// CreateGroup adds an empty group; ErrConflict when the name is taken.
	CreateGroup(ctx context.Context, name string) error
	// DeleteGroup removes the group, its permissions and its memberships, and reports
	// whether it existed.
	DeleteGroup(ctx context.Context, name string) (bool, error)
	// Groups lists every group with its permissions, by name (byte-wise).
	Groups(ctx context.Context) ([]Group, error)
	// GroupMembers lists the IDs of the group's users (in no particular order); ErrNotFound
	// when there is no such group.
	GroupMembers(ctx context.Context, name string) ([]string, error)
	// GrantGroupPerm gives the group perm; ErrNotFound when there is no such group.
	GrantGroupPerm(ctx context.Context, group, perm string) error
	// RevokeGroupPerm takes perm from the group and reports whether it held it.
	RevokeGroupPerm(ctx context.Context, group, perm string) (bool, error)
	// AddUserToGroup makes userID a member; ErrNotFound when the user or the group is missing.
	AddUserToGroup(ctx context.Context, userID, group string) error
	// RemoveUserFromGroup ends userID's membership and reports whether there was one.
	RemoveUserFromGroup(ctx context.Context, userID, group string) (bool, error)
	// UserGrants returns userID's groups, direct permissions and effective permissions in
	// one round trip to the backend; a user without any (or no such user) gets empty lists.
	UserGrants(ctx context.Context, userID string) (Grants, error)
}
