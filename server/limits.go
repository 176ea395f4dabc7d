package server

import (
	"cmp"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"time"
)

// Slow clients. http.Server's ReadTimeout bounds a whole request, but it must leave time for
// the largest body the site accepts, so a client trickling a small form one byte every few
// seconds holds its connection (a goroutine, buffers, and a handler's state) for all of it:
// 10,000 of them from one host added 300 MiB to the server's RSS for 30 s (docs/SCALING.md,
// "Slow clients"). Two limits bound that: BodyGuard gives a body a grace period plus time at a
// minimum rate, and ConnLimit caps how many connections one address holds at once. New applies
// both from the settings.

// preReadMax is the largest body BodyGuard reads itself before the handler runs: forms.
// Larger bodies are streamed to the handler under the same deadline.
const preReadMax = 64 << 10

// DefaultBodyTimeout is BodyLimits.Timeout when zero (RAMPART_BODY_TIMEOUT's default).
const DefaultBodyTimeout = 10 * time.Second

// BodyLimits configure BodyGuard. The zero value allows DefaultBodyTimeout for every body.
type BodyLimits struct {
	// Timeout is how long a body may take to arrive, from the moment the handler is called
	// (RAMPART_BODY_TIMEOUT; zero means DefaultBodyTimeout).
	Timeout time.Duration
	// MinRate extends Timeout by one second per MinRate bytes received (RAMPART_BODY_MIN_RATE,
	// bytes per second; zero: no extension).
	MinRate int
	// Ceiling is the latest the deadline may move to, from the handler's start: the server's
	// ReadTimeout, which this deadline replaces. Zero means none.
	Ceiling time.Duration
	// MaxBody is the largest body the site accepts (RAMPART_MAX_BODY_BYTES); bodies up to
	// min(64 KiB, MaxBody) are read before the handler runs. Zero means 64 KiB.
	MaxBody int64
	// Logger receives a debug record per body cut off. Nil means slog.Default().
	Logger *slog.Logger
}

// BodyGuard bounds how long a request body may take to arrive: Timeout from the moment the
// handler is called, plus one second per MinRate bytes received, and never past Ceiling. A
// small body with a Content-Length (up to min(64 KiB, MaxBody) bytes) is read here first, so
// that a client too slow for it gets 408 and no handler runs (no session load, no CSRF failure
// logged for what is a slow client); a larger or chunked body reaches the handler, whose reads
// fail with os.ErrDeadlineExceeded once the deadline passes. The buffer grows with the bytes
// that actually arrive, not with the Content-Length claimed.
//
// The deadline is the connection's read deadline (http.ResponseController), so BodyGuard works
// with net/http's HTTP/1 server; on a connection that cannot take one, the server's own
// ReadTimeout still applies.
func BodyGuard(o BodyLimits) func(http.Handler) http.Handler {
	timeout := cmp.Or(o.Timeout, DefaultBodyTimeout)
	small := int64(preReadMax)
	if o.MaxBody > 0 {
		small = min(small, o.MaxBody)
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	return func(next http.Handler) http.Handler { return guarded(next, o, timeout, small, log) }
}

func guarded(next http.Handler, o BodyLimits, timeout time.Duration, small int64, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		b := &deadlineBody{body: r.Body, rc: http.NewResponseController(w), start: start,
			grace: timeout, rate: o.MinRate}
		if o.Ceiling > 0 {
			b.limit = start.Add(o.Ceiling)
		}
		if err := b.extend(); err != nil {
			// A connection that cannot take a read deadline (none in net/http's servers):
			// ReadTimeout still applies.
			next.ServeHTTP(w, r)
			return
		}
		if r.ContentLength > 0 && r.ContentLength <= small {
			body, err := io.ReadAll(b)
			if err != nil {
				w.Header().Set("Connection", "close")
				if errors.Is(err, os.ErrDeadlineExceeded) {
					log.Debug("request body too slow", "remote", r.RemoteAddr, "received", len(body), "length", r.ContentLength)
					http.Error(w, "The request body arrived too slowly.", http.StatusRequestTimeout)
				} else {
					http.Error(w, "The request body could not be read.", http.StatusBadRequest)
				}
				return
			}
			r.Body = io.NopCloser(&byteReader{b: body})
		} else {
			r.Body = b
		}
		next.ServeHTTP(w, r)
	})
}

// deadlineBody moves the connection's read deadline forward as the body arrives and lifts it
// at the end of the body.
type deadlineBody struct {
	body     io.ReadCloser
	rc       *http.ResponseController
	start    time.Time
	grace    time.Duration
	rate     int
	limit    time.Time // zero: none
	received int64
	set      time.Time // the deadline last set
}

