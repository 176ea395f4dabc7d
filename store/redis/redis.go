// Package redis is a store.Store on Redis (7.0 or later) through go-redis v9, for several
// application instances sharing sessions, lockout and rate-limit state.
//
// Every operation is one round trip: a plain command, a MULTI/EXEC pipeline or a Lua script.
// Scripts make the check-and-set operations atomic (counters, TOTP steps, unique usernames).
// Sessions and counters carry a native TTL at their ExpiresAt, so Redis forgets them without a
// sweep; the expiry is also stored in the item and compared with the caller's now, so results
// match the SQL backends under an injected clock. Scripts build some key names from the prefix,
// which is fine on one Redis server or a Sentinel group (Open takes redis+sentinel:// URLs;
// every command goes to the current master), and on Redis Cluster (redis+cluster://) only
// because Open requires a prefix with a hash tag there, which puts every key in one slot.
//
// Layout under the prefix P: P+"s:"+key session hash; P+"us:"+user sorted set of the user's
// session keys; P+"c:"+key counter hash and P+"ci" the lexical index of counter keys;
// P+"otp:"+device last step; P+"u:"+id user hash, P+"un:"/P+"ue:" folded username/e-mail to
// ID, P+"ul" lexical index of folded usernames, P+"uid" the ID sequence; P+"bc:"+user backup
// code set; P+"ev" the capped event list and P+"eid" its ID sequence; P+"pk:"+credential ID
// passkey hash and P+"upk:"+user the user's passkey IDs, scored by creation time. Permissions
// (perms.go): P+"uperm:"+user the user's permissions, P+"ugrp:"+user the user's groups,
// P+"grps" every group name, P+"grp:"+name a group's permissions, P+"grpm:"+name its members;
// the user hash's field "pv" is the PermsVersion.
package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/rampart-go/rampart/internal/comments"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/internal/common"
)

// Options tune Open and New. The zero value uses the prefix "rampart:" and keeps 10000 events.
type Options struct {
	// KeyPrefix namespaces every key, so one Redis can serve several applications (and tests
	// can isolate themselves with a random prefix). Empty means "rampart:".
	KeyPrefix string
	// MaxEvents caps the stored audit trail (oldest dropped first); 0 means 10000.
	MaxEvents int
	// MaxComments caps the reference app's stored comments (oldest dropped first); 0 means 10000.
	MaxComments int
	// Timeout bounds each command, pipeline and script when the caller's context allows
	// more, retries included (0 means store.DefaultTimeout; negative means no bound but the
	// caller's context). A frozen or unreachable server then fails the operation with
	// context.DeadlineExceeded instead of holding the request. It is applied by a hook that
	// New adds to the client; go-redis honours a context's deadline only with
	// Options.ContextTimeoutEnabled, which Open sets and a client given to New must set.
	Timeout time.Duration
	// Observer, when set, is told of every command and pipeline (scripts and MULTI/EXEC
	// included): how long it took and its error (package metrics).
	Observer store.Observer
}

// Store is a store.Store on one Redis server (or the master of a Sentinel group).
type Store struct {
	c           goredis.UniversalClient
	p           string
	maxEvents   int
	maxComments int
}

var (
	_ store.Store       = (*Store)(nil)
	_ store.Passkeys    = (*Store)(nil)
	_ store.Permissions = (*Store)(nil)
)

// route is the KEYS argument of the scripts that name all their keys from the prefix: a key
// under the prefix, unused by the script, so that a Cluster client sends the script to the node
// that holds the prefix's slot (on one server it changes nothing).
func (s *Store) route() []string { return []string{s.p + "ul"} }

// ErrClusterPrefix is returned by Open for a Redis Cluster URL with a KeyPrefix that has no
// hash tag: the scripts touch several keys built from the prefix, which must hash to one slot.
var ErrClusterPrefix = errors.New("redis: on Redis Cluster, Options.KeyPrefix must contain a hash tag such as {rampart}, so that every key hashes to one slot")

// hasHashTag reports whether p contains a non-empty {…} hash tag, which makes Redis Cluster
// hash every key under p to the same slot.
func hasHashTag(p string) bool {
	i := strings.IndexByte(p, '{')
	if i < 0 {
		return false
	}
	j := strings.IndexByte(p[i+1:], '}')
	return j > 0
}

