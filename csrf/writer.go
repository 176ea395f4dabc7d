package csrf

import (
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/rampart-go/rampart/clientip"
)

// MaxHeldBytes is how much of an HTML page the middleware holds back, for a client without a
// CSRF secret, until the page is complete or a token has been issued.
//
// A template streamed with page.Execute(w, data) writes the top of the page, and with it
// the response header, before it reaches {{ csrfField .Request }}; a cookie set then would
// be lost, and every POST of the form would fail with "CSRF cookie not set.". So while an
// HTML page goes out to a client that has no secret yet, the middleware keeps the header and
// the first bytes: a token issued meanwhile sets its cookie in time, and a page that never
// asks for one sets none (pages without forms stay cacheable, as in Django). Once a token
// is issued, the page is complete, or the handler flushes, everything written so far goes
// out and the rest streams through. A page that grows past MaxHeldBytes, or is flushed,
// before asking for a token gets a new secret's cookie at that point, so a form further
// down still works. net/http itself sends nothing before 4 KiB or the end of the handler, so
// only pages larger than that see their first bytes later; responses that are not HTML, and
// clients that already have a secret (every request after the first), are not held at all.
const MaxHeldBytes = 64 << 10

// writer is the ResponseWriter the middleware gives the handler (see MaxHeldBytes). It
// lives in the request's state, so it costs no allocation of its own.
type writer struct {
	http.ResponseWriter
	st     *state
	held   *[]byte // held body, from heldPool
	status int32   // held status (0: none yet, 200 implied)
	mode   uint8
}

const (
	modeOpen    uint8 = iota // nothing has gone below yet and nothing is held
	modeHolding              // an HTML page is being held
	modePassed               // the header has gone below; everything passes through
)

var heldPool = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// WriteHeader holds the status while the page may still need a cookie; informational
// responses (103 Early Hints) pass at once.
func (w *writer) WriteHeader(code int) {
	switch {
	case w.mode == modePassed:
		w.ResponseWriter.WriteHeader(code) // superfluous: net/http logs it
	case code < 200 && code != http.StatusSwitchingProtocols:
		w.ResponseWriter.WriteHeader(code)
	case w.status != 0:
		// A second WriteHeader: net/http would ignore it too.
	default:
		w.status = int32(code)
		if code == http.StatusSwitchingProtocols || !w.mayHold(nil) {
			w.pass()
		}
	}
}

func (w *writer) Write(b []byte) (int, error) {
	if w.mode != modePassed && !w.hold(len(b), func() bool { return sniffHTML(b) }) {
		w.pass()
	}
	if w.mode == modePassed {
		return w.ResponseWriter.Write(b)
	}
	*w.held = append(*w.held, b...)
	return len(b), nil
}

// WriteString keeps io.WriteString on the underlying writer's WriteString when passing.
func (w *writer) WriteString(s string) (int, error) {
	if w.mode != modePassed && !w.hold(len(s), func() bool { return sniffHTML(s) }) {
		w.pass()
	}
	if w.mode == modePassed {
		return io.WriteString(w.ResponseWriter, s)
	}
	*w.held = append(*w.held, s...)
	return len(s), nil
}

// hold decides, before n bytes are written, whether they are held: it starts holding an
// HTML page for a client without a secret (sniff tells whether the bytes look like HTML),
// stops once a secret is there, and lets a page that outgrows MaxHeldBytes go with a new
// secret's cookie.
func (w *writer) hold(n int, sniff func() bool) bool {
	if w.mode == modeOpen {
		if !w.mayHold(sniff) {
			return false
		}
		w.mode = modeHolding
		w.held = heldPool.Get().(*[]byte)
	}
	if w.st.ready {
		return false // the cookie, if one was due, is in the header
	}
	if len(*w.held)+n > MaxHeldBytes {
		w.preissue()
		return false
	}
	return true
}

// mayHold reports whether the response is an HTML page for a client without a secret.
// sniff tells whether the first bytes look like HTML, as net/http decides when there is no
// Content-Type; without body yet (nil) an unknown type counts as HTML until it shows.
func (w *writer) mayHold(sniff func() bool) bool {
	switch w.status {
	case http.StatusNoContent, http.StatusNotModified:
		return false
	}
	// The type is looked at first: a Content-Type look-up, or sniffing the first bytes (which
	// stops at the first one that is not white space unless it is '<'), is cheaper than finding and
	// checking the secret in the Cookie header, and a response that is not HTML (JSON, a
	// redirect, a plain answer to a POST) then needs no look-up at all.
	return !w.st.ready && w.isHTML(sniff) && !w.st.hasSecret()
}

