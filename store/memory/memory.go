// Package memory is an in-process store.Store: maps behind one mutex. It suits unit tests and a
// single instance that can lose its state on restart; several instances cannot share it.
package memory

import (
	"bytes"
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rampart-go/rampart/internal/comments"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/internal/common"
)

// Store keeps every kind of state in memory. The zero value is not usable; call New.
type Store struct {
	mu       sync.Mutex
	sessions map[string]store.Session
	byUser   map[string]map[string]struct{}
	counters map[string]store.Counter
	steps    map[string]int64
	users    map[string]store.User // by ID
	byName   map[string]string     // lower-cased username -> ID
	byEmail  map[string]string     // lower-cased e-mail -> ID
	lastID   int64
	codes    map[string]map[string]struct{}
	events   []store.Event
	comments []comments.Comment
	// lastComment is the last comment ID handed out: deleting the newest must not free its ID.
	lastComment int64
	passkeys    map[string]store.Passkey // by credential ID
	perms       permState
	// maxEvents caps the kept audit trail and comments, oldest dropped first, so memory
	// stays bounded.
	maxEvents int
}

var (
	_ store.Store       = (*Store)(nil)
	_ store.EventQueue  = (*Store)(nil)
	_ store.Passkeys    = (*Store)(nil)
	_ store.Permissions = (*Store)(nil)
)

// New returns an empty store.
func New() *Store {
	return &Store{
		sessions:  map[string]store.Session{},
		byUser:    map[string]map[string]struct{}{},
		counters:  map[string]store.Counter{},
		steps:     map[string]int64{},
		users:     map[string]store.User{},
		byName:    map[string]string{},
		byEmail:   map[string]string{},
		codes:     map[string]map[string]struct{}{},
		passkeys:  map[string]store.Passkey{},
		maxEvents: 10000,
		perms:     newPermState(),
	}
}

func cloneSession(s store.Session) store.Session {
	s.Data = bytes.Clone(s.Data)
	return s
}

// LoadSession implements store.Sessions.
func (m *Store) LoadSession(_ context.Context, key string, now time.Time) (store.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[key]
	if !ok || !s.ExpiresAt.After(now) {
		return store.Session{}, store.ErrNotFound
	}
	return cloneSession(s), nil
}

// SaveSession implements store.Sessions.
func (m *Store) SaveSession(_ context.Context, s store.Session) error {
	return m.saveSession(s, false)
}

func (m *Store) saveSession(s store.Session, mustExist bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.sessions[s.Key]
	if mustExist && !ok {
		return store.ErrNotFound
	}
	if ok && old.UserID == s.UserID {
		// Same owner (the common save after each request): the index is already right.
		m.sessions[s.Key] = cloneSession(s)
		return nil
	}
	m.deleteLocked(s.Key)
	m.sessions[s.Key] = cloneSession(s)
	if s.UserID != "" {
		idx := m.byUser[s.UserID]
		if idx == nil {
			idx = map[string]struct{}{}
			m.byUser[s.UserID] = idx
		}
		idx[s.Key] = struct{}{}
	}
	return nil
}

func (m *Store) deleteLocked(key string) bool {
	old, ok := m.sessions[key]
	if !ok {
		return false
	}
	delete(m.sessions, key)
	if idx := m.byUser[old.UserID]; idx != nil {
		delete(idx, key)
		if len(idx) == 0 {
			delete(m.byUser, old.UserID)
		}
	}
	return true
}

// UpdateSession replaces the session only if it still exists, else it returns
// store.ErrNotFound, so a request finishing after a logout cannot bring the session back
// (the session package's optional Updater).
func (m *Store) UpdateSession(_ context.Context, s store.Session) error {
	return m.saveSession(s, true)
}

// DeleteSession implements store.Sessions.
func (m *Store) DeleteSession(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.deleteLocked(key)
	return nil
}

// UserSessions implements store.Sessions.
func (m *Store) UserSessions(_ context.Context, userID string, now time.Time) ([]store.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.Session
	for key := range m.byUser[userID] {
		if s := m.sessions[key]; s.ExpiresAt.After(now) {
			out = append(out, cloneSession(s))
		}
	}
	common.SortSessions(out)
	return out, nil
}

