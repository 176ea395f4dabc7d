// Package csp sends a strict, nonce-based Content-Security-Policy and collects violation
// reports.
//
// Every response gets a fresh nonce (16 bytes from crypto/rand, base64url, like Django's).
// Templates print it with the "cspNonce" function of FuncMap:
//
//	t := template.Must(template.New("page").Funcs(csp.FuncMap()).Parse(
//		`<script nonce="{{cspNonce .Request}}">…</script>`))
//	t.Execute(w, struct{ Request *http.Request }{r})
//
// The function takes the request (or its context) rather than binding the nonce into the
// template, because html/template forbids changing functions after the first execution: a
// zero-argument {{cspNonce}} would need a Clone of every template on every request. Handlers
// that do not use templates call Nonce(r).
//
// Because a cached page would replay its nonce, responses that carry one also get
// Cache-Control: no-store unless the handler sets its own (Django ticket #36825).
package csp

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"github.com/rampart-go/rampart/internal/reqown"
)

// Options configures the middleware. The zero value enforces DefaultPolicy.
type Options struct {
	// Policy replaces DefaultPolicy. It is compiled once; later changes have no effect.
	Policy *Policy
	// ReportOnly sends the policy as Content-Security-Policy-Report-Only: violations are
	// reported, nothing is blocked, and the Observatory scores the site as having no CSP.
	// For trial roll-outs only; `rampart check` flags it in production.
	ReportOnly bool
	// ReportURI, when set (e.g. "/csp-report"), adds report-uri and report-to directives and a
	// Reporting-Endpoints header naming the endpoint "csp-endpoint". Browsers that know
	// report-to ignore report-uri, older ones use it: both are sent, as OWASP advises.
	ReportURI string
}

const reportGroup = "csp-endpoint"

type mw struct {
	next      http.Handler
	key       string
	parts     []string // header split around nonce positions
	fixed     []string // the whole header when the policy has no nonce
	reporting []string
}

// Header is a validated Options: the policy compiled into the header it sends. Build it with
// [New]; its Middleware method is the CSP middleware.
type Header struct{ m mw }

// New validates opts (the policy, see [Policy.Validate], and ReportURI) once, at start-up, and
// compiles the header. The policy is copied: changing it later has no effect.
func New(opts Options) (*Header, error) {
	p := opts.Policy
	if p == nil {
		p = DefaultPolicy()
	}
	p = p.Clone()
	m := &mw{key: "Content-Security-Policy"}
	if opts.ReportOnly {
		m.key = "Content-Security-Policy-Report-Only"
	}
	if opts.ReportURI != "" {
		if strings.ContainsFunc(opts.ReportURI, func(r rune) bool { return r <= ' ' || r == ';' || r == ',' || r == '"' || r > 0x7e }) {
			return nil, errors.New("csp: bad ReportURI " + strconv.Quote(opts.ReportURI))
		}
		p.Set("report-uri", opts.ReportURI).Set("report-to", reportGroup)
		m.reporting = []string{reportGroup + `="` + opts.ReportURI + `"`}[:1:1]
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	m.parts = p.compile()
	if len(m.parts) == 1 {
		m.fixed = []string{m.parts[0]}[:1:1]
	}
	return &Header{m: *m}, nil
}

// Middleware sets the policy, with a fresh nonce where it asks for one, on each response of
// next, unless an outer layer already set one.
func (h *Header) Middleware(next http.Handler) http.Handler {
	mm := h.m
	mm.next = next
	return &mm
}

type nonceKey struct{}

func (m *mw) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	if _, ok := h[m.key]; ok {
		// An outer layer already chose the policy; a nonce we made would not be in it.
		m.next.ServeHTTP(w, r)
		return
	}
	if m.reporting != nil {
		if _, ok := h["Reporting-Endpoints"]; !ok {
			h["Reporting-Endpoints"] = m.reporting
		}
	}
	if m.fixed != nil {
		h[m.key] = m.fixed
		m.next.ServeHTTP(w, r)
		return
	}
	r2, nc := reqown.WithValueContext(r, nonceCtx{Context: r.Context()})
	nc.header[0], nc.nonce = m.build()
	h[m.key] = nc.header[:1:1]
	if _, ok := h["Cache-Control"]; !ok {
		h["Cache-Control"] = noStore
	}
	m.next.ServeHTTP(w, r2)
}

// nonceCtx carries the nonce. It is context.WithValue, the nonce and the header's value slice
// in one allocation instead of three (and, used alone, the request's copy too: see
// reqown.WithValueContext): this middleware runs on every response.
type nonceCtx struct {
	context.Context
	nonce  string
	header [1]string
}

// Value returns a pointer into the context so that reading the nonce allocates nothing.
func (c *nonceCtx) Value(key any) any {
	if key == (nonceKey{}) {
		return &c.nonce
	}
	return c.Context.Value(key)
}

var noStore = []string{"no-store"}[:1:1]

const nonceLen = 22 // base64url of 16 bytes, unpadded

// build writes the header in one allocation; the nonce is a substring of it.
func (m *mw) build() (string, string) {
	// crypto/rand is used directly: since Go 1.24 it reads the kernel's vDSO getrandom
	// without a system call or lock, as fast as a user-space buffer would be, and it never fails.
	var raw [16]byte
	_, _ = rand.Read(raw[:])
	var enc [nonceLen]byte
	base64.RawURLEncoding.Encode(enc[:], raw[:])
	n := (len(m.parts) - 1) * nonceLen
	for _, p := range m.parts {
		n += len(p)
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(m.parts[0])
	at := b.Len()
	for _, p := range m.parts[1:] {
		b.Write(enc[:])
		b.WriteString(p)
	}
	s := b.String()
	return s, s[at : at+nonceLen]
}

// Nonce returns this request's nonce, or "" when no nonce policy applies (no middleware, a
// policy without NonceSource, or a CSP header already set by an outer layer).
func Nonce(r *http.Request) string { return NonceFromContext(r.Context()) }

// NonceFromContext is Nonce for code that only has the request's context.
func NonceFromContext(ctx context.Context) string {
	if p, ok := ctx.Value(nonceKey{}).(*string); ok {
		return *p
	}
	return ""
}

// FuncMap returns a new map holding "cspNonce", which takes a *http.Request or a
// context.Context: <script nonce="{{cspNonce .Request}}">. Add it with template.Funcs before
// parsing; the template is parsed once and shared by all requests.
func FuncMap() template.FuncMap { return template.FuncMap{"cspNonce": templateNonce} }

func templateNonce(v any) string {
	switch x := v.(type) {
	case *http.Request:
		if x != nil {
			return Nonce(x)
		}
	case context.Context:
		if x != nil {
			return NonceFromContext(x)
		}
	}
	return ""
}
