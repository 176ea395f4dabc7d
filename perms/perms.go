// Package perms is rampart's authorization: permissions and groups as Django's auth has them,
// checked from the request's user, with guards for handlers and templates.
//
// A permission is a string such as "comments.delete" (an application label, a dot, an
// action). Users hold permissions granted to them directly or to one of their groups; a
// superuser holds every permission, and an inactive user none. Object-level rules (Django's
// authentication backend has_perm(user, perm, obj)) are plain functions registered in
// Options.Rules, so "authors may delete their own comments" is one function:
//
//	ck, err := perms.New(stack, perms.Options{Accounts: acc, Rules: []perms.Rule{
//		func(ctx context.Context, u *store.User, perm string, obj any) (bool, error) {
//			c, ok := obj.(Comment) // the application's own type
//			return ok && perm == "comments.delete" && c.UserID == u.ID, nil
//		},
//	}})
//	mux.Handle("GET /reports", ck.RequirePermission("reports.view")(reports))
//
// Checks are served from memory: a user's effective permissions are loaded once (one round
// trip to the store) and cached under the user's PermsVersion, which the store moves forward
// with every change to what the user holds, on any instance. The user is loaded with every
// request anyway, so a revoke on one instance is enforced on every other at its next request,
// and a check on a user whose permissions did not change costs no round trip at all.
//
// Changes (Grant, Revoke, groups, the superuser and staff flags) go through the Checker's
// methods, which check the names, and record each change in the audit trail with who made it.
package perms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/rampart-go/rampart"
	"github.com/rampart-go/rampart/accounts"
	"github.com/rampart-go/rampart/store"
)

// Rule is an object-level check: it reports whether u may do perm to obj. Rules are asked
// only for active, non-superuser users who do not hold perm outright; any rule saying true
// allows. An error fails the check closed.
type Rule func(ctx context.Context, u *store.User, perm string, obj any) (bool, error)

// DefaultCacheSize is how many users' permission sets a Checker keeps unless
// Options.CacheSize says otherwise.
const DefaultCacheSize = 10000

// Options configure New.
type Options struct {
	// Accounts answers anonymous requests to RequirePermission with its login redirect (or
	// 401 for JSON). Nil sends them to accounts.DefaultPrefix's login page.
	Accounts *accounts.Accounts
	// Rules are the object-level checks of HasObjectPerm, asked in order.
	Rules []Rule
	// CacheSize caps the cached permission sets (one per user); 0 means DefaultCacheSize.
	CacheSize int
}

// Checker answers permission checks and makes audited changes to permissions and groups.
type Checker struct {
	st    *rampart.Stack
	ps    store.Permissions
	acc   *accounts.Accounts
	rules []Rule
	log   *slog.Logger

	mu    sync.RWMutex
	cache map[string]cached
	max   int
}

type cached struct {
	version int64
	perms   map[string]struct{}
}

// ErrNoPermissions is returned by the changes of a Checker whose store keeps no permissions.
var ErrNoPermissions = errors.New("perms: the store does not keep permissions (store.Permissions)")

