package app

import (
	"cmp"
	"context"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/rampart-go/rampart/audit"
	"github.com/rampart-go/rampart/store"
)

// The picture of attacks on /admin/security: refusals over time as a stacked bar chart, and
// the client IPs and usernames that drew the most. The chart is SVG written here, inline in
// the page: no script, no style attribute or element (the default CSP's style-src has no
// 'unsafe-inline'); colours are SVG presentation attributes, which CSP does not govern.

// attackKinds are the charted event kinds (refusals and the failures that lead to them), in
// stacking order, with their colours and legend names.
var attackKinds = []struct{ kind, color, name string }{
	{audit.KindLoginFailure, "#f79009", "failed login"},
	{audit.KindLockout, "#b42318", "lockout"},
	{audit.KindLoginLocked, "#912018", "refused while locked"},
	{audit.KindRateLimited, "#7a5af8", "rate limited"},
	{audit.KindCSRFReject, "#1f6feb", "CSRF refused"},
	{audit.Kind2FAFailure, "#dd2590", "2FA failure"},
	{audit.KindAccessDenied, "#475467", "access denied"},
	{audit.KindHostReject, "#15b79e", "bad host"},
}

// attackWindows are the choices of time span: buckets of step each.
var attackWindows = map[string]struct {
	span, step time.Duration
	label      string
	tick       string
}{
	"hour": {time.Hour, 5 * time.Minute, "last hour", "15:04"},
	"day":  {24 * time.Hour, time.Hour, "last day", "15:04"},
}

// topN is how many client IPs and usernames are listed.
const topN = 10

type legendItem struct {
	Name, Color string
	N           int
}

type topRow struct {
	Name string
	N    int
}

// attackPicture is what the admin template shows.
type attackPicture struct {
	Window, Label string
	Total         int
	// Partial is set when the oldest event read is inside the window: more happened than
	// the trail read here holds (audit.MaxRecent events), and the counts are a lower bound.
	Partial         bool
	SVG             template.HTML
	Legend          []legendItem
	TopIPs, TopUser []topRow
}

// attacks reads the latest events and draws the window chosen by ?window= (hour or day).
func (a *App) attacks(ctx context.Context, r *http.Request) (attackPicture, error) {
	events, err := a.st.Audit.Recent(ctx, audit.MaxRecent)
	if err != nil {
		return attackPicture{}, err
	}
	now := time.Now
	if a.now != nil {
		now = a.now
	}
	return drawAttacks(events, now().UTC(), r.URL.Query().Get("window"), len(events) >= audit.MaxRecent), nil
}

// drawAttacks builds the picture of events (newest first, as audit.Recent returns them) in
// the window ending at now. full says the events read were as many as could be read.
func drawAttacks(events []store.Event, now time.Time, window string, full bool) attackPicture {
	w, ok := attackWindows[window]
	if !ok {
		window = "hour"
		w = attackWindows[window]
	}
	n := int(w.span / w.step)
	// Buckets end at the next step boundary, so that a bar is a whole 5 minutes or hour.
	end := now.Truncate(w.step).Add(w.step)
	start := end.Add(-time.Duration(n) * w.step)
	index := map[string]int{}
	for i, k := range attackKinds {
		index[k.kind] = i
	}
	counts := make([][]int, n)
	for i := range counts {
		counts[i] = make([]int, len(attackKinds))
	}
	p := attackPicture{Window: window, Label: w.label}
	byKind := make([]int, len(attackKinds))
	ips, users := map[string]int{}, map[string]int{}
	for _, e := range events {
		k, ok := index[e.Kind]
		if !ok || e.Time.Before(start) || !e.Time.Before(end) {
			continue
		}
		// A summary of aggregated refusals stands for as many as it counts (audit.Count); its
		// IP may be an IPv6 /64.
		c := int(audit.Count(e))
		b := int(e.Time.Sub(start) / w.step)
		counts[b][k] += c
		byKind[k] += c
		p.Total += c
		if e.IP != "" {
			ips[e.IP] += c
		}
		if e.Username != "" {
			users[e.Username] += c
		}
	}
	if full && len(events) > 0 && !events[len(events)-1].Time.Before(start) {
		p.Partial = true
	}
	for i, k := range attackKinds {
		p.Legend = append(p.Legend, legendItem{Name: k.name, Color: k.color, N: byKind[i]})
	}
	p.TopIPs, p.TopUser = top(ips), top(users)
	p.SVG = chartSVG(counts, start, w.step, w.tick, w.label)
	return p
}

