package lockout

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/rampart-go/rampart/store"
)

// Cleared is what an unlock removed, so that an operator is told when nothing was locked
// instead of being told "unlocked" either way.
type Cleared struct {
	// Locks are the counters that were at or over their limit (locked) when they were cleared,
	// in the order Locked lists them.
	Locks []Entry
	// Counters is how many live failure counters were removed, locked or not. Escalation
	// memory, removed with them, is not counted: it is not a failure anyone can see.
	Counters int
}

// ClearUser is Unlock reporting what it removed: the username's account counter and every
// (username, IP) pair counter, with their escalation memory.
func (g *Guard) ClearUser(ctx context.Context, username string) (Cleared, error) {
	name := g.normalize(username)
	if name == "" {
		return Cleared{}, errors.New("lockout: empty username")
	}
	enc := encodeUser(name)
	var c Cleared
	// The pair prefix ends with "|", which base64url never contains, so "ali" cannot match
	// "alice"'s pairs; the account counter is read by its exact key for the same reason.
	if err := g.collect(ctx, &c, g.prefix+kindPair+"|"+enc+"|", nil); err != nil {
		return Cleared{}, err
	}
	if err := g.collectKey(ctx, &c, g.prefix+kindUser+"|"+enc); err != nil {
		return Cleared{}, err
	}
	return c, g.Unlock(ctx, username)
}

// ClearIP is UnlockIP reporting what it removed: the counter of ip (its IPv6 prefix) and
// every pair counter involving it, with their escalation memory.
func (g *Guard) ClearIP(ctx context.Context, ip netip.Addr) (Cleared, error) {
	if !ip.IsValid() {
		return Cleared{}, errors.New("lockout: invalid IP")
	}
	suffix := "|" + g.ipKey(ip)
	var c Cleared
	if err := g.collect(ctx, &c, g.prefix+kindPair+"|", func(key string) bool { return strings.HasSuffix(key, suffix) }); err != nil {
		return Cleared{}, err
	}
	if err := g.collectKey(ctx, &c, g.prefix+kindIP+suffix); err != nil {
		return Cleared{}, err
	}
	return c, g.UnlockIP(ctx, ip)
}

// ClearAll removes every counter under the Guard's prefix — failures below and over the
// limits and escalation memory, as django-axes' axes_reset does — and reports what was
// locked. It is for an operator who trusts everyone again (after a false alarm, or a test).
func (g *Guard) ClearAll(ctx context.Context) (Cleared, error) {
	g.forget()
	cs, err := g.c.ListCounters(ctx, g.prefix, 0, g.now(), 0)
	if err != nil {
		return Cleared{}, fmt.Errorf("lockout: store: %w", err)
	}
	var c Cleared
	var locks [3][]Entry // pairs, usernames, IPs: Locked's order
	for _, ctr := range cs {
		if e, ok := g.entryOf(ctr); ok {
			c.Counters++
			if ctr.N >= g.limitOf(e.Scope) {
				i := map[Scope]int{ScopePair: 0, ScopeUser: 1, ScopeIP: 2}[e.Scope]
				locks[i] = append(locks[i], e)
			}
		}
		if err := g.c.DeleteCounter(ctx, ctr.Key); err != nil {
			return Cleared{}, fmt.Errorf("lockout: store: %w", err)
		}
	}
	g.forget() // a lock seen while deleting must not outlive the reset
	c.Locks = append(append(locks[0], locks[1]...), locks[2]...)
	return c, nil
}

// collect adds the live counters under prefix (those keep accepts, when keep is set) to c.
func (g *Guard) collect(ctx context.Context, c *Cleared, prefix string, keep func(string) bool) error {
	cs, err := g.c.ListCounters(ctx, prefix, 0, g.now(), 0)
	if err != nil {
		return fmt.Errorf("lockout: store: %w", err)
	}
	for _, ctr := range cs {
		if keep == nil || keep(ctr.Key) {
			g.note(c, ctr)
		}
	}
	return nil
}

// collectKey adds the counter at key to c when it is live.
func (g *Guard) collectKey(ctx context.Context, c *Cleared, key string) error {
	ctr, err := g.c.GetCounter(ctx, key, g.now())
	if err != nil {
		return fmt.Errorf("lockout: store: %w", err)
	}
	if ctr.N > 0 {
		g.note(c, ctr)
	}
	return nil
}

func (g *Guard) note(c *Cleared, ctr store.Counter) {
	e, ok := g.entryOf(ctr)
	if !ok {
		return
	}
	c.Counters++
	if ctr.N >= g.limitOf(e.Scope) {
		c.Locks = append(c.Locks, e)
	}
}

// entryOf describes a failure counter as Locked does; ok is false for any other key under the
// prefix (escalation memory).
func (g *Guard) entryOf(ctr store.Counter) (Entry, bool) {
	kind, rest, ok := strings.Cut(strings.TrimPrefix(ctr.Key, g.prefix), "|")
	if !ok {
		return Entry{}, false
	}
	e := Entry{Failures: ctr.N, Until: ctr.ExpiresAt, Key: ctr.Key}
	switch kind {
	case kindIP:
		e.Scope, e.IP = ScopeIP, rest
	case kindUser:
		e.Scope = ScopeUser
		e.Username, _ = decodeUser(rest)
	case kindPair:
		enc, ip, _ := strings.Cut(rest, "|")
		e.Scope, e.IP = ScopePair, ip
		e.Username, _ = decodeUser(enc)
	default:
		return Entry{}, false
	}
	return e, true
}