// Open connects to the Redis at url (redis://[user:password@]host:port/db, rediss:// for
// TLS, or the master of a Sentinel group: redis+sentinel://[[user]:password@]host1:26379,
// host2:26379/MASTERNAME/DB, see settings.ParseRedisURL) and checks that it answers. Over
// Sentinel the store follows failovers: operations fail (within Options.Timeout) while no
// master is reachable and work again once the sentinels have promoted a replica.
//
// A Redis Cluster URL (redis+cluster://host1:6379,host2:6379) is taken too, with every key under
// one hash-tagged prefix (default "{rampart}:"; a KeyPrefix without a hash tag is refused with
// ErrClusterPrefix): all of rampart's keys then live in one slot, on one master and its
// replicas, so the cluster gives failover but does not spread rampart's data over its masters.
func Open(ctx context.Context, url string, opt Options) (*Store, error) {
	if IsClusterURL(url) {
		if opt.KeyPrefix == "" {
			opt.KeyPrefix = "{rampart}:"
		}
		if !hasHashTag(opt.KeyPrefix) {
			return nil, ErrClusterPrefix
		}
	}
	c, err := newClient(url, 0)
	if err != nil {
		return nil, err
	}
	s := New(c, opt)
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// New wraps an existing client (for Sentinel or custom TLS settings). Close closes it. It adds
// a hook to the client that applies opt.Timeout to every command; set the client's
// ContextTimeoutEnabled so that the bound reaches its socket reads and writes.
func New(c goredis.UniversalClient, opt Options) *Store {
	if d := common.Timeout(opt.Timeout); d > 0 {
		c.AddHook(deadlineHook(d))
	}
	if opt.Observer != nil {
		c.AddHook(observeHook{opt.Observer})
	}
	s := &Store{c: c, p: opt.KeyPrefix, maxEvents: opt.MaxEvents}
	if s.p == "" {
		s.p = "rampart:"
	}
	if s.maxEvents <= 0 {
		s.maxEvents = 10000
	}
	s.maxComments = opt.MaxComments
	if s.maxComments <= 0 {
		s.maxComments = 10000
	}
	return s
}

// deadlineHook bounds every command and pipeline of the client (common.WithTimeout): the one
// place where the store's operations meet the network, scripts and MULTI/EXEC included.
type deadlineHook time.Duration

func (h deadlineHook) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h deadlineHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		ctx, cancel := common.WithTimeout(ctx, time.Duration(h))
		defer cancel()
		return next(ctx, cmd)
	}
}

func (h deadlineHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		ctx, cancel := common.WithTimeout(ctx, time.Duration(h))
		defer cancel()
		return next(ctx, cmds)
	}
}

// observeHook tells Options.Observer of every command and pipeline.
type observeHook struct{ o store.Observer }

func (h observeHook) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h observeHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if setup(cmd) {
			return next(ctx, cmd)
		}
		start := time.Now()
		err := next(ctx, cmd)
		h.observe("command", start, err)
		return err
	}
}

func (h observeHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		if len(cmds) > 0 && setup(cmds[0]) {
			return next(ctx, cmds)
		}
		start := time.Now()
		err := next(ctx, cmds)
		h.observe("pipeline", start, err)
		return err
	}
}

// setup reports a command of go-redis's connection handshake (HELLO, AUTH, SELECT, CLIENT
// SETINFO...), which the store never sends: its errors on older servers are expected and
// ignored by go-redis, and are no store failure.
func setup(cmd goredis.Cmder) bool {
	switch cmd.Name() {
	case "hello", "auth", "select", "client":
		return true
	}
	return false
}

func (h observeHook) observe(op string, start time.Time, err error) {
	if errors.Is(err, goredis.Nil) {
		err = nil // a missing key is an answer
	}
	h.o.ObserveStore("redis", op, time.Since(start), err)
}

func wrap(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("redis store: %w", err)
}

func us(t time.Time) string { return strconv.FormatInt(common.Micros(t), 10) }

// ms is the wall-clock expiry for PEXPIREAT, rounded up so Redis never forgets an item before
// its stored ExpiresAt.
func ms(t time.Time) string {
	m := t.UnixMilli()
	if t.UnixMicro()%1000 != 0 {
		m++
	}
	return strconv.FormatInt(m, 10)
}