func (w *writer) isHTML(sniff func() bool) bool {
	ct := w.ResponseWriter.Header()["Content-Type"]
	if len(ct) == 0 {
		return sniff == nil || sniff()
	}
	mt, _, _ := strings.Cut(ct[0], ";")
	mt = strings.TrimSpace(mt)
	return strings.EqualFold(mt, "text/html") || strings.EqualFold(mt, "application/xhtml+xml")
}

// preissue stores a new secret for a held page that must go out before it is complete (it
// outgrew MaxHeldBytes or was flushed): a form further down then has a cookie to match. Only
// the cookie store does this; a session store would create a session for every such page,
// so with it a token asked for later fails as the store decides (session.ErrCommitted).
func (w *writer) preissue() {
	st := w.st
	if st.p.cookies == nil || st.ready {
		return
	}
	secure := clientip.SecureFromRequest(st.r)
	if st.hasSecretWith(secure) {
		return
	}
	if _, err := st.rotateWith(st.rw.ResponseWriter, st.r, &secure); err == nil {
		st.ready = true
	}
}

// pass sends the held status and body below and lets everything after through.
func (w *writer) pass() {
	w.mode = modePassed
	w.st.started = true
	if w.status != 0 {
		w.ResponseWriter.WriteHeader(int(w.status))
	}
	if w.held != nil {
		if len(*w.held) > 0 {
			_, _ = w.ResponseWriter.Write(*w.held) // a failure shows on the handler's next write
		}
		*w.held = (*w.held)[:0]
		heldPool.Put(w.held)
		w.held = nil
	}
}

// finish runs when the handler has returned: a held page is complete, so it goes as it is.
func (w *writer) finish() {
	if w.mode != modePassed && (w.status != 0 || w.held != nil) {
		w.pass()
	}
}

// Flush sends what is held (with a new secret's cookie if an HTML page is still without
// one) and flushes, for streaming handlers.
func (w *writer) Flush() {
	if w.mode != modePassed {
		if w.mode == modeHolding || w.mayHold(nil) {
			w.preissue()
		}
		w.pass()
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// ReadFrom keeps the underlying writer's ReadFrom (sendfile for http.ServeContent) for
// responses that are not held.
func (w *writer) ReadFrom(src io.Reader) (int64, error) {
	if w.mode == modeHolding || w.mode == modeOpen && w.mayHold(nil) {
		return io.Copy(writerOnly{w}, src)
	}
	if w.mode != modePassed {
		w.pass()
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(writerOnly{w.ResponseWriter}, src)
}

// writerOnly hides ReadFrom, so io.Copy does not call back into it.
type writerOnly struct{ io.Writer }

// Unwrap lets http.ResponseController reach the underlying writer (Hijack, deadlines).
func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// hasSecret reports whether the client has a usable secret (bare, or masked by Django < 4.1).
func (st *state) hasSecret() bool {
	if st.ready {
		return true
	}
	return st.hasSecretWith(clientip.SecureFromRequest(st.r))
}

func (st *state) hasSecretWith(secure bool) bool {
	s, ok := st.loadWith(st.r, secure)
	return ok && (len(s) == secretLength || len(s) == tokenLength) && checkFormat(s) == nil
}

// htmlSignatures are net/http's (sniff.go): DetectContentType answers text/html exactly when
// the first non-space bytes of the first 512 start with one of them, letters in any case,
// followed by a space or '>'. They come first in its list, so nothing else can win.
var htmlSignatures = [...]string{"<!DOCTYPE HTML", "<HTML", "<HEAD", "<SCRIPT", "<IFRAME", "<H1", "<DIV",
	"<FONT", "<TABLE", "<A", "<STYLE", "<TITLE", "<B", "<BODY", "<BR", "<P", "<!--"}

// sniffHTML is strings.HasPrefix(http.DetectContentType(data), "text/html") without its
// allocation (DetectContentType's argument escapes, so a string would be copied to the heap
// on every first write). FuzzSniffHTML keeps the two in step.
func sniffHTML[T string | []byte](data T) bool {
	if len(data) > 512 {
		data = data[:512]
	}
	i := 0
	for i < len(data) && (data[i] == '\t' || data[i] == '\n' || data[i] == '\x0c' || data[i] == '\r' || data[i] == ' ') {
		i++
	}
	data = data[i:]
	if len(data) == 0 || data[0] != '<' { // every signature starts with '<'
		return false
	}
next:
	for _, sig := range htmlSignatures {
		if len(data) < len(sig)+1 {
			continue
		}
		for j := 0; j < len(sig); j++ {
			b, db := sig[j], data[j]
			if 'A' <= b && b <= 'Z' {
				db &= 0xDF
			}
			if b != db {
				continue next
			}
		}
		if c := data[len(sig)]; c == ' ' || c == '>' {
			return true
		}
	}
	return false
}
