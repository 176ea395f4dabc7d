// Package errorpage serves rampart's error responses: generic pages for 4xx/5xx statuses that
// reveal nothing, and a middleware that recovers panics, logs them with their stack, and answers
// with a generic 500 page, or, only when debug mode is explicitly on and the client is on this
// machine, with a debug page whose sensitive settings, headers, cookies and query parameters are
// redacted the way Django's SafeExceptionReporterFilter does.
//
// Pages use html/template, contain no script, and style themselves only through an optional
// stylesheet URL or a nonce-carrying <style> element, so that they work under a strict CSP.
package errorpage

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/rampart-go/rampart/clientip"
	"github.com/rampart-go/rampart/settings"
)

// Mask replaces redacted values (20 stars, as in Django).
const Mask = settings.Mask

// Options configure Recover and Options.Write. The zero value is the production behaviour:
// generic pages, panics logged to slog.Default().
type Options struct {
	// Debug shows the debug page for panics. It must be set explicitly (settings.Debug), and
	// even then the page is shown only to loopback clients; others get the generic page.
	Debug bool
	// Logger receives panic reports; nil means slog.Default().
	Logger *slog.Logger
	// Settings are shown on the debug page (use settings.Settings.Redacted). Values whose name
	// looks sensitive are masked again here.
	Settings []settings.Field
	// Scrub lists secret values (settings.Settings.SecretValues) to mask wherever they appear
	// in free text: the panic value, the stack, header values, the log record.
	Scrub []string
	// Stylesheet is an optional URL of a stylesheet linked from every page.
	Stylesheet string
	// Nonce returns the request's CSP nonce; when set, pages carry a small inline <style> with it.
	Nonce func(*http.Request) string
}

// sensitiveName is Django's SafeExceptionReporterFilter.hidden_settings pattern, extended with
// COOKIE (covers Cookie and Set-Cookie), CSRF, SESSION and CREDENTIAL.
var sensitiveName = regexp.MustCompile(`(?i)API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|COOKIE|CSRF|SESSION|CREDENTIAL`)

// IsSensitive reports whether a setting, header, cookie or parameter name suggests a secret
// value, so that its value must be masked.
func IsSensitive(name string) bool { return sensitiveName.MatchString(name) }

// Recover returns middleware that turns a panic in next into a logged 500 response.
// http.ErrAbortHandler is re-panicked untouched, as net/http expects. If the handler had already
// started the response, no page can be sent; the panic is logged and the connection aborted
// (by re-panicking http.ErrAbortHandler) so the client does not take a truncated body as complete.
func Recover(o Options) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tw := &trackingWriter{ResponseWriter: w}
			// Layers below may update the context of rampart's own request in place
			// (internal/reqown); the error page answers the request as this layer saw it.
			ctx := r.Context()
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if r.Context() != ctx {
					r = r.WithContext(ctx)
				}
				if v == http.ErrAbortHandler {
					panic(v)
				}
				stack := o.scrub(string(debug.Stack()))
				msg := o.scrub(fmt.Sprint(v))
				o.logger().LogAttrs(r.Context(), slog.LevelError, "panic serving request",
					slog.String("panic", msg),
					slog.String("method", r.Method),
					slog.String("path", r.URL.Path),
					slog.String("stack", stack))
				if tw.started {
					panic(http.ErrAbortHandler)
				}
				if o.Debug && loopbackClient(r) {
					o.writeDebug(w, r, msg, stack)
					return
				}
				o.Write(w, r, http.StatusInternalServerError)
			}()
			next.ServeHTTP(tw, r)
		})
	}
}

func (o Options) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.Default()
}

func (o Options) scrub(s string) string {
	for _, v := range o.Scrub {
		if v != "" {
			s = strings.ReplaceAll(s, v, Mask)
		}
	}
	return s
}

func loopbackClient(r *http.Request) bool {
	ip := clientip.FromRequest(r).IP
	return ip.IsValid() && ip.Unmap().IsLoopback()
}

// trackingWriter records whether the response has started, to know whether an error page can
// still be sent. It exposes the wrapped writer through Unwrap for http.ResponseController.
type trackingWriter struct {
	http.ResponseWriter
	started bool
}