func parseUs(s string) time.Time {
	n, _ := strconv.ParseInt(s, 10, 64)
	return common.FromMicros(n)
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// saveSessionScript writes the session and moves it between per-user indexes; with ARGV[12]
// = "1" it only replaces an existing session (returns 0 when there is none).
var saveSessionScript = goredis.NewScript(`
local old = redis.call('HGET', KEYS[1], 'u')
if ARGV[12] == '1' and not old then return 0 end
if old and old ~= '' and old ~= ARGV[3] then redis.call('ZREM', ARGV[1] .. 'us:' .. old, ARGV[2]) end
redis.call('HSET', KEYS[1], 'u', ARGV[3], 'd', ARGV[4], 'ip', ARGV[5], 'ua', ARGV[6], 'c', ARGV[7], 'l', ARGV[8], 'e', ARGV[9])
redis.call('PEXPIREAT', KEYS[1], ARGV[10])
if ARGV[3] ~= '' then
	local ik = ARGV[1] .. 'us:' .. ARGV[3]
	redis.call('ZADD', ik, ARGV[11], ARGV[2])
	local cur = redis.call('PEXPIRETIME', ik)
	if cur == -1 or cur < tonumber(ARGV[10]) then redis.call('PEXPIREAT', ik, ARGV[10]) end
end
return 1`)

var sessionFields = []string{"u", "d", "ip", "ua", "c", "l", "e"}

func decodeSession(key string, v []any) store.Session {
	return store.Session{
		Key: key, UserID: str(v[0]), Data: []byte(str(v[1])), IP: str(v[2]), UserAgent: str(v[3]),
		CreatedAt: parseUs(str(v[4])), LastSeen: parseUs(str(v[5])), ExpiresAt: parseUs(str(v[6])),
	}
}

// LoadSession implements store.Sessions.
func (s *Store) LoadSession(ctx context.Context, key string, now time.Time) (store.Session, error) {
	v, err := s.c.HMGet(ctx, s.p+"s:"+key, sessionFields...).Result()
	if err != nil {
		return store.Session{}, wrap(err)
	}
	if v[6] == nil {
		return store.Session{}, store.ErrNotFound
	}
	x := decodeSession(key, v)
	if !x.ExpiresAt.After(now) {
		return store.Session{}, store.ErrNotFound
	}
	return x, nil
}

// SaveSession implements store.Sessions.
func (s *Store) SaveSession(ctx context.Context, x store.Session) error {
	_, err := s.saveSession(ctx, x, "0")
	return err
}

// UpdateSession replaces the session only if it still exists, else it returns
// store.ErrNotFound, so a request finishing after a logout cannot bring the session back
// (the session package's optional Updater).
func (s *Store) UpdateSession(ctx context.Context, x store.Session) error {
	n, err := s.saveSession(ctx, x, "1")
	if err == nil && n == 0 {
		return store.ErrNotFound
	}
	return err
}

func (s *Store) saveSession(ctx context.Context, x store.Session, onlyExisting string) (int, error) {
	n, err := saveSessionScript.Run(ctx, s.c, []string{s.p + "s:" + x.Key},
		s.p, x.Key, x.UserID, x.Data, x.IP, x.UserAgent, us(x.CreatedAt), us(x.LastSeen), us(x.ExpiresAt),
		ms(x.ExpiresAt), x.LastSeen.UnixMilli(), onlyExisting).Int()
	return n, wrap(err)
}

var deleteSessionScript = goredis.NewScript(`
local u = redis.call('HGET', KEYS[1], 'u')
redis.call('DEL', KEYS[1])
if u and u ~= '' then redis.call('ZREM', ARGV[1] .. 'us:' .. u, ARGV[2]) end
return 1`)

// DeleteSession implements store.Sessions.
func (s *Store) DeleteSession(ctx context.Context, key string) error {
	return wrap(deleteSessionScript.Run(ctx, s.c, []string{s.p + "s:" + key}, s.p, key).Err())
}

// userSessionsScript returns key and fields of each indexed session still owned by the user,
// pruning index entries whose session expired or moved to another user.
var userSessionsScript = goredis.NewScript(`
local out = {}
for _, k in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
	local v = redis.call('HMGET', ARGV[1] .. 's:' .. k, 'u', 'd', 'ip', 'ua', 'c', 'l', 'e')
	if v[1] == ARGV[2] then
		table.insert(out, k)
		for i = 1, 7 do table.insert(out, v[i]) end
	else
		redis.call('ZREM', KEYS[1], k)
	end
end
return out`)

// UserSessions implements store.Sessions.
func (s *Store) UserSessions(ctx context.Context, userID string, now time.Time) ([]store.Session, error) {
	if userID == "" {
		return nil, nil
	}
	v, err := userSessionsScript.Run(ctx, s.c, []string{s.p + "us:" + userID}, s.p, userID).Slice()
	if err != nil {
		return nil, wrap(err)
	}
	var out []store.Session
	for i := 0; i+8 <= len(v); i += 8 {
		x := decodeSession(str(v[i]), v[i+1:i+8])
		if x.ExpiresAt.After(now) {
			out = append(out, x)
		}
	}
	common.SortSessions(out)
	return out, nil
}

var deleteUserSessionsScript = goredis.NewScript(`
local n = 0
for _, k in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
	if k ~= ARGV[3] then
		local sk = ARGV[1] .. 's:' .. k
		if redis.call('HGET', sk, 'u') == ARGV[2] then n = n + redis.call('DEL', sk) end
		redis.call('ZREM', KEYS[1], k)
	end
end
return n`)

// DeleteUserSessions implements store.Sessions.
func (s *Store) DeleteUserSessions(ctx context.Context, userID, exceptKey string) (int, error) {
	if userID == "" {
		return 0, nil
	}
	n, err := deleteUserSessionsScript.Run(ctx, s.c, []string{s.p + "us:" + userID}, s.p, userID, exceptKey).Int()
	return n, wrap(err)
}

// incrScript keeps N and the expiry (µs) in a hash; the stored expiry, not the TTL, decides
// liveness, so an injected clock gives the same answers as on SQL.
var incrScript = goredis.NewScript(`
local e = redis.call('HGET', KEYS[1], 'e')
local n
if e and tonumber(e) > tonumber(ARGV[2]) then
	n = redis.call('HINCRBY', KEYS[1], 'n', ARGV[1])
	if ARGV[4] == '1' then
		e = ARGV[3]
		redis.call('HSET', KEYS[1], 'e', e)
		redis.call('PEXPIREAT', KEYS[1], ARGV[5])
	end
else
	redis.call('HSET', KEYS[1], 'n', ARGV[1], 'e', ARGV[3])
	redis.call('PEXPIREAT', KEYS[1], ARGV[5])
	redis.call('ZADD', KEYS[2], 0, ARGV[6])
	n = tonumber(ARGV[1])
	e = ARGV[3]
end
return {n, e}`)

// Incr implements store.Counters.
func (s *Store) Incr(ctx context.Context, key string, delta int64, now time.Time, ttl time.Duration, extend bool) (store.Counter, error) {
	exp := now.Add(ttl)
	ext := "0"
	if extend {
		ext = "1"
	}
	v, err := incrScript.Run(ctx, s.c, []string{s.p + "c:" + key, s.p + "ci"},
		delta, us(now), us(exp), ext, ms(exp), key).Slice()
	if err != nil {
		return store.Counter{}, wrap(err)
	}
	if len(v) != 2 {
		return store.Counter{}, errors.New("redis: unexpected counter reply")
	}
	n, _ := v[0].(int64)
	return store.Counter{Key: key, N: n, ExpiresAt: parseUs(str(v[1]))}, nil
}

// reserveScript is Reserve: like incrScript, with the limit tested inside the script so that
// racing reservations from any number of instances never pass it. It returns {taken, n, e}.
var reserveScript = goredis.NewScript(`
local e = redis.call('HGET', KEYS[1], 'e')
local n = 0
if e and tonumber(e) > tonumber(ARGV[1]) then
	n = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
	if n >= tonumber(ARGV[3]) then
		return {0, n, e}
	end
	n = redis.call('HINCRBY', KEYS[1], 'n', 1)
	redis.call('HSET', KEYS[1], 'e', ARGV[2])
else
	if tonumber(ARGV[3]) < 1 then
		return {0, 0, ''}
	end
	redis.call('HSET', KEYS[1], 'n', 1, 'e', ARGV[2])
	redis.call('ZADD', KEYS[2], 0, ARGV[5])
	n = 1
end
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
return {1, n, ARGV[2]}`)

// Reserve implements store.Counters.
func (s *Store) Reserve(ctx context.Context, key string, limit int64, now time.Time, ttl time.Duration) (store.Counter, bool, error) {
	exp := now.Add(ttl)
	v, err := reserveScript.Run(ctx, s.c, []string{s.p + "c:" + key, s.p + "ci"},
		us(now), us(exp), limit, ms(exp), key).Slice()
	if err != nil {
		return store.Counter{}, false, wrap(err)
	}
	if len(v) != 3 {
		return store.Counter{}, false, errors.New("redis: unexpected counter reply")
	}
	taken, _ := v[0].(int64)
	n, _ := v[1].(int64)
	c := store.Counter{Key: key, N: n}
	if n > 0 {
		c.ExpiresAt = parseUs(str(v[2]))
	}
	return c, taken == 1, nil
}

// GetCounter implements store.Counters.
func (s *Store) GetCounter(ctx context.Context, key string, now time.Time) (store.Counter, error) {
	v, err := s.c.HMGet(ctx, s.p+"c:"+key, "n", "e").Result()
	if err != nil {
		return store.Counter{}, wrap(err)
	}
	c := store.Counter{Key: key}
	if v[0] == nil || v[1] == nil {
		return c, nil
	}
	exp := parseUs(str(v[1]))
	if !exp.After(now) {
		return c, nil
	}
	c.N, _ = strconv.ParseInt(str(v[0]), 10, 64)
	c.ExpiresAt = exp
	return c, nil
}

// DeleteCounter implements store.Counters.
func (s *Store) DeleteCounter(ctx context.Context, key string) error {
	_, err := s.c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.Del(ctx, s.p+"c:"+key)
		p.ZRem(ctx, s.p+"ci", key)
		return nil
	})
	return wrap(err)
}