// DeleteUserSessions implements store.Sessions.
func (m *Store) DeleteUserSessions(_ context.Context, userID, exceptKey string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for key := range m.byUser[userID] {
		if key != exceptKey && m.deleteLocked(key) {
			n++
		}
	}
	return n, nil
}

// Incr implements store.Counters.
func (m *Store) Incr(_ context.Context, key string, delta int64, now time.Time, ttl time.Duration, extend bool) (store.Counter, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.counters[key]
	if !ok || !c.ExpiresAt.After(now) {
		c = store.Counter{Key: key, ExpiresAt: now.Add(ttl)}
	} else if extend {
		c.ExpiresAt = now.Add(ttl)
	}
	c.N += delta
	m.counters[key] = c
	return c, nil
}

// Reserve implements store.Counters.
func (m *Store) Reserve(_ context.Context, key string, limit int64, now time.Time, ttl time.Duration) (store.Counter, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.counters[key]
	if !ok || !c.ExpiresAt.After(now) {
		c = store.Counter{Key: key}
	}
	if c.N >= limit {
		return c, false, nil
	}
	c.N++
	c.ExpiresAt = now.Add(ttl)
	m.counters[key] = c
	return c, true, nil
}

// GetCounter implements store.Counters.
func (m *Store) GetCounter(_ context.Context, key string, now time.Time) (store.Counter, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.counters[key]
	if !ok || !c.ExpiresAt.After(now) {
		return store.Counter{Key: key}, nil
	}
	return c, nil
}

// DeleteCounter implements store.Counters.
func (m *Store) DeleteCounter(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.counters, key)
	return nil
}

// ListCounters implements store.Counters.
func (m *Store) ListCounters(_ context.Context, prefix string, min int64, now time.Time, limit int) ([]store.Counter, error) {
	m.mu.Lock()
	var out []store.Counter
	for k, c := range m.counters {
		if strings.HasPrefix(k, prefix) && c.N >= min && c.ExpiresAt.After(now) {
			out = append(out, c)
		}
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b store.Counter) int { return strings.Compare(a.Key, b.Key) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// ClaimStep implements store.OTPSteps.
func (m *Store) ClaimStep(_ context.Context, device string, step int64) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if last, ok := m.steps[device]; ok && step <= last {
		return false, nil
	}
	m.steps[device] = step
	return true, nil
}

// ResetSteps implements store.OTPSteps.
func (m *Store) ResetSteps(_ context.Context, device string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.steps, device)
	return nil
}

func cloneUser(u store.User) store.User {
	u.TOTPSecret = bytes.Clone(u.TOTPSecret)
	return u
}

// taken reports whether the username or e-mail of u belongs to a user other than u.ID.
func (m *Store) taken(u store.User) bool {
	if id, ok := m.byName[store.UsernameKey(u.Username)]; ok && id != u.ID {
		return true
	}
	if u.Email != "" {
		if id, ok := m.byEmail[common.FoldKey(u.Email)]; ok && id != u.ID {
			return true
		}
	}
	return false
}

func (m *Store) index(u store.User) {
	m.byName[store.UsernameKey(u.Username)] = u.ID
	if u.Email != "" {
		m.byEmail[common.FoldKey(u.Email)] = u.ID
	}
}

func (m *Store) unindex(u store.User) {
	delete(m.byName, store.UsernameKey(u.Username))
	if u.Email != "" {
		delete(m.byEmail, common.FoldKey(u.Email))
	}
}

// CreateUser implements store.Users.
func (m *Store) CreateUser(_ context.Context, u store.User) (store.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u.ID = ""
	if m.taken(u) {
		return store.User{}, store.ErrConflict
	}
	m.lastID++
	u.ID = strconv.FormatInt(m.lastID, 10)
	u.PermsVersion = 0
	u = cloneUser(u)
	m.users[u.ID] = u
	m.index(u)
	return cloneUser(u), nil
}

// UserByID implements store.Users.
func (m *Store) UserByID(_ context.Context, id string) (store.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[id]
	if !ok {
		return store.User{}, store.ErrNotFound
	}
	return cloneUser(u), nil
}