func (t *trackingWriter) WriteHeader(code int) {
	if code >= 200 || code == http.StatusSwitchingProtocols {
		t.started = true
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *trackingWriter) Write(b []byte) (int, error) {
	t.started = true
	return t.ResponseWriter.Write(b)
}

// WriteString keeps io.WriteString through the wrapper free of a []byte copy.
func (t *trackingWriter) WriteString(s string) (int, error) {
	t.started = true
	return io.WriteString(t.ResponseWriter, s)
}

func (t *trackingWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// Flush keeps streaming handlers working through the wrapper.
func (t *trackingWriter) Flush() {
	t.started = true
	_ = http.NewResponseController(t.ResponseWriter).Flush()
}

// Hijack keeps WebSocket-style handlers working through the wrapper.
func (t *trackingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	t.started = true
	return http.NewResponseController(t.ResponseWriter).Hijack()
}

// messages are the public texts per status: they explain without revealing anything.
var messages = map[int]string{
	http.StatusBadRequest:            "The request could not be understood by the server.",
	http.StatusForbidden:             "You do not have permission to perform this action.",
	http.StatusNotFound:              "The page you asked for does not exist.",
	http.StatusMethodNotAllowed:      "This method is not allowed here.",
	http.StatusRequestEntityTooLarge: "The request is too large.",
	http.StatusTooManyRequests:       "Too many requests. Please wait a moment and try again.",
	http.StatusInternalServerError:   "Something went wrong on our side. The error has been logged.",
	http.StatusServiceUnavailable:    "The service is temporarily unavailable. Please try again shortly.",
}

// Write sends the generic page for status with the default Options.
func Write(w http.ResponseWriter, r *http.Request, status int) { Options{}.Write(w, r, status) }

// WriteMessage sends the generic page for status with a caller-chosen public message (escaped),
// for example the reason of a CSRF failure that is safe to show.
func WriteMessage(w http.ResponseWriter, r *http.Request, status int, message string) {
	Options{}.WriteMessage(w, r, status, message)
}

// Handler returns a handler that always answers with the generic page for status, e.g. as a
// NotFound handler.
func Handler(status int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { Write(w, r, status) })
}

// Write sends the generic page for status.
func (o Options) Write(w http.ResponseWriter, r *http.Request, status int) {
	o.WriteMessage(w, r, status, "")
}

// WriteMessage sends the generic page for status with message, or the status's standard message
// when message is empty. Clients that ask for JSON (and not HTML) get {"status","error","message"}.
func (o Options) WriteMessage(w http.ResponseWriter, r *http.Request, status int, message string) {
	if status < 400 || status > 599 {
		status = http.StatusInternalServerError
	}
	if message == "" {
		message = messages[status]
		if message == "" {
			message = http.StatusText(status) + "."
		}
	}
	h := w.Header()
	// Drop what the failed handler may have described about its own body.
	for _, k := range []string{"Content-Length", "Content-Encoding", "Content-Disposition", "Content-Range", "Etag", "Last-Modified", "Location"} {
		h.Del(k)
	}
	h["X-Content-Type-Options"] = nosniff
	h["Cache-Control"] = noStore
	title := http.StatusText(status)
	if wantsJSON(r) {
		h.Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if r.Method != http.MethodHead {
			_ = json.NewEncoder(w).Encode(struct {
				Status  int    `json:"status"`
				Error   string `json:"error"`
				Message string `json:"message"`
			}{status, title, message})
		}
		return
	}
	h["Content-Type"] = htmlType
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	nonce := o.nonce(r)
	parts := renderedGeneric(status, title, message, o.Stylesheet, nonce != "")
	_, _ = w.Write(parts[0])
	if len(parts) > 1 {
		_, _ = io.WriteString(w, template.HTMLEscapeString(nonce))
		_, _ = w.Write(parts[1])
	}
}

// Header values assigned directly into the header map (keys already canonical): refusals
// are what floods produce, and Header.Set allocates a slice per call. The slices are
// capacity-limited so a later Add copies instead of writing into them.
var (
	nosniff  = []string{"nosniff"}[:1:1]
	noStore  = []string{"no-store"}[:1:1]
	htmlType = []string{"text/html; charset=utf-8"}[:1:1]
)

// nonceMark stands in for the per-request nonce in cached pages; it is made of characters
// html/template writes unchanged, so it can be found and replaced in the output.
const nonceMark = "RAMPARTNONCEMARK7f3a9c"

type pageKey struct {
	status            int
	title, msg, sheet string
	nonce             bool
}

// generic caches rendered status pages: error pages are what floods and rejected attacks
// produce, so rendering a template on every 429 or 403 would make refusing costlier than
// serving. The cache is bounded; past the bound pages are rendered without caching.
var generic sync.Map // pageKey -> [][]byte
var genericCount atomic.Int32

const maxCachedPages = 256

func renderedGeneric(status int, title, msg, sheet string, withNonce bool) [][]byte {
	k := pageKey{status, title, msg, sheet, withNonce}
	if v, ok := generic.Load(k); ok {
		return v.([][]byte)
	}
	d := pageData{Status: status, Title: title, Message: msg, Stylesheet: sheet}
	if withNonce {
		d.Nonce = nonceMark
	}
	var buf bytes.Buffer
	_ = genericPage.Execute(&buf, d)
	out := bytes.SplitN(buf.Bytes(), []byte(nonceMark), 2)
	if genericCount.Load() < maxCachedPages {
		if _, loaded := generic.LoadOrStore(k, out); !loaded {
			genericCount.Add(1)
		}
	}
	return out
}

func (o Options) nonce(r *http.Request) string {
	if o.Nonce == nil {
		return ""
	}
	return o.Nonce(r)
}

func wantsJSON(r *http.Request) bool {
	a := r.Header.Get("Accept")
	return strings.Contains(a, "application/json") && !strings.Contains(a, "text/html")
}

type pageData struct {
	Status     int
	Title      string
	Message    string
	Stylesheet string
	Nonce      string
}

const style = `body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#222}
h1{font-size:1.6rem}table{border-collapse:collapse;width:100%;font-size:.9rem}td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top;word-break:break-all}
pre{background:#f6f6f6;padding:1rem;overflow:auto;font-size:.85rem}.warn{background:#fff3cd;padding:.5rem 1rem}`

const head = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex">
<title>{{.Status}} {{.Title}}</title>{{if .Stylesheet}}<link rel="stylesheet" href="{{.Stylesheet}}">{{end}}{{if .Nonce}}<style nonce="{{.Nonce}}">` + style + `</style>{{end}}</head>`

var genericPage = template.Must(template.New("generic").Parse(head +
	`<body><main><h1>{{.Status}} {{.Title}}</h1><p>{{.Message}}</p></main></body></html>`))

type row struct{ Name, Value string }

type debugData struct {
	pageData
	Panic    string
	Method   string
	URL      string
	Stack    string
	Headers  []row
	Cookies  []row
	Settings []row
}

var debugPage = template.Must(template.New("debug").Parse(head + `<body><main>
<p class="warn">You are seeing this page because RAMPART_DEBUG is on. Turn it off in production.</p>
<h1>panic: {{.Panic}}</h1>
<p>{{.Method}} {{.URL}}</p>
<h2>Stack</h2><pre>{{.Stack}}</pre>
<h2>Request headers</h2><table>{{range .Headers}}<tr><th>{{.Name}}</th><td>{{.Value}}</td></tr>{{end}}</table>
<h2>Cookies</h2><table>{{range .Cookies}}<tr><th>{{.Name}}</th><td>{{.Value}}</td></tr>{{else}}<tr><td>none</td></tr>{{end}}</table>
<h2>Settings</h2><table>{{range .Settings}}<tr><th>{{.Name}}</th><td>{{.Value}}</td></tr>{{else}}<tr><td>not provided</td></tr>{{end}}</table>
</main></body></html>`))

// writeDebug renders the debug page. Everything shown passes through redaction by name and
// scrubbing by value; cookie values are never shown at all.
func (o Options) writeDebug(w http.ResponseWriter, r *http.Request, msg, stack string) {
	d := debugData{
		pageData: pageData{Status: 500, Title: "Internal Server Error", Stylesheet: o.Stylesheet, Nonce: o.nonce(r)},
		Panic:    msg,
		Method:   r.Method,
		URL:      o.redactedURL(r),
		Stack:    stack,
	}
	names := make([]string, 0, len(r.Header))
	for k := range r.Header {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v := strings.Join(r.Header[k], ", ")
		if IsSensitive(k) {
			v = Mask
		}
		d.Headers = append(d.Headers, row{k, o.scrub(v)})
	}
	for _, c := range r.Cookies() {
		d.Cookies = append(d.Cookies, row{o.scrub(c.Name), Mask})
	}
	for _, f := range o.Settings {
		v := f.Value
		if IsSensitive(f.Name) && v != "" {
			v = Mask
		}
		d.Settings = append(d.Settings, row{f.Name, o.scrub(v)})
	}
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusInternalServerError)
	if r.Method != http.MethodHead {
		_ = debugPage.Execute(w, d)
	}
}

func (o Options) redactedURL(r *http.Request) string {
	u := *r.URL
	q := u.Query()
	for k := range q {
		if IsSensitive(k) {
			q[k] = []string{Mask}
		}
	}
	u.RawQuery = q.Encode()
	u.User = nil
	return o.scrub(strings.ReplaceAll(u.RequestURI(), "%2A", "*"))
}