// listCountersScript walks the lexical index from the prefix on, in batches, stopping at the
// first key without the prefix; index entries of counters Redis already expired are pruned.
var listCountersScript = goredis.NewScript(`
local out = {}
local count = 0
local prefix = ARGV[2]
local plen = string.len(prefix)
local min = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local lim = tonumber(ARGV[5])
local start = '[' .. prefix
while true do
	local batch = redis.call('ZRANGEBYLEX', KEYS[1], start, '+', 'LIMIT', 0, 256)
	if #batch == 0 then return out end
	for _, k in ipairs(batch) do
		if string.sub(k, 1, plen) ~= prefix then return out end
		local v = redis.call('HMGET', ARGV[1] .. 'c:' .. k, 'n', 'e')
		if not v[1] then
			redis.call('ZREM', KEYS[1], k)
		elseif tonumber(v[1]) >= min and tonumber(v[2]) > now then
			table.insert(out, k)
			table.insert(out, v[1])
			table.insert(out, v[2])
			count = count + 1
			if lim > 0 and count >= lim then return out end
		end
	end
	start = '(' .. batch[#batch]
end`)

// ListCounters implements store.Counters.
func (s *Store) ListCounters(ctx context.Context, prefix string, min int64, now time.Time, limit int) ([]store.Counter, error) {
	v, err := listCountersScript.Run(ctx, s.c, []string{s.p + "ci"}, s.p, prefix, min, us(now), max(limit, 0)).Slice()
	if err != nil {
		return nil, wrap(err)
	}
	var out []store.Counter
	for i := 0; i+3 <= len(v); i += 3 {
		n, _ := strconv.ParseInt(str(v[i+1]), 10, 64)
		out = append(out, store.Counter{Key: str(v[i]), N: n, ExpiresAt: parseUs(str(v[i+2]))})
	}
	return out, nil
}

var claimStepScript = goredis.NewScript(`
local c = redis.call('GET', KEYS[1])
if c and tonumber(ARGV[1]) <= tonumber(c) then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1`)

// ClaimStep implements store.OTPSteps with a compare-and-set script.
func (s *Store) ClaimStep(ctx context.Context, device string, step int64) (bool, error) {
	n, err := claimStepScript.Run(ctx, s.c, []string{s.p + "otp:" + device}, step).Int()
	if err != nil {
		return false, wrap(err)
	}
	return n == 1, nil
}