func (m *Store) byIndex(idx map[string]string, key func(string) string, v string) (store.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id, ok := idx[key(v)]
	if !ok || v == "" {
		return store.User{}, store.ErrNotFound
	}
	return cloneUser(m.users[id]), nil
}

// UserByUsername implements store.Users.
func (m *Store) UserByUsername(_ context.Context, username string) (store.User, error) {
	return m.byIndex(m.byName, store.UsernameKey, username)
}

// UserByEmail implements store.Users.
func (m *Store) UserByEmail(_ context.Context, email string) (store.User, error) {
	return m.byIndex(m.byEmail, common.FoldKey, email)
}

// UpdateUser implements store.Users.
func (m *Store) UpdateUser(_ context.Context, u store.User) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.users[u.ID]
	if !ok {
		return store.ErrNotFound
	}
	if m.taken(u) {
		return store.ErrConflict
	}
	m.unindex(old)
	u = cloneUser(u)
	u.PermsVersion = old.PermsVersion
	m.users[u.ID] = u
	m.index(u)
	return nil
}

// ListUsers implements store.Users.
func (m *Store) ListUsers(_ context.Context, after string, limit int) ([]store.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	after = store.UsernameKey(after)
	names := make([]string, 0, len(m.byName))
	for k := range m.byName {
		if k > after {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	if limit > 0 && len(names) > limit {
		names = names[:limit]
	}
	out := make([]store.User, len(names))
	for i, k := range names {
		out[i] = cloneUser(m.users[m.byName[k]])
	}
	return out, nil
}

// ReplaceBackupCodes implements store.BackupCodes.
func (m *Store) ReplaceBackupCodes(_ context.Context, userID string, hashes []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	set := make(map[string]struct{}, len(hashes))
	for _, h := range hashes {
		set[h] = struct{}{}
	}
	m.codes[userID] = set
	return nil
}

// UseBackupCode implements store.BackupCodes.
func (m *Store) UseBackupCode(_ context.Context, userID, hash string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	set := m.codes[userID]
	if _, ok := set[hash]; !ok {
		return false, nil
	}
	delete(set, hash)
	return true, nil
}

// CountBackupCodes implements store.BackupCodes.
func (m *Store) CountBackupCodes(_ context.Context, userID string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.codes[userID]), nil
}

// AppendEvent implements store.Events.
func (m *Store) AppendEvent(_ context.Context, e store.Event) error {
	m.TryAppendEvent(e)
	return nil
}

// TryAppendEvent implements store.EventQueue: appending never waits.
func (m *Store) TryAppendEvent(e store.Event) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	e.ID = 1
	if n := len(m.events); n > 0 {
		e.ID = m.events[n-1].ID + 1
	}
	m.events = append(m.events, e)
	// Trim in bulk once the list holds twice the cap: amortised O(1) per event, where
	// trimming on every append would copy the whole list each time (an audit flood).
	if len(m.events) >= 2*m.maxEvents {
		m.events = append(m.events[:0], m.events[len(m.events)-m.maxEvents:]...)
	}
	return true
}

// RecentEvents implements store.Events.
func (m *Store) RecentEvents(_ context.Context, limit int) ([]store.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if limit <= 0 {
		return nil, nil
	}
	n := min(limit, len(m.events), m.maxEvents)
	out := make([]store.Event, n)
	for i := range n {
		out[i] = m.events[len(m.events)-1-i]
	}
	return out, nil
}

// AddComment implements comments.Store.
func (m commentTable) AddComment(_ context.Context, c comments.Comment) (comments.Comment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lastComment++
	c.ID = m.lastComment
	m.comments = append(m.comments, c)
	// The same bound as the audit trail (amortised: trimmed when twice as long).
	if len(m.comments) >= 2*m.maxEvents {
		m.comments = append(m.comments[:0], m.comments[len(m.comments)-m.maxEvents:]...)
	}
	return c, nil
}

