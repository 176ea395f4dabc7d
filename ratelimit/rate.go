// Package ratelimit limits requests per key (client IP, route and IP, user) with rates written
// as in django-ratelimit ("5/m", "100/5m"), in memory for one instance or in store.Counters so
// several instances share limits, behind a middleware that answers 429 with Retry-After.
package ratelimit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Rate is N events per Per.
type Rate struct {
	N   int
	Per time.Duration
}

// Limits on parsed rates: beyond them a rate is almost certainly a typo, and they keep
// arithmetic on nanoseconds far from overflow.
const (
	MaxRateN   = 1_000_000_000
	MaxRatePer = 366 * 24 * time.Hour
)

// ErrInvalidRate is wrapped by every ParseRate error.
var ErrInvalidRate = errors.New("ratelimit: invalid rate")

// ParseRate parses "N/[M]u" as django-ratelimit does: N events per M units, u one of s, m, h,
// d (M defaults to 1); a bare number after the slash counts seconds ("100/300" = 100/5m).
// "0/s" is valid and blocks everything. Surrounding spaces are ignored; nothing else is.
func ParseRate(s string) (Rate, error) {
	orig := s
	s = strings.TrimSpace(s)
	bad := func(why string) (Rate, error) {
		return Rate{}, fmt.Errorf("%w %q: %s (want e.g. \"5/m\", \"100/5m\", \"10/s\")", ErrInvalidRate, orig, why)
	}
	num, per, ok := strings.Cut(s, "/")
	if !ok {
		return bad("missing '/'")
	}
	n, err := parseUint(num)
	if err != nil {
		return bad("count " + err.Error())
	}
	if n > MaxRateN {
		return bad(fmt.Sprintf("count above %d", MaxRateN))
	}
	if per == "" {
		return bad("missing period")
	}
	unit := time.Second
	switch per[len(per)-1] {
	case 's':
		per = per[:len(per)-1]
	case 'm':
		unit, per = time.Minute, per[:len(per)-1]
	case 'h':
		unit, per = time.Hour, per[:len(per)-1]
	case 'd':
		unit, per = 24*time.Hour, per[:len(per)-1]
	default:
		if c := per[len(per)-1]; c < '0' || c > '9' {
			return bad(fmt.Sprintf("unknown unit %q (use s, m, h or d)", c))
		}
	}
	mult := uint64(1)
	if per != "" {
		if mult, err = parseUint(per); err != nil {
			return bad("period multiplier " + err.Error())
		}
		if mult == 0 {
			return bad("zero period")
		}
	}
	if mult > uint64(MaxRatePer/unit) {
		return bad(fmt.Sprintf("period above %v", MaxRatePer))
	}
	return Rate{N: int(n), Per: time.Duration(mult) * unit}, nil
}

// parseUint accepts only ASCII digits (no sign, no spaces, no underscores).
func parseUint(s string) (uint64, error) {
	if s == "" {
		return 0, errors.New("is empty")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%q is not a whole number", s)
		}
	}
	if len(s) > 12 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return strconv.ParseUint(s, 10, 64)
}

// MustParseRate is ParseRate for rates written in code; it panics on a bad rate.
func MustParseRate(s string) Rate {
	r, err := ParseRate(s)
	if err != nil {
		panic(err)
	}
	return r
}

// String formats r as ParseRate reads it; every rate ParseRate returns round-trips.
func (r Rate) String() string {
	for _, u := range []struct {
		d time.Duration
		s string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if r.Per%u.d == 0 {
			if m := r.Per / u.d; m == 1 {
				return fmt.Sprintf("%d/%s", r.N, u.s)
			} else {
				return fmt.Sprintf("%d/%d%s", r.N, m, u.s)
			}
		}
	}
	return fmt.Sprintf("%d/%v", r.N, r.Per)
}

func (r Rate) valid() error {
	if r.N < 0 || r.N > MaxRateN || r.Per <= 0 || r.Per > MaxRatePer {
		return fmt.Errorf("%w: %d per %v", ErrInvalidRate, r.N, r.Per)
	}
	return nil
}