func (b *deadlineBody) extend() error {
	d := b.start.Add(b.grace)
	if b.rate > 0 {
		d = d.Add(time.Duration(float64(b.received) / float64(b.rate) * float64(time.Second)))
	}
	if !b.limit.IsZero() && d.After(b.limit) {
		d = b.limit
	}
	if d.Equal(b.set) {
		return nil
	}
	b.set = d
	return b.rc.SetReadDeadline(d)
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	if n > 0 {
		b.received += int64(n)
		_ = b.extend()
	}
	if err == io.EOF {
		// The body is in: what follows is the handler's work, which no read deadline should
		// cut short (net/http cancels the request's context when its background read of the
		// idle connection times out). The server sets the next request's deadlines itself.
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

func (b *deadlineBody) Close() error { return b.body.Close() }

// byteReader is bytes.Reader without its other methods, so no layer mistakes the pre-read
// body for something seekable it could rewind.
type byteReader struct{ b []byte }

func (r *byteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// ConnLimit caps the connections open at once from one client address (an IPv6 /64, since
// one subscriber usually holds a whole /64, as in lockout and ratelimit), over every listener
// it wraps. Past the cap a new connection is closed as soon as it is accepted, before net/http
// gives it a goroutine or buffers; a summary of refusals is logged at most once a minute.
// Connections from exempt prefixes (the trusted proxies, through which every client arrives)
// are not counted: behind a proxy the cap belongs at the proxy.
type ConnLimit struct {
	max    int
	exempt []netip.Prefix
	log    *slog.Logger

	mu      sync.Mutex
	open    map[netip.Addr]int
	refused int
	logged  time.Time
}

// NewConnLimit returns a cap of max connections per address (RAMPART_MAX_CONNS_PER_IP; zero or
// less: no cap), not counting those from exempt (RAMPART_TRUSTED_PROXIES). A nil log means
// slog.Default().
func NewConnLimit(max int, exempt []netip.Prefix, log *slog.Logger) *ConnLimit {
	if log == nil {
		log = slog.Default()
	}
	return &ConnLimit{max: max, exempt: exempt, log: log, open: map[netip.Addr]int{}}
}

// Wrap returns ln under the limit (ln itself when there is no cap).
func (l *ConnLimit) Wrap(ln net.Listener) net.Listener {
	if l.max <= 0 {
		return ln
	}
	return &limitedListener{Listener: ln, l: l}
}

// connKey is the address a connection counts against, and false for one not counted.
func connKey(a net.Addr, exempt []netip.Prefix) (netip.Addr, bool) {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.Addr{}, false
	}
	ip := ta.AddrPort().Addr().Unmap().WithZone("")
	for _, p := range exempt {
		if p.Contains(ip) {
			return netip.Addr{}, false
		}
	}
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		ip = p.Addr()
	}
	return ip, true
}

// take counts a connection from key, or reports false when key is at the cap.
func (l *ConnLimit) take(key netip.Addr) bool {
	l.mu.Lock()
	if l.open[key] < l.max {
		l.open[key]++
		l.mu.Unlock()
		return true
	}
	l.refused++
	var n int
	if now := time.Now(); now.Sub(l.logged) >= time.Minute {
		n, l.refused, l.logged = l.refused, 0, now
	}
	l.mu.Unlock()
	if n > 0 {
		l.log.Warn("connections refused: too many open from one address (RAMPART_MAX_CONNS_PER_IP)",
			"refused", n, "last", key.String(), "max", l.max)
	}
	return false
}

func (l *ConnLimit) release(key netip.Addr) {
	l.mu.Lock()
	if l.open[key]--; l.open[key] <= 0 {
		delete(l.open, key)
	}
	l.mu.Unlock()
}

type limitedListener struct {
	net.Listener
	l *ConnLimit
}

func (ll *limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := ll.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key, counted := connKey(c.RemoteAddr(), ll.l.exempt)
		if !counted {
			return c, nil
		}
		if !ll.l.take(key) {
			c.Close()
			continue
		}
		return &countedConn{Conn: c, l: ll.l, key: key}, nil
	}
}

// countedConn gives its slot back once, when closed.
type countedConn struct {
	net.Conn
	l    *ConnLimit
	key  netip.Addr
	once sync.Once
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.key) })
	return err
}

// CloseWrite keeps net/http's graceful close (FIN, then a pause before the socket closes, so
// an error response is not lost to a reset) working through the wrapper.
func (c *countedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// ReadFrom keeps sendfile/splice for responses copied from files.
func (c *countedConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(c.Conn, r)
}