// ResetSteps implements store.OTPSteps.
func (s *Store) ResetSteps(ctx context.Context, device string) error {
	return wrap(s.c.Del(ctx, s.p+"otp:"+device).Err())
}

// userFields flattens u into hash field/value pairs (without the ID).
func userFields(u store.User) []any {
	b := func(v bool) string {
		if v {
			return "1"
		}
		return "0"
	}
	return []any{
		"un", u.Username, "uk", store.UsernameKey(u.Username), "em", u.Email, "ek", emailKey(u.Email),
		"ph", u.PasswordHash, "ac", b(u.IsActive), "st", b(u.IsStaff), "dj", us(u.DateJoined), "ll", us(u.LastLogin),
		"ts", u.TOTPSecret, "te", b(u.TOTPEnabled), "de", u.DeviceEpoch, "su", b(u.IsSuperuser),
	}
}

func emailKey(email string) string {
	if email == "" {
		return ""
	}
	return common.FoldKey(email)
}

// decodeUser reads the flat HGETALL reply of a user hash.
func decodeUser(v []any) (store.User, bool) {
	m := make(map[string]string, len(v)/2)
	for i := 0; i+2 <= len(v); i += 2 {
		m[str(v[i])] = str(v[i+1])
	}
	return userFromMap(m)
}

func userFromMap(m map[string]string) (store.User, bool) {
	if m["id"] == "" {
		return store.User{}, false
	}
	u := store.User{
		ID: m["id"], Username: m["un"], Email: m["em"], PasswordHash: m["ph"],
		IsActive: m["ac"] == "1", IsStaff: m["st"] == "1", DateJoined: parseUs(m["dj"]), LastLogin: parseUs(m["ll"]),
		TOTPEnabled: m["te"] == "1",
	}
	if ts := m["ts"]; ts != "" {
		u.TOTPSecret = []byte(ts)
	}
	u.DeviceEpoch, _ = strconv.ParseInt(m["de"], 10, 64)
	u.IsSuperuser = m["su"] == "1"
	u.PermsVersion, _ = strconv.ParseInt(m["pv"], 10, 64) // absent until the first change
	return u, true
}

// createUserScript checks both unique indexes and writes the user and its index entries in
// one atomic step, so racing creates cannot both win.
var createUserScript = goredis.NewScript(`
local p = ARGV[1]
if redis.call('EXISTS', p .. 'un:' .. ARGV[2]) == 1 then return -1 end
if ARGV[3] ~= '' and redis.call('EXISTS', p .. 'ue:' .. ARGV[3]) == 1 then return -1 end
local id = redis.call('INCR', p .. 'uid')
redis.call('HSET', p .. 'u:' .. id, 'id', id, unpack(ARGV, 4))
redis.call('SET', p .. 'un:' .. ARGV[2], id)
if ARGV[3] ~= '' then redis.call('SET', p .. 'ue:' .. ARGV[3], id) end
redis.call('ZADD', p .. 'ul', 0, ARGV[2])
return id`)

// CreateUser implements store.Users.
func (s *Store) CreateUser(ctx context.Context, u store.User) (store.User, error) {
	args := append([]any{s.p, store.UsernameKey(u.Username), emailKey(u.Email)}, userFields(u)...)
	id, err := createUserScript.Run(ctx, s.c, s.route(), args...).Int64()
	if err != nil {
		return store.User{}, wrap(err)
	}
	if id < 0 {
		return store.User{}, store.ErrConflict
	}
	u.ID = strconv.FormatInt(id, 10)
	u.PermsVersion = 0
	return u, nil
}

// validID accepts only the canonical decimal IDs the store hands out, so an ID can neither
// alias another ("007") nor reach another key (":x").
func validID(id string) bool {
	n, err := strconv.ParseInt(id, 10, 64)
	return err == nil && n > 0 && strconv.FormatInt(n, 10) == id
}

// UserByID implements store.Users.
func (s *Store) UserByID(ctx context.Context, id string) (store.User, error) {
	if !validID(id) {
		return store.User{}, store.ErrNotFound
	}
	m, err := s.c.HGetAll(ctx, s.p+"u:"+id).Result()
	if err != nil {
		return store.User{}, wrap(err)
	}
	u, ok := userFromMap(m)
	if !ok {
		return store.User{}, store.ErrNotFound
	}
	return u, nil
}

var userByIndexScript = goredis.NewScript(`
local id = redis.call('GET', KEYS[1])
if not id then return {} end
return redis.call('HGETALL', ARGV[1] .. 'u:' .. id)`)

func (s *Store) userByIndex(ctx context.Context, key string) (store.User, error) {
	v, err := userByIndexScript.Run(ctx, s.c, []string{key}, s.p).Slice()
	if err != nil {
		return store.User{}, wrap(err)
	}
	u, ok := decodeUser(v)
	if !ok {
		return store.User{}, store.ErrNotFound
	}
	return u, nil
}

// UserByUsername implements store.Users.
func (s *Store) UserByUsername(ctx context.Context, username string) (store.User, error) {
	return s.userByIndex(ctx, s.p+"un:"+store.UsernameKey(username))
}