// New builds a Checker on the stack's store. Every backend in this module implements
// store.Permissions; a store that does not (a wrapper of an application's own) fails closed:
// no user holds a permission but superusers, and changes fail with ErrNoPermissions. New
// logs a warning then.
func New(st *rampart.Stack, opts Options) (*Checker, error) {
	ps, ok := st.Store.(store.Permissions)
	if !ok {
		ps = noPermissions{}
		if st.Logger != nil {
			st.Logger.Warn("perms: the store keeps no permissions: only superusers pass permission checks", "store", fmt.Sprintf("%T", st.Store))
		}
	}
	if opts.CacheSize < 0 {
		return nil, fmt.Errorf("perms: negative CacheSize %d", opts.CacheSize)
	}
	c := &Checker{st: st, ps: ps, acc: opts.Accounts, rules: opts.Rules, log: st.Logger,
		cache: map[string]cached{}, max: opts.CacheSize}
	if c.max == 0 {
		c.max = DefaultCacheSize
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	return c, nil
}

// effective returns u's permission set: from the cache when it holds u's current
// PermsVersion, else loaded from the store (one round trip) and cached.
func (c *Checker) effective(ctx context.Context, u *store.User) (map[string]struct{}, error) {
	c.mu.RLock()
	e, ok := c.cache[u.ID]
	c.mu.RUnlock()
	if ok && e.version == u.PermsVersion {
		return e.perms, nil
	}
	g, err := c.ps.UserGrants(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	set := make(map[string]struct{}, len(g.Effective))
	for _, p := range g.Effective {
		set[p] = struct{}{}
	}
	c.mu.Lock()
	if _, present := c.cache[u.ID]; !present && len(c.cache) >= c.max {
		for k := range c.cache { // evict one arbitrary entry: the cache only saves round trips
			delete(c.cache, k)
			break
		}
	}
	// Loaded after u was: at least as new as u.PermsVersion, so keying it by that is safe.
	c.cache[u.ID] = cached{version: u.PermsVersion, perms: set}
	c.mu.Unlock()
	return set, nil
}

// HasPerm reports whether u holds perm: false for nil or inactive users, true for active
// superusers, else whether perm was granted to u or one of u's groups. An error (the store
// could not answer) comes with false: callers deny.
func (c *Checker) HasPerm(ctx context.Context, u *store.User, perm string) (bool, error) {
	return c.HasPerms(ctx, u, perm)
}

// HasPerms reports whether u holds every one of perms (true for none, if u is active).
func (c *Checker) HasPerms(ctx context.Context, u *store.User, perms ...string) (bool, error) {
	if u == nil || !u.IsActive {
		return false, nil
	}
	if u.IsSuperuser {
		return true, nil
	}
	if len(perms) == 0 {
		return true, nil
	}
	set, err := c.effective(ctx, u)
	if err != nil {
		return false, err
	}
	for _, p := range perms {
		if _, ok := set[p]; !ok {
			return false, nil
		}
	}
	return true, nil
}

// HasObjectPerm reports whether u may do perm to obj: as HasPerm, and when u does not hold
// perm outright, whether one of Options.Rules allows it for this object.
func (c *Checker) HasObjectPerm(ctx context.Context, u *store.User, perm string, obj any) (bool, error) {
	ok, err := c.HasPerm(ctx, u, perm)
	if ok || err != nil || u == nil || !u.IsActive {
		return ok, err
	}
	for _, rule := range c.rules {
		ok, err := rule(ctx, u, perm, obj)
		if err != nil {
			return false, err
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

// UserPerms returns u's effective permissions (direct and through groups), sorted; nil for
// inactive users. A superuser's list is what was granted, though every check passes.
func (c *Checker) UserPerms(ctx context.Context, u *store.User) ([]string, error) {
	if u == nil || !u.IsActive {
		return nil, nil
	}
	g, err := c.ps.UserGrants(ctx, u.ID)
	return g.Effective, err
}

// Can is HasPerms for the request's logged-in user (accounts.User), failing closed: a store
// error is logged and answered false.
func (c *Checker) Can(r *http.Request, perms ...string) bool {
	u := accounts.User(r)
	if u == nil {
		return false
	}
	ok, err := c.HasPerms(r.Context(), u, perms...)
	if err != nil {
		c.log.Log(r.Context(), store.LogLevel(r.Context(), err), "perms: check failed", "path", r.URL.Path, "err", err)
	}
	return ok
}

// FuncMap holds template functions for the Checker: {{if hasPerm .Req "comments.delete"}}
// when the page's data carries the *http.Request (any field: the function takes it). Errors
// deny, as in Can.
func (c *Checker) FuncMap() map[string]any {
	return map[string]any{"hasPerm": func(r *http.Request, perm string) bool { return c.Can(r, perm) }}
}

// RequirePermission returns middleware that lets through logged-in users holding every one
// of perms (Django's permission_required with raise_exception). Anonymous requests get the
// login redirect (401 when they want JSON); logged-in users without the permissions get 403,
// as a JSON error or the stack's error page; a store failure is 503. It panics when a
// permission name is not valid (see ValidPerm): that is a programming error.
func (c *Checker) RequirePermission(perms ...string) func(http.Handler) http.Handler {
	for _, p := range perms {
		if err := ValidPerm(p); err != nil {
			panic(err)
		}
	}
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u := accounts.User(r)
			if u == nil {
				c.anonymous(w, r)
				return
			}
			ok, err := c.HasPerms(r.Context(), u, perms...)
			if err != nil {
				c.log.Log(r.Context(), store.LogLevel(r.Context(), err), "perms: store unavailable", "path", r.URL.Path, "err", err)
				if wantsJSON(r) {
					jsonError(w, http.StatusServiceUnavailable, "The service is temporarily unavailable. Please try again shortly.")
					return
				}
				c.st.Errors.WriteMessage(w, r, http.StatusServiceUnavailable, "The service is temporarily unavailable. Please try again shortly.")
				return
			}
			if !ok {
				if wantsJSON(r) {
					jsonError(w, http.StatusForbidden, "You do not have permission to do this.")
					return
				}
				c.st.Errors.Write(w, r, http.StatusForbidden)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
}

func (c *Checker) anonymous(w http.ResponseWriter, r *http.Request) {
	if c.acc != nil {
		// RequireLogin answers anonymous requests; it never calls through here.
		c.acc.RequireLogin(http.NotFoundHandler()).ServeHTTP(w, r)
		return
	}
	if wantsJSON(r) {
		jsonError(w, http.StatusUnauthorized, "Please log in.")
		return
	}
	http.Redirect(w, r, accounts.DefaultPrefix+"/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
}

// wantsJSON is accounts' rule: the client accepts JSON first, or sends a JSON body.
func wantsJSON(r *http.Request) bool {
	isJSON := func(v string) bool { return len(v) >= 16 && strings.EqualFold(v[:16], "application/json") }
	if isJSON(r.Header.Get("Content-Type")) {
		return true
	}
	for _, v := range r.Header.Values("Accept") {
		if isJSON(v) {
			return true
		}
	}
	return false
}

func jsonError(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// MaxPermLen and MaxGroupLen bound permission and group names.
const (
	MaxPermLen  = 100
	MaxGroupLen = 80
)

// ValidPerm checks a permission name: lower-case ASCII letters, digits, '_' and '-' in at
// least two dot-separated parts ("comments.delete", "admin.users.view"), at most MaxPermLen
// bytes. The form keeps names unambiguous in the CLI, the audit trail and templates.
func ValidPerm(p string) error {
	if len(p) == 0 || len(p) > MaxPermLen {
		return fmt.Errorf("perms: permission %q: must have 1 to %d characters", p, MaxPermLen)
	}
	parts := strings.Split(p, ".")
	if len(parts) < 2 {
		return fmt.Errorf("perms: permission %q: want app.action, such as comments.delete", p)
	}
	for _, part := range parts {
		if part == "" {
			return fmt.Errorf("perms: permission %q: empty part", p)
		}
		for _, r := range part {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
				return fmt.Errorf("perms: permission %q: only a-z, 0-9, '_', '-' and '.' are allowed", p)
			}
		}
	}
	return nil
}

// ValidGroup checks a group name: 1 to MaxGroupLen bytes of valid UTF-8, printable (letters,
// digits, punctuation and inner spaces), not starting or ending with a space.
func ValidGroup(name string) error {
	if len(name) == 0 || len(name) > MaxGroupLen || !utf8.ValidString(name) {
		return fmt.Errorf("perms: group name %q: must be 1 to %d bytes of UTF-8", name, MaxGroupLen)
	}
	if strings.TrimSpace(name) != name {
		return fmt.Errorf("perms: group name %q: leading or trailing space", name)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("perms: group name %q: unprintable character %U", name, r)
		}
	}
	return nil
}

// noPermissions stands in for a store without store.Permissions: nobody holds anything, and
// nothing can be changed.
type noPermissions struct{}

func (noPermissions) GrantUserPerm(context.Context, string, string) error { return ErrNoPermissions }
func (noPermissions) RevokeUserPerm(context.Context, string, string) (bool, error) {
	return false, ErrNoPermissions
}
func (noPermissions) CreateGroup(context.Context, string) error { return ErrNoPermissions }
func (noPermissions) DeleteGroup(context.Context, string) (bool, error) {
	return false, ErrNoPermissions
}
func (noPermissions) Groups(context.Context) ([]store.Group, error) { return nil, nil }
func (noPermissions) GroupMembers(context.Context, string) ([]string, error) {
	return nil, store.ErrNotFound
}
func (noPermissions) GrantGroupPerm(context.Context, string, string) error { return ErrNoPermissions }
func (noPermissions) RevokeGroupPerm(context.Context, string, string) (bool, error) {
	return false, ErrNoPermissions
}
func (noPermissions) AddUserToGroup(context.Context, string, string) error { return ErrNoPermissions }
func (noPermissions) RemoveUserFromGroup(context.Context, string, string) (bool, error) {
	return false, ErrNoPermissions
}
func (noPermissions) UserGrants(context.Context, string) (store.Grants, error) {
	return store.Grants{}, nil
}
