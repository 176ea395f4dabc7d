package csp

import (
	"errors"
	"strconv"
	"strings"
)

// Source keywords. NonceSource is a placeholder replaced by 'nonce-<value>' in every response.
const (
	Self           = "'self'"
	None           = "'none'"
	StrictDynamic  = "'strict-dynamic'"
	UnsafeInline   = "'unsafe-inline'"
	UnsafeEval     = "'unsafe-eval'"
	UnsafeHashes   = "'unsafe-hashes'"
	WasmUnsafeEval = "'wasm-unsafe-eval'"
	ReportSample   = "'report-sample'"
	// NonceSource stands for this response's nonce. It is not a valid CSP source itself, so
	// it could never grant anything even if it escaped unreplaced.
	NonceSource = "'nonce'"
)

// Policy is an ordered list of directives, each with an ordered list of sources. Directives
// are serialised in the order they were first set, so the header is stable (cache- and
// diff-friendly) without sorting.
type Policy struct {
	dirs []directive
}

type directive struct {
	name    string
	sources []string
}

// NewPolicy returns an empty policy.
func NewPolicy() *Policy { return &Policy{} }

// DefaultPolicy is rampart's strict policy: nothing is allowed unless listed
// (default-src 'none', which the Observatory rewards with +10); scripts run only with this
// response's nonce and what they load ('strict-dynamic'); styles from the site or with the
// nonce; images from the site and data: URLs (QR codes); no plugins, no <base>, no framing;
// forms post only to the site.
func DefaultPolicy() *Policy {
	return NewPolicy().
		Set("default-src", None).
		Set("script-src", NonceSource, StrictDynamic).
		Set("style-src", Self, NonceSource).
		Set("img-src", Self, "data:").
		Set("font-src", Self).
		Set("connect-src", Self).
		Set("manifest-src", Self).
		Set("object-src", None).
		Set("base-uri", None).
		Set("form-action", Self).
		Set("frame-ancestors", None)
}

// Set replaces the sources of directive name (lower-cased), appending it if absent.
// Duplicate sources are dropped. A directive without sources (upgrade-insecure-requests) is
// written bare.
func (p *Policy) Set(name string, sources ...string) *Policy {
	name = strings.ToLower(strings.TrimSpace(name))
	src := dedup(nil, sources)
	for i := range p.dirs {
		if p.dirs[i].name == name {
			p.dirs[i].sources = src
			return p
		}
	}
	p.dirs = append(p.dirs, directive{name, src})
	return p
}

// Add appends sources to directive name, creating it if absent.
func (p *Policy) Add(name string, sources ...string) *Policy {
	name = strings.ToLower(strings.TrimSpace(name))
	for i := range p.dirs {
		if p.dirs[i].name == name {
			p.dirs[i].sources = dedup(p.dirs[i].sources, sources)
			return p
		}
	}
	return p.Set(name, sources...)
}

// Remove deletes directive name.
func (p *Policy) Remove(name string) *Policy {
	name = strings.ToLower(strings.TrimSpace(name))
	for i := range p.dirs {
		if p.dirs[i].name == name {
			p.dirs = append(p.dirs[:i], p.dirs[i+1:]...)
			break
		}
	}
	return p
}

// Get returns the sources of directive name and whether it is present.
func (p *Policy) Get(name string) ([]string, bool) {
	for _, d := range p.dirs {
		if d.name == strings.ToLower(name) {
			return append([]string(nil), d.sources...), true
		}
	}
	return nil, false
}

// Clone returns an independent copy, so DefaultPolicy().Clone() can be tailored per route.
func (p *Policy) Clone() *Policy {
	q := &Policy{dirs: make([]directive, len(p.dirs))}
	for i, d := range p.dirs {
		q.dirs[i] = directive{d.name, append([]string(nil), d.sources...)}
	}
	return q
}

func dedup(dst, add []string) []string {
	out := append([]string(nil), dst...)
next:
	for _, s := range add {
		s = strings.TrimSpace(s)
		for _, o := range out {
			if o == s {
				continue next
			}
		}
		out = append(out, s)
	}
	return out
}

// UsesNonce reports whether the policy holds NonceSource.
func (p *Policy) UsesNonce() bool {
	for _, d := range p.dirs {
		for _, s := range d.sources {
			if s == NonceSource {
				return true
			}
		}
	}
	return false
}

// Validate refuses what would make a broken or injectable header: empty or non-token
// directive names, sources with whitespace, ";", "," or control characters, and
// 'strict-dynamic' without a nonce in the same directive (browsers would then block every
// script, and the Observatory calls the policy invalid).
func (p *Policy) Validate() error {
	if len(p.dirs) == 0 {
		return errors.New("csp: empty policy")
	}
	for _, d := range p.dirs {
		if d.name == "" || strings.Trim(d.name, "abcdefghijklmnopqrstuvwxyz-") != "" {
			return errors.New("csp: bad directive name " + strconv.Quote(d.name))
		}
		nonce, dyn := false, false
		for _, s := range d.sources {
			if s == "" || strings.ContainsFunc(s, func(r rune) bool {
				return r <= ' ' || r == ';' || r == ',' || r == 0x7f || r > 0x7e
			}) {
				return errors.New("csp: bad source " + strconv.Quote(s) + " in " + d.name)
			}
			switch {
			case s == NonceSource, strings.HasPrefix(s, "'sha256-"), strings.HasPrefix(s, "'sha384-"), strings.HasPrefix(s, "'sha512-"):
				nonce = true
			case s == StrictDynamic:
				dyn = true
			}
		}
		if dyn && !nonce {
			return errors.New("csp: 'strict-dynamic' without a nonce or hash in " + d.name)
		}
	}
	return nil
}

// String serialises the policy with the placeholder 'nonce-{nonce}' where the nonce goes.
func (p *Policy) String() string {
	parts := p.compile()
	return strings.Join(parts, "{nonce}")
}

// compile returns the header split around nonce positions: parts[0] nonce parts[1] nonce ...
// Each response's header is then built in a single allocation.
func (p *Policy) compile() []string {
	var parts []string
	var b strings.Builder
	for i, d := range p.dirs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(d.name)
		for _, s := range d.sources {
			b.WriteByte(' ')
			if s == NonceSource {
				b.WriteString("'nonce-")
				parts = append(parts, b.String())
				b.Reset()
				b.WriteByte('\'')
				continue
			}
			b.WriteString(s)
		}
	}
	return append(parts, b.String())
}