// UserByEmail implements store.Users.
func (s *Store) UserByEmail(ctx context.Context, email string) (store.User, error) {
	if email == "" {
		return store.User{}, store.ErrNotFound
	}
	return s.userByIndex(ctx, s.p+"ue:"+common.FoldKey(email))
}

var updateUserScript = goredis.NewScript(`
local p, id, uk, ek = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local hk = p .. 'u:' .. id
if redis.call('EXISTS', hk) == 0 then return -2 end
local x = redis.call('GET', p .. 'un:' .. uk)
if x and x ~= id then return -1 end
if ek ~= '' then
	x = redis.call('GET', p .. 'ue:' .. ek)
	if x and x ~= id then return -1 end
end
local o = redis.call('HMGET', hk, 'uk', 'ek')
if o[1] and o[1] ~= uk then
	redis.call('DEL', p .. 'un:' .. o[1])
	redis.call('ZREM', p .. 'ul', o[1])
end
if o[2] and o[2] ~= '' and o[2] ~= ek then redis.call('DEL', p .. 'ue:' .. o[2]) end
redis.call('SET', p .. 'un:' .. uk, id)
redis.call('ZADD', p .. 'ul', 0, uk)
if ek ~= '' then redis.call('SET', p .. 'ue:' .. ek, id) end
redis.call('HSET', hk, unpack(ARGV, 5))
return 0`)

// UpdateUser implements store.Users; the conflict checks and index moves are one script.
func (s *Store) UpdateUser(ctx context.Context, u store.User) error {
	if !validID(u.ID) {
		return store.ErrNotFound
	}
	args := append([]any{s.p, u.ID, store.UsernameKey(u.Username), emailKey(u.Email)}, userFields(u)...)
	n, err := updateUserScript.Run(ctx, s.c, s.route(), args...).Int()
	switch {
	case err != nil:
		return wrap(err)
	case n == -2:
		return store.ErrNotFound
	case n == -1:
		return store.ErrConflict
	}
	return nil
}

var listUsersScript = goredis.NewScript(`
local p = ARGV[1]
local start = '-'
if ARGV[2] ~= '' then start = '(' .. ARGV[2] end
local names
if tonumber(ARGV[3]) > 0 then
	names = redis.call('ZRANGEBYLEX', p .. 'ul', start, '+', 'LIMIT', 0, ARGV[3])
else
	names = redis.call('ZRANGEBYLEX', p .. 'ul', start, '+')
end
local out = {}
for _, n in ipairs(names) do
	local id = redis.call('GET', p .. 'un:' .. n)
	if id then table.insert(out, redis.call('HGETALL', p .. 'u:' .. id)) end
end
return out`)

// ListUsers implements store.Users.
func (s *Store) ListUsers(ctx context.Context, after string, limit int) ([]store.User, error) {
	v, err := listUsersScript.Run(ctx, s.c, s.route(), s.p, store.UsernameKey(after), max(limit, 0)).Slice()
	if err != nil {
		return nil, wrap(err)
	}
	out := make([]store.User, 0, len(v))
	for _, h := range v {
		fields, _ := h.([]any)
		if u, ok := decodeUser(fields); ok {
			out = append(out, u)
		}
	}
	return out, nil
}

// ReplaceBackupCodes implements store.BackupCodes in one MULTI/EXEC.
func (s *Store) ReplaceBackupCodes(ctx context.Context, userID string, hashes []string) error {
	k := s.p + "bc:" + userID
	_, err := s.c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.Del(ctx, k)
		if len(hashes) > 0 {
			m := make([]any, len(hashes))
			for i, h := range hashes {
				m[i] = h
			}
			p.SAdd(ctx, k, m...)
		}
		return nil
	})
	return wrap(err)
}

// UseBackupCode implements store.BackupCodes: SREM reports whether the member was there.
func (s *Store) UseBackupCode(ctx context.Context, userID, hash string) (bool, error) {
	n, err := s.c.SRem(ctx, s.p+"bc:"+userID, hash).Result()
	if err != nil {
		return false, wrap(err)
	}
	return n == 1, nil
}

// CountBackupCodes implements store.BackupCodes.
func (s *Store) CountBackupCodes(ctx context.Context, userID string) (int, error) {
	n, err := s.c.SCard(ctx, s.p+"bc:"+userID).Result()
	return int(n), wrap(err)
}

type eventJSON struct {
	T  int64  `json:"t"`
	K  string `json:"k"`
	U  string `json:"u,omitempty"`
	N  string `json:"n,omitempty"`
	IP string `json:"ip,omitempty"`
	D  string `json:"d,omitempty"`
}

var appendEventScript = goredis.NewScript(`
local id = redis.call('INCR', KEYS[2])
redis.call('LPUSH', KEYS[1], id .. ' ' .. ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
return id`)

// AppendEvent implements store.Events; the list is capped at MaxEvents in the same script.
func (s *Store) AppendEvent(ctx context.Context, e store.Event) error {
	b, err := json.Marshal(eventJSON{T: common.Micros(e.Time), K: e.Kind, U: e.UserID, N: e.Username, IP: e.IP, D: e.Detail})
	if err != nil {
		return wrap(err)
	}
	return wrap(appendEventScript.Run(ctx, s.c, []string{s.p + "ev", s.p + "eid"}, b, s.maxEvents).Err())
}