// top returns the topN names by count, ties by name.
func top(m map[string]int) []topRow {
	rows := make([]topRow, 0, len(m))
	for k, v := range m {
		rows = append(rows, topRow{k, v})
	}
	slices.SortFunc(rows, func(a, b topRow) int { return cmp.Or(cmp.Compare(b.N, a.N), strings.Compare(a.Name, b.Name)) })
	return rows[:min(len(rows), topN)]
}

// Chart geometry, in SVG user units (the SVG scales to the page's width).
const (
	chartW, chartH  = 720, 220
	padL, padR      = 44, 8
	padT, padB      = 10, 26
	plotW, plotH    = chartW - padL - padR, chartH - padT - padB
	gridLines       = 4
	barGapFraction  = 0.2
	chartTextHeight = 11
)

// chartSVG draws counts (per bucket, per kind) as stacked bars. Every text in it is a number,
// a time or a fixed kind name; it is escaped all the same.
func chartSVG(counts [][]int, start time.Time, step time.Duration, tick, label string) template.HTML {
	peak := 0
	for _, c := range counts {
		s := 0
		for _, v := range c {
			s += v
		}
		peak = max(peak, s)
	}
	yMax := niceCeil(peak)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="attacks" viewBox="0 0 %d %d" width="100%%" role="img" aria-labelledby="attacks-title" xmlns="http://www.w3.org/2000/svg">`, chartW, chartH)
	fmt.Fprintf(&b, `<title id="attacks-title">Security refusals per %s, %s</title>`, template.HTMLEscapeString(stepName(step)), template.HTMLEscapeString(label))
	for i := 0; i <= gridLines; i++ {
		v := yMax * i / gridLines
		y := padT + plotH - plotH*i/gridLines
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#eef0f3"/>`, padL, y, chartW-padR, y)
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="%d" text-anchor="end" fill="#5b6577">%d</text>`, padL-6, y+4, chartTextHeight, v)
	}
	n := len(counts)
	bw := float64(plotW) / float64(n)
	for i, c := range counts {
		x := float64(padL) + float64(i)*bw + bw*barGapFraction/2
		y := float64(padT + plotH)
		t0 := start.Add(time.Duration(i) * step)
		for k, v := range c {
			if v == 0 {
				continue
			}
			h := float64(plotH) * float64(v) / float64(yMax)
			y -= h
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s – %s UTC: %d %s</title></rect>`,
				x, y, bw*(1-barGapFraction), h, attackKinds[k].color,
				t0.Format(tick), t0.Add(step).Format(tick), v, template.HTMLEscapeString(attackKinds[k].name))
		}
		if i%(max(1, n/6)) == 0 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="%d" fill="#5b6577">%s</text>`, x, chartH-8, chartTextHeight, t0.Format(tick))
		}
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#98a2b3"/>`, padL, padT+plotH, chartW-padR, padT+plotH)
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // built above from numbers, times and escaped fixed names
}

func stepName(d time.Duration) string {
	if d == time.Hour {
		return "hour"
	}
	return fmt.Sprintf("%d minutes", int(d.Minutes()))
}

// niceCeil is the smallest of 4, 8, 20, 40, 80, 200... (a multiple of gridLines with a round
// step) not below v.
func niceCeil(v int) int {
	for scale := 1; ; scale *= 10 {
		for _, m := range []int{4, 8, 20} {
			if m*scale >= v {
				return m * scale
			}
		}
	}
}
