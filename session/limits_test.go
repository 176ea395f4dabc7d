package session

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// flashBound is the most a session holding only a login and maxFlashes flashes of up to
// msgLen bytes may encode to (version, two strings, counts, 2-byte length prefixes).
func flashBound(msgLen int) int { return 1 + 2*(2+64) + 2 + maxFlashes*(2+msgLen) + 2 }

func TestFlashesBounded(t *testing.T) {
	const msg = "A comment must have between 1 and 10000 characters."
	tests := []struct {
		name    string
		perReq  int // flashes queued by each request
		reqs    int
		wantNew int // index of the newest flash
	}{
		{"1000 in one request", 1000, 1, 999},
		{"one per request, 1000 requests", 1, 1000, 999},
		{"3 per request, 7 requests", 3, 7, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Options{}, nil)
			tok := e.login("u", strings.Repeat("h", 64))
			n := 0
			for range tt.reqs {
				rec := e.do(tok, func(w http.ResponseWriter, r *http.Request) {
					for range tt.perReq {
						FromRequest(r).Flash(fmt.Sprintf("%s %04d", msg, n))
						n++
					}
				})
				if rec.Code != http.StatusOK {
					t.Fatalf("status %d", rec.Code)
				}
				if size := len(e.st.rows[storeKey(tok)].Data); size > flashBound(len(msg)+5) {
					t.Fatalf("after %d flashes the session holds %d bytes, want at most %d", n, size, flashBound(len(msg)+5))
				}
			}
			var got []string
			e.do(tok, func(w http.ResponseWriter, r *http.Request) { got = FromRequest(r).Flashes() })
			var want []string
			for i := tt.wantNew - maxFlashes + 1; i <= tt.wantNew; i++ {
				want = append(want, fmt.Sprintf("%s %04d", msg, i))
			}
			if !slices.Equal(got, want) {
				t.Errorf("flashes = %q\nwant the newest %d, oldest first: %q", got, maxFlashes, want)
			}
		})
	}
}

// Fewer than maxFlashes are all kept, in order.
func TestFlashesUnderCapKept(t *testing.T) {
	var s Session
	for i := range maxFlashes {
		s.Flash(fmt.Sprint(i))
	}
	want := []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
	if got := s.Flashes(); !slices.Equal(got, want) {
		t.Errorf("flashes = %q, want %q", got, want)
	}
}

// A session larger than Options.MaxSize is never stored: the request fails closed (503,
// logged as session.too_large, not as a store outage) and the stored session is unchanged.
func TestMaxSize(t *testing.T) {
	big := strings.Repeat("x", 200)
	tests := []struct {
		name string
		opts Options
		val  string
		fail bool
	}{
		{"under the limit", Options{MaxSize: 300}, big, false},
		{"over the limit", Options{MaxSize: 150}, big, true},
		{"default limit holds 60 KiB", Options{}, strings.Repeat("x", 60<<10), false},
		{"default limit refuses 65 KiB", Options{}, strings.Repeat("x", 65<<10), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// An existing session grows.
			e := newEnv(t, tt.opts, nil)
			tok := e.token(e.do("", setFoo))
			before := bytes.Clone(e.st.rows[storeKey(tok)].Data)
			rec := e.do(tok, func(w http.ResponseWriter, r *http.Request) {
				FromRequest(r).SetString("big", tt.val)
				w.Header().Set("Location", "/next")
				w.WriteHeader(http.StatusSeeOther)
			})
			after := e.st.rows[storeKey(tok)].Data
			logged := strings.Contains(e.logs.String(), "event=session.too_large")
			if !tt.fail {
				if rec.Code != http.StatusSeeOther || bytes.Equal(before, after) || logged {
					t.Fatalf("status %d, data changed %v, logs %s", rec.Code, !bytes.Equal(before, after), e.logs)
				}
				return
			}
			if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Location") != "" {
				t.Errorf("status %d, Location %q: want 503 without the handler's headers", rec.Code, rec.Header().Get("Location"))
			}
			if !bytes.Equal(before, after) {
				t.Error("the stored session changed")
			}
			if !logged || !strings.Contains(e.logs.String(), "session too large") || strings.Contains(e.logs.String(), "session store failed") {
				t.Errorf("logs: %s", e.logs)
			}
			if v, _ := getString(e, tok, "foo"); v != "bar" {
				t.Errorf("the session is no longer usable: foo = %q", v)
			}

			// A new session is not created and gets no cookie.
			e = newEnv(t, tt.opts, nil)
			rec = e.do("", func(w http.ResponseWriter, r *http.Request) { FromRequest(r).SetString("big", tt.val) })
			if rec.Code != http.StatusServiceUnavailable || e.sessionCookie(rec) != nil || e.st.len() != 0 {
				t.Errorf("new session: status %d, cookie %v, rows %d", rec.Code, e.sessionCookie(rec), e.st.len())
			}

			// Login of a session that is too large fails and changes nothing.
			e = newEnv(t, tt.opts, nil)
			tok = e.token(e.do("", setFoo))
			e.do(tok, func(w http.ResponseWriter, r *http.Request) {
				FromRequest(r).SetString("big", tt.val)
				if err := e.m.Login(r, "u", "h"); !errors.Is(err, ErrTooLarge) {
					t.Errorf("Login = %v, want ErrTooLarge", err)
				}
				if FromRequest(r).UserID() != "" {
					t.Error("logged in anyway")
				}
				w.WriteHeader(http.StatusServiceUnavailable) // what a caller does on a Login error
			})
			if v, _ := getString(e, tok, "foo"); v != "bar" || e.st.len() != 1 {
				t.Errorf("after a failed Login: foo = %q, rows %d", v, e.st.len())
			}

			// A change after the response started cannot fail the response: it is dropped and logged.
			e = newEnv(t, tt.opts, nil)
			tok = e.token(e.do("", setFoo))
			before = bytes.Clone(e.st.rows[storeKey(tok)].Data)
			rec = e.do(tok, func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "<html>")
				FromRequest(r).SetString("big", tt.val)
			})
			if rec.Code != http.StatusOK || !bytes.Equal(before, e.st.rows[storeKey(tok)].Data) ||
				!strings.Contains(e.logs.String(), "op=late_save") || !strings.Contains(e.logs.String(), "event=session.too_large") {
				t.Errorf("late change: status %d, logs %s", rec.Code, e.logs)
			}
		})
	}
}

func getString(e *env, tok, key string) (v string, ok bool) {
	e.t.Helper()
	e.do(tok, func(w http.ResponseWriter, r *http.Request) { v, ok = FromRequest(r).GetString(key) })
	return v, ok
}