// RecentEvents implements store.Events.
func (s *Store) RecentEvents(ctx context.Context, limit int) ([]store.Event, error) {
	if limit <= 0 {
		return nil, nil
	}
	v, err := s.c.LRange(ctx, s.p+"ev", 0, int64(limit-1)).Result()
	if err != nil {
		return nil, wrap(err)
	}
	out := make([]store.Event, 0, len(v))
	for _, item := range v {
		id, payload, ok := strings.Cut(item, " ")
		var j eventJSON
		if !ok || json.Unmarshal([]byte(payload), &j) != nil {
			return nil, errors.New("redis: malformed event entry")
		}
		e := store.Event{Time: common.FromMicros(j.T), Kind: j.K, UserID: j.U, Username: j.N, IP: j.IP, Detail: j.D}
		e.ID, _ = strconv.ParseInt(id, 10, 64)
		out = append(out, e)
	}
	return out, nil
}

type commentJSON struct {
	U string `json:"u,omitempty"`
	N string `json:"n,omitempty"`
	B string `json:"b"`
	T int64  `json:"t"`
}

// AddComment implements comments.Store (a capped list, like events).
func (s commentTable) AddComment(ctx context.Context, c comments.Comment) (comments.Comment, error) {
	b, err := json.Marshal(commentJSON{U: c.UserID, N: c.Username, B: c.Body, T: common.Micros(c.CreatedAt)})
	if err != nil {
		return comments.Comment{}, wrap(err)
	}
	id, err := appendEventScript.Run(ctx, s.c, []string{s.p + "cm", s.p + "cmid"}, b, s.maxComments).Int64()
	if err != nil {
		return comments.Comment{}, wrap(err)
	}
	c.ID = id
	return c, nil
}

// RecentComments implements comments.Store.
func (s commentTable) RecentComments(ctx context.Context, limit int) ([]comments.Comment, error) {
	if limit <= 0 {
		return nil, nil
	}
	v, err := s.c.LRange(ctx, s.p+"cm", 0, int64(limit-1)).Result()
	if err != nil {
		return nil, wrap(err)
	}
	out := make([]comments.Comment, 0, len(v))
	for _, item := range v {
		id, payload, ok := strings.Cut(item, " ")
		var j commentJSON
		if !ok || json.Unmarshal([]byte(payload), &j) != nil {
			return nil, errors.New("redis: malformed comment entry")
		}
		c := comments.Comment{UserID: j.U, Username: j.N, Body: j.B, CreatedAt: common.FromMicros(j.T)}
		c.ID, _ = strconv.ParseInt(id, 10, 64)
		out = append(out, c)
	}
	return out, nil
}

// addPasskeyScript stores a passkey unless its ID exists (returns 0) and indexes it under
// its user. ARGV: prefix, user, name, data, count, created (µs), last used (µs).
var addPasskeyScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'u', ARGV[2], 'n', ARGV[3], 'd', ARGV[4], 'sc', ARGV[5], 'ct', ARGV[6], 'lu', ARGV[7])
redis.call('ZADD', ARGV[1] .. 'upk:' .. ARGV[2], tonumber(ARGV[6]), ARGV[8])
return 1`)

// AddPasskey implements store.Passkeys.
func (s *Store) AddPasskey(ctx context.Context, p store.Passkey) error {
	ok, err := addPasskeyScript.Run(ctx, s.c, []string{s.p + "pk:" + string(p.ID)}, s.p, p.UserID, p.Name, p.Data,
		p.SignCount, common.Micros(p.CreatedAt), common.Micros(p.LastUsed), p.ID).Int()
	if err != nil {
		return wrap(err)
	}
	if ok == 0 {
		return store.ErrConflict
	}
	return nil
}

func decodePasskey(id []byte, fields []any) (store.Passkey, bool) {
	if len(fields) == 0 {
		return store.Passkey{}, false
	}
	m := make(map[string]string, len(fields)/2)
	for i := 0; i+1 < len(fields); i += 2 {
		m[str(fields[i])] = str(fields[i+1])
	}
	sc, _ := strconv.ParseUint(m["sc"], 10, 32)
	return store.Passkey{ID: id, UserID: m["u"], Name: m["n"], Data: []byte(m["d"]), SignCount: uint32(sc),
		CreatedAt: parseUs(m["ct"]), LastUsed: parseUs(m["lu"])}, true
}

// userPasskeysScript returns id, fields, id, fields... for the user's passkeys in index
// order (creation time, then ID byte-wise: ZRANGE's order for equal scores).
var userPasskeysScript = goredis.NewScript(`
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
	local h = redis.call('HGETALL', ARGV[1] .. 'pk:' .. id)
	if #h > 0 then table.insert(out, id); table.insert(out, h) end