// RecentComments implements comments.Store.
func (m commentTable) RecentComments(_ context.Context, limit int) ([]comments.Comment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if limit <= 0 {
		return nil, nil
	}
	n := min(limit, len(m.comments), m.maxEvents)
	out := make([]comments.Comment, n)
	for i := range n {
		out[i] = m.comments[len(m.comments)-1-i]
	}
	return out, nil
}

func clonePasskey(p store.Passkey) store.Passkey {
	p.ID, p.Data = bytes.Clone(p.ID), bytes.Clone(p.Data)
	return p
}

// AddPasskey implements store.Passkeys.
func (m *Store) AddPasskey(_ context.Context, p store.Passkey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.passkeys[string(p.ID)]; ok {
		return store.ErrConflict
	}
	p.CreatedAt, p.LastUsed = common.FromMicros(common.Micros(p.CreatedAt)), common.FromMicros(common.Micros(p.LastUsed))
	m.passkeys[string(p.ID)] = clonePasskey(p)
	return nil
}

// UserPasskeys implements store.Passkeys. It scans every passkey: the memory store is for
// tests and small single instances.
func (m *Store) UserPasskeys(_ context.Context, userID string) ([]store.Passkey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.Passkey
	for _, p := range m.passkeys {
		if p.UserID == userID {
			out = append(out, clonePasskey(p))
		}
	}
	slices.SortFunc(out, func(a, b store.Passkey) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return bytes.Compare(a.ID, b.ID)
	})
	return out, nil
}

// PasskeyByID implements store.Passkeys.
func (m *Store) PasskeyByID(_ context.Context, id []byte) (store.Passkey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.passkeys[string(id)]
	if !ok {
		return store.Passkey{}, store.ErrNotFound
	}
	return clonePasskey(p), nil
}

// UsePasskey implements store.Passkeys.
func (m *Store) UsePasskey(_ context.Context, id []byte, count uint32, lastUsed time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.passkeys[string(id)]
	if !ok {
		return false, store.ErrNotFound
	}
	if count <= p.SignCount && (count != 0 || p.SignCount != 0) {
		return false, nil
	}
	p.SignCount, p.LastUsed = count, common.FromMicros(common.Micros(lastUsed))
	m.passkeys[string(id)] = p
	return true, nil
}

// DeletePasskey implements store.Passkeys.
func (m *Store) DeletePasskey(_ context.Context, userID string, id []byte) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.passkeys[string(id)]
	if !ok || p.UserID != userID {
		return false, nil
	}
	delete(m.passkeys, string(id))
	return true, nil
}

// Ping implements store.Store; memory always answers.
func (m *Store) Ping(context.Context) error { return nil }

// Sweep implements store.Store.
func (m *Store) Sweep(_ context.Context, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, s := range m.sessions {
		if !s.ExpiresAt.After(now) {
			m.deleteLocked(k)
		}
	}
	for k, c := range m.counters {
		if !c.ExpiresAt.After(now) {
			delete(m.counters, k)
		}
	}
	return nil
}

// Close implements store.Store; it does nothing.
func (m *Store) Close() error { return nil }

// CommentByID implements comments.Deleter.
func (m commentTable) CommentByID(_ context.Context, id int64) (comments.Comment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i, ok := slices.BinarySearchFunc(m.comments, id, func(c comments.Comment, id int64) int { return cmp.Compare(c.ID, id) })
	if !ok {
		return comments.Comment{}, store.ErrNotFound
	}
	return m.comments[i], nil
}

// DeleteComment implements comments.Deleter.
func (m commentTable) DeleteComment(_ context.Context, id int64) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i, ok := slices.BinarySearchFunc(m.comments, id, func(c comments.Comment, id int64) int { return cmp.Compare(c.ID, id) })
	if ok {
		m.comments = slices.Delete(m.comments, i, i+1)
	}
	return ok, nil
}

// commentTable is the reference application's comments table (see internal/comments). The
// store keeps the table and trims it, but its methods are reached only through
// comments.For, so they are no part of the exported Store.
type commentTable struct{ *Store }

func init() {
	comments.Register(func(st any) (comments.Store, bool) {
		s, ok := st.(*Store)
		return commentTable{s}, ok && s != nil
	})
}
