package app

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/audit"
	"github.com/rampart-go/rampart/store"
)

// TestDrawAttacksBuckets: events land in the bucket of their time, only charted kinds and
// only inside the window count, the tops are ordered, and Partial says when the trail read
// does not reach back to the window's start.
func TestDrawAttacksBuckets(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 7, 0, 0, time.UTC) // the hour window is 11:10 to 12:10
	ev := func(ago time.Duration, kind, ip, user string) store.Event {
		return store.Event{Time: now.Add(-ago), Kind: kind, IP: ip, Username: user}
	}
	events := []store.Event{ // newest first
		ev(time.Minute, audit.KindLoginFailure, "192.0.2.1", "root"),
		ev(2*time.Minute, audit.KindLoginFailure, "192.0.2.1", "root"),
		ev(3*time.Minute, audit.KindLockout, "192.0.2.1", "root"),
		ev(4*time.Minute, audit.KindLoginSuccess, "192.0.2.9", "ann"), // not a refusal
		ev(20*time.Minute, audit.KindCSRFReject, "198.51.100.7", ""),
		ev(56*time.Minute, audit.KindRateLimited, "198.51.100.7", ""), // 11:11: first bucket
		ev(58*time.Minute, audit.KindRateLimited, "198.51.100.7", ""), // 11:09: outside
		ev(3*time.Hour, audit.Kind2FAFailure, "203.0.113.5", "bob"),   // day window only
	}
	for _, tc := range []struct {
		window  string
		full    bool
		total   int
		partial bool
		ips     string
		users   string
		rects   int
	}{
		{"hour", false, 5, false, "192.0.2.1:3 198.51.100.7:2", "root:3", 4},
		{"", true, 5, false, "192.0.2.1:3 198.51.100.7:2", "root:3", 4}, // oldest read is before the window
		{"day", false, 7, false, "192.0.2.1:3 198.51.100.7:3 203.0.113.5:1", "root:3 bob:1", 5},
		{"day", true, 7, true, "192.0.2.1:3 198.51.100.7:3 203.0.113.5:1", "root:3 bob:1", 5},
		{"<script>", false, 5, false, "192.0.2.1:3 198.51.100.7:2", "root:3", 4},
	} {
		p := drawAttacks(events, now, tc.window, tc.full)
		var ips, users []string
		for _, r := range p.TopIPs {
			ips = append(ips, fmt.Sprintf("%s:%d", r.Name, r.N))
		}
		for _, r := range p.TopUser {
			users = append(users, fmt.Sprintf("%s:%d", r.Name, r.N))
		}
		svg := string(p.SVG)
		if p.Total != tc.total || p.Partial != tc.partial || strings.Join(ips, " ") != tc.ips || strings.Join(users, " ") != tc.users {
			t.Errorf("%q: total %d partial %v ips %v users %v", tc.window, p.Total, p.Partial, ips, users)
		}
		if n := strings.Count(svg, "<rect"); n != tc.rects {
			t.Errorf("%q: %d bars, want %d\n%s", tc.window, n, tc.rects, svg)
		}
		if strings.Contains(svg, "style") || strings.Contains(svg, "<script") || strings.Contains(svg, " on") {
			t.Errorf("%q: SVG with style or script:\n%s", tc.window, svg)
		}
	}
	// In the hour window the 11:11 rate limit is the first bar, titled with its bucket.
	svg := string(drawAttacks(events, now, "hour", false).SVG)
	if !strings.Contains(svg, "<title>11:10 – 11:15 UTC: 1 rate limited</title>") || !strings.Contains(svg, "<title>12:05 – 12:10 UTC: 2 failed login</title>") {
		t.Errorf("bucket titles:\n%s", svg)
	}
	// Bar heights: the tallest bucket (3 events) against a scale of 4.
	if !regexp.MustCompile(`height="92\.0" fill="#f79009"`).MatchString(svg) {
		t.Errorf("two failed logins of a 0..4 scale are not 2/4 of the 184-unit plot:\n%s", svg)
	}
}

// A summary of aggregated refusals counts as many as it stands for, in its kind, bucket and
// client; refusals under a lock are charted too.
func TestDrawAttacksCountsSummaries(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 7, 0, 0, time.UTC)
	events := []store.Event{ // newest first: a live summary, then stored rows
		{Time: now.Truncate(time.Minute), Kind: audit.KindCSRFReject, IP: "2001:db8::/64", Detail: "×12345 more 12:07:00–12:08:00 UTC: origin"},
		{Time: now.Add(-time.Second), Kind: audit.KindCSRFReject, IP: "2001:db8::1", Detail: "origin"},
		{Time: now.Add(-20 * time.Minute), Kind: audit.KindLoginLocked, IP: "192.0.2.1", Detail: "×40 more 11:47:00–11:48:00 UTC: username"},
		{Time: now.Add(-20 * time.Minute), Kind: audit.KindLoginLocked, IP: "192.0.2.1", Username: "root", Detail: "username"},
	}
	p := drawAttacks(events, now, "hour", false)
	if p.Total != 12346+41 {
		t.Fatalf("total %d, want %d", p.Total, 12346+41)
	}
	if len(p.TopIPs) != 3 || p.TopIPs[0] != (topRow{"2001:db8::/64", 12345}) || p.TopIPs[1] != (topRow{"192.0.2.1", 41}) {
		t.Fatalf("top IPs %v", p.TopIPs)
	}
	legend := map[string]int{}
	for _, l := range p.Legend {
		legend[l.Name] = l.N
	}
	if legend["CSRF refused"] != 12346 || legend["refused while locked"] != 41 {
		t.Fatalf("legend %v", legend)
	}
	if !strings.Contains(string(p.SVG), "<title>12:05 – 12:10 UTC: 12346 CSRF refused</title>") {
		t.Errorf("bucket title:\n%s", p.SVG)
	}
}

func TestNiceCeil(t *testing.T) {
	for in, want := range map[int]int{0: 4, 1: 4, 4: 4, 5: 8, 9: 20, 21: 40, 41: 80, 81: 200, 1000: 2000} {
		if got := niceCeil(in); got != want {
			t.Errorf("niceCeil(%d) = %d, want %d", in, got, want)
		}
	}
}