end
return out`)

// UserPasskeys implements store.Passkeys.
func (s *Store) UserPasskeys(ctx context.Context, userID string) ([]store.Passkey, error) {
	v, err := userPasskeysScript.Run(ctx, s.c, []string{s.p + "upk:" + userID}, s.p).Slice()
	if err != nil {
		return nil, wrap(err)
	}
	var out []store.Passkey
	for i := 0; i+1 < len(v); i += 2 {
		fields, _ := v[i+1].([]any)
		if p, ok := decodePasskey([]byte(str(v[i])), fields); ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// PasskeyByID implements store.Passkeys.
func (s *Store) PasskeyByID(ctx context.Context, id []byte) (store.Passkey, error) {
	m, err := s.c.HGetAll(ctx, s.p+"pk:"+string(id)).Result()
	if err != nil {
		return store.Passkey{}, wrap(err)
	}
	if len(m) == 0 {
		return store.Passkey{}, store.ErrNotFound
	}
	fields := make([]any, 0, 2*len(m))
	for k, v := range m {
		fields = append(fields, k, v)
	}
	p, _ := decodePasskey(id, fields)
	return p, nil
}

// usePasskeyScript: -1 missing, 0 counter did not move forward, 1 recorded.
var usePasskeyScript = goredis.NewScript(`
local sc = redis.call('HGET', KEYS[1], 'sc')
if not sc then return -1 end
sc = tonumber(sc)
local n = tonumber(ARGV[1])
if n > sc or (n == 0 and sc == 0) then
	redis.call('HSET', KEYS[1], 'sc', ARGV[1], 'lu', ARGV[2])
	return 1
end
return 0`)

// UsePasskey implements store.Passkeys in one script.
func (s *Store) UsePasskey(ctx context.Context, id []byte, count uint32, lastUsed time.Time) (bool, error) {
	n, err := usePasskeyScript.Run(ctx, s.c, []string{s.p + "pk:" + string(id)}, count, common.Micros(lastUsed)).Int()
	switch {
	case err != nil:
		return false, wrap(err)
	case n < 0:
		return false, store.ErrNotFound
	}
	return n == 1, nil
}

var deletePasskeyScript = goredis.NewScript(`
if redis.call('HGET', KEYS[1], 'u') ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', ARGV[1] .. 'upk:' .. ARGV[2], ARGV[3])
return 1`)

// DeletePasskey implements store.Passkeys.
func (s *Store) DeletePasskey(ctx context.Context, userID string, id []byte) (bool, error) {
	n, err := deletePasskeyScript.Run(ctx, s.c, []string{s.p + "pk:" + string(id)}, s.p, userID, id).Int()
	return n == 1, wrap(err)
}

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error { return wrap(s.c.Ping(ctx).Err()) }

// sweepIndexScript prunes one batch of counter-index entries whose counter Redis has
// expired, and returns the last member looked at ("" when the index is done).
var sweepIndexScript = goredis.NewScript(`
local batch = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[2], '+', 'LIMIT', 0, tonumber(ARGV[3]))
for _, k in ipairs(batch) do
	if redis.call('EXISTS', ARGV[1] .. 'c:' .. k) == 0 then redis.call('ZREM', KEYS[1], k) end
end
if #batch < tonumber(ARGV[3]) then return '' end
return batch[#batch]`)

// Sweep implements store.Store. Redis expires sessions and counters itself; Sweep only prunes
// the counter index of keys Redis already forgot, in batches so no script runs long.
func (s *Store) Sweep(ctx context.Context, _ time.Time) error {
	start := "-"
	for {
		last, err := sweepIndexScript.Run(ctx, s.c, []string{s.p + "ci"}, s.p, start, 500).Text()
		if err != nil {
			return wrap(err)
		}
		if last == "" {
			return nil
		}
		start = "(" + last
	}
}

// Close implements store.Store; it closes the client.
func (s *Store) Close() error { return s.c.Close() }

// commentByIDScript finds the entry "id payload" in the capped list (newest first) and, with
// ARGV[2] = "1", removes it. It returns the entry, or false.
var commentByIDScript = goredis.NewScript(`
local prefix = ARGV[1] .. ' '
local n = redis.call('LLEN', KEYS[1])
for start = 0, n - 1, 500 do
	for _, item in ipairs(redis.call('LRANGE', KEYS[1], start, start + 499)) do
		if string.sub(item, 1, #prefix) == prefix then
			if ARGV[2] == '1' then redis.call('LREM', KEYS[1], 1, item) end
			return item
		end
	end
end
return false`)

func (s *Store) commentByID(ctx context.Context, id int64, del bool) (comments.Comment, error) {
	flag := "0"
	if del {
		flag = "1"
	}
	item, err := commentByIDScript.Run(ctx, s.c, []string{s.p + "cm"}, strconv.FormatInt(id, 10), flag).Text()
	if errors.Is(err, goredis.Nil) {
		return comments.Comment{}, store.ErrNotFound
	}
	if err != nil {
		return comments.Comment{}, wrap(err)
	}
	_, payload, _ := strings.Cut(item, " ")
	var j commentJSON
	if json.Unmarshal([]byte(payload), &j) != nil {
		return comments.Comment{}, errors.New("redis: malformed comment entry")
	}
	return comments.Comment{ID: id, UserID: j.U, Username: j.N, Body: j.B, CreatedAt: common.FromMicros(j.T)}, nil
}

// CommentByID implements comments.Deleter by a scan of the capped list, newest first.
func (s commentTable) CommentByID(ctx context.Context, id int64) (comments.Comment, error) {
	return s.commentByID(ctx, id, false)
}

// DeleteComment implements comments.Deleter (the ID sequence never goes back).
func (s commentTable) DeleteComment(ctx context.Context, id int64) (bool, error) {
	_, err := s.commentByID(ctx, id, true)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
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
