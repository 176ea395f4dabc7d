package attacktest

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-go/rampart/internal/apptest"
	"github.com/rampart-go/rampart/store"
)

const (
	msgBadCode   = "That code is not valid. Codes work once; wait for the next one."
	msgThrottled = "Too many wrong codes. Wait a moment and try again."
)

var backupRE = regexp.MustCompile(`<li><code>([^<]+)</code></li>`)

// enroll turns 2FA on for c's logged-in user through the enrollment page and returns the
// TOTP secret and the backup codes shown once.
func enroll(t *testing.T, env *apptest.Env, c *apptest.Client, at time.Time) (secret string, backup []string) {
	t.Helper()
	r := c.Get("/accounts/2fa")
	secret = apptest.SecretFrom(r.Body)
	if r.StatusCode != http.StatusOK || secret == "" {
		t.Fatalf("enrollment page: status %d, no secret", r.StatusCode)
	}
	if !strings.Contains(r.Body, `src="data:image/png;base64,`) {
		t.Fatalf("enrollment page has no inline QR PNG")
	}
	r = c.Post("/accounts/2fa", "/accounts/2fa", url.Values{"action": {"enable"}, "code": {apptest.TOTP(t, secret, at)}})
	if r.StatusCode != http.StatusOK || !strings.Contains(r.Body, "Two-factor authentication is <strong>on</strong>") {
		t.Fatalf("enable: status %d\n%s", r.StatusCode, r.Body)
	}
	for _, m := range backupRE.FindAllStringSubmatch(r.Body, -1) {
		backup = append(backup, m[1])
	}
	if len(backup) != 10 {
		t.Fatalf("want 10 backup codes shown once, got %d", len(backup))
	}
	// Shown once: a reload lists none.
	if r := c.Get("/accounts/2fa"); len(backupRE.FindAllString(r.Body, -1)) != 0 || !strings.Contains(r.Body, "10 unused backup codes") {
		t.Fatalf("backup codes must be shown only once and counted (10 unused)")
	}
	return secret, backup
}

// passwordStep logs in with a password and requires the redirect to the second step.
func passwordStep(t *testing.T, c *apptest.Client, user, pw string) {
	t.Helper()
	r := c.Post("/accounts/login", "/accounts/login", url.Values{"username": {user}, "password": {pw}})
	if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(apptest.Path(r.Header.Get("Location")), "/accounts/login/2fa") {
		t.Fatalf("password step: status %d Location %q, want 303 to /accounts/login/2fa", r.StatusCode, r.Header.Get("Location"))
	}
}

func submitCode(c *apptest.Client, code string, extra url.Values) *apptest.Response {
	form := url.Values{"code": {code}}
	for k, v := range extra {
		form[k] = v
	}
	return c.Post("/accounts/login/2fa", "/accounts/login/2fa", form)
}

func logout(t *testing.T, c *apptest.Client) {
	t.Helper()
	if r := c.Post("/", "/accounts/logout", nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: status %d", r.StatusCode)
	}
}

// TestTwoFactorEndToEnd drives enrollment, every way through the second step and every
// failure path through the HTTP handlers, in order: each step states what must happen and
// builds on the state the previous ones left (one user, one settable clock).
func TestTwoFactorEndToEnd(t *testing.T) {
	env := apptest.New(t, apptest.Options{})
	env.CreateUser(t, "alice", alicePW, false)
	c := env.Client(t)
	c.Login("alice", alicePW)
	secret, backup := enroll(t, env, c, env.Clock.Now())
	logout(t, c)
	// The enrollment code's time step is spent; start the scenario one step later.
	env.Clock.Advance(30 * time.Second)
	remember := "rampart-2fa"
	var savedRemember string

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"password then current TOTP code logs in and lands on next", func(t *testing.T) {
			c := env.Client(t)
			r := c.Post("/accounts/login?next=/comments", "/accounts/login?next=/comments", url.Values{"username": {"alice"}, "password": {alicePW}})
			if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/accounts/login/2fa") {
				t.Fatalf("password step: %d %q", r.StatusCode, r.Header.Get("Location"))
			}
			if loggedIn(t, c) {
				t.Fatal("password alone must not log in a 2FA user")
			}
			r = c.Post(r.Header.Get("Location"), r.Header.Get("Location"), url.Values{"code": {apptest.TOTP(t, secret, env.Clock.Now())}})
			if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/comments" {
				t.Fatalf("code step: %d %q, want 303 to /comments", r.StatusCode, r.Header.Get("Location"))
			}
			if !loggedIn(t, c) {
				t.Fatal("not logged in after the second step")
			}
		}},
		{"the same TOTP code replayed in a new login is refused with the generic message", func(t *testing.T) {
			c := env.Client(t)
			passwordStep(t, c, "alice", alicePW)
			r := submitCode(c, apptest.TOTP(t, secret, env.Clock.Now()), nil)
			if r.StatusCode != http.StatusOK || !strings.Contains(r.Body, msgBadCode) || loggedIn(t, c) {
				t.Fatalf("replay: status %d, want 200 with the generic message and no login", r.StatusCode)
			}
			count("totp replay (e2e)", 1)
		}},
		{"a wrong code answers 200 with the generic message; an immediate retry is throttled (429 + Retry-After)", func(t *testing.T) {
			env.Clock.Advance(30 * time.Second) // let the replay's throttle pass, new step
			c := env.Client(t)
			passwordStep(t, c, "alice", alicePW)
			wrong := wrongCode(t, secret, env.Clock.Now())
			r := submitCode(c, wrong, nil)
			if r.StatusCode != http.StatusOK || !strings.Contains(r.Body, msgBadCode) {
				t.Fatalf("wrong code: status %d, want 200 + generic message", r.StatusCode)
			}
			// Even the right code is refused while throttled: the throttle is checked first.
			r = submitCode(c, apptest.TOTP(t, secret, env.Clock.Now()), nil)
			if r.StatusCode != http.StatusTooManyRequests || !strings.Contains(r.Body, msgThrottled) {
				t.Fatalf("retry while throttled: status %d, want 429", r.StatusCode)
			}
			ra1, _ := strconv.Atoi(r.Header.Get("Retry-After"))
			if ra1 < 1 {
				t.Fatalf("Retry-After %q, want >= 1", r.Header.Get("Retry-After"))
			}
			// Back-off doubles with consecutive failures (django-otp).
			env.Clock.Advance(time.Duration(ra1) * time.Second)
			if r := submitCode(c, wrong, nil); r.StatusCode != http.StatusOK {
				t.Fatalf("second wrong code after waiting: %d, want 200", r.StatusCode)
			}
			r = submitCode(c, wrong, nil)
			ra2, _ := strconv.Atoi(r.Header.Get("Retry-After"))
			if r.StatusCode != http.StatusTooManyRequests || ra2 <= ra1 {
				t.Fatalf("after 2 failures: status %d Retry-After %d, want 429 and more than %d", r.StatusCode, ra2, ra1)
			}
			env.Clock.Advance(time.Duration(ra2) * time.Second)
			if loggedIn(t, c) {
				t.Fatal("logged in after wrong codes")
			}
			count("totp wrong codes", 4)
		}},
		{"after waiting out the throttle the right code logs in (legit user not locked out)", func(t *testing.T) {
			c := env.Client(t)
			passwordStep(t, c, "alice", alicePW)
			if r := submitCode(c, apptest.TOTP(t, secret, env.Clock.Now()), nil); r.StatusCode != http.StatusSeeOther || !loggedIn(t, c) {
				t.Fatalf("right code after throttle: %d", r.StatusCode)
			}
		}},
		{"a backup code logs in once; the same backup code is refused the next time", func(t *testing.T) {
			env.Clock.Advance(30 * time.Second)
			c := env.Client(t)
			passwordStep(t, c, "alice", alicePW)
			if r := submitCode(c, backup[0], nil); r.StatusCode != http.StatusSeeOther || !loggedIn(t, c) {
				t.Fatalf("backup code: status %d", r.StatusCode)
			}
			if r := c.Get("/accounts/2fa"); !strings.Contains(r.Body, "9 unused backup codes") {
				t.Fatal("backup code not consumed: page does not say 9 unused")
			}
			logout(t, c)
			passwordStep(t, c, "alice", alicePW)
			if r := submitCode(c, backup[0], nil); r.StatusCode != http.StatusOK || !strings.Contains(r.Body, msgBadCode) || loggedIn(t, c) {
				t.Fatalf("reused backup code: status %d, want 200 refusal", r.StatusCode)
			}
			env.Clock.Advance(5 * time.Second) // past the failure's throttle
			count("backup code reuse", 1)
		}},
		{"the second step without a password step redirects to the login page and logs nobody in", func(t *testing.T) {
			env.Clock.Advance(30 * time.Second)
			c := env.Client(t)
			for _, method := range []string{"GET", "POST"} {
				var r *apptest.Response
				if method == "GET" {
					r = c.Get("/accounts/login/2fa")
				} else {
					r = submitCode(c, apptest.TOTP(t, secret, env.Clock.Now()), nil)
				}
				if r.StatusCode != http.StatusSeeOther || apptest.Path(r.Header.Get("Location")) != "/accounts/login" {
					t.Fatalf("%s without password step: %d %q, want 303 /accounts/login", method, r.StatusCode, r.Header.Get("Location"))
				}
			}
			if loggedIn(t, c) {
				t.Fatal("2FA step alone logged in")
			}
		}},
		{"an expired pending state (more than 10 minutes) sends the user back to the login form", func(t *testing.T) {
			c := env.Client(t)
			passwordStep(t, c, "alice", alicePW)
			env.Clock.Advance(10*time.Minute + 30*time.Second)
			r := submitCode(c, apptest.TOTP(t, secret, env.Clock.Now()), nil)
			if r.StatusCode != http.StatusSeeOther || apptest.Path(r.Header.Get("Location")) != "/accounts/login" || loggedIn(t, c) {
				t.Fatalf("expired pending: %d %q, want 303 /accounts/login", r.StatusCode, r.Header.Get("Location"))
			}
			if r := c.Get("/accounts/login"); !strings.Contains(r.Body, "Your login timed out") {
				t.Fatal("no timed-out message on the login page")
			}
		}},
		{"remember=1 sets an HttpOnly persistent remember cookie; the next password login skips the second step", func(t *testing.T) {
			env.Clock.Advance(30 * time.Second)
			c := env.Client(t)
			passwordStep(t, c, "alice", alicePW)
			r := submitCode(c, apptest.TOTP(t, secret, env.Clock.Now()), url.Values{"remember": {"1"}})
			if r.StatusCode != http.StatusSeeOther {
				t.Fatalf("code with remember: %d", r.StatusCode)
			}
			var rc *http.Cookie
			for _, ck := range r.Cookies() {
				if ck.Name == remember {
					rc = ck
				}
			}
			if rc == nil || !rc.HttpOnly || rc.MaxAge <= 0 && rc.Expires.IsZero() {
				t.Fatalf("remember cookie missing or not HttpOnly/persistent: %+v", rc)
			}
			savedRemember = rc.Value
			logout(t, c)
			r = c.Post("/accounts/login", "/accounts/login", url.Values{"username": {"alice"}, "password": {alicePW}})
			if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/" || !loggedIn(t, c) {
				t.Fatalf("remembered device: %d %q, want 303 / and logged in", r.StatusCode, r.Header.Get("Location"))
			}
			// The remember cookie skips only the second factor, never the password.
			logout(t, c)
			r = c.Post("/accounts/login", "/accounts/login", url.Values{"username": {"alice"}, "password": {"wrong password here"}})
			if r.StatusCode != http.StatusOK || loggedIn(t, c) {
				t.Fatalf("remembered device with a wrong password: %d", r.StatusCode)
			}
		}},
		{"forget-devices revokes the remember cookie server-side: even the old cookie value needs the second step", func(t *testing.T) {
			env.Clock.Advance(30 * time.Second)
			c := env.Client(t)
			setCookie(c, env.URL, remember, savedRemember)
			c.Login("alice", alicePW) // remembered: straight in
			r := c.Post("/accounts/2fa", "/accounts/2fa", url.Values{"action": {"forget-devices"}})
			if r.StatusCode != http.StatusSeeOther {
				t.Fatalf("forget-devices: %d", r.StatusCode)
			}
			logout(t, c)
			setCookie(c, env.URL, remember, savedRemember) // replant the cookie the server deleted
			passwordStep(t, c, "alice", alicePW)
			if r := submitCode(c, apptest.TOTP(t, secret, env.Clock.Now()), nil); r.StatusCode != http.StatusSeeOther || !loggedIn(t, c) {
				t.Fatalf("code after forget-devices: %d", r.StatusCode)
			}
		}},
		{"a tampered remember cookie is ignored: the second step is required", func(t *testing.T) {
			env.Clock.Advance(30 * time.Second)
			c := env.Client(t)
			passwordStep(t, c, "alice", alicePW)
			r := submitCode(c, apptest.TOTP(t, secret, env.Clock.Now()), url.Values{"remember": {"1"}})
			good := ""
			for _, ck := range r.Cookies() {
				if ck.Name == remember {
					good = ck.Value
				}
			}
			if good == "" {
				t.Fatal("no remember cookie")
			}
			logout(t, c)
			for _, v := range tamperings(good) {
				c := env.Client(t)
				setCookie(c, env.URL, remember, v)
				passwordStep(t, c, "alice", alicePW) // fails the test unless the 2nd step is asked
			}
			count("remember-cookie tamperings", len(tamperings(good)))
			// And the untouched value still works (the tamperings were refused for their
			// change, not because remembering is broken).
			c2 := env.Client(t)
			setCookie(c2, env.URL, remember, good)
			c2.Login("alice", alicePW)
		}},
		{"disable with a wrong password is refused and 2FA stays on; the right password turns it off", func(t *testing.T) {
			env.Clock.Advance(30 * time.Second)
			c := env.Client(t)
			passwordStep(t, c, "alice", alicePW)
			if r := submitCode(c, apptest.TOTP(t, secret, env.Clock.Now()), nil); r.StatusCode != http.StatusSeeOther {
				t.Fatalf("login: %d", r.StatusCode)
			}
			r := c.Post("/accounts/2fa", "/accounts/2fa", url.Values{"action": {"disable"}, "password": {"not the password"}})
			if r.StatusCode != http.StatusOK || !strings.Contains(r.Body, "Your password was entered incorrectly.") ||
				!strings.Contains(r.Body, "Two-factor authentication is <strong>on</strong>") {
				t.Fatalf("disable with wrong password: %d", r.StatusCode)
			}
			r = c.Post("/accounts/2fa", "/accounts/2fa", url.Values{"action": {"disable"}, "password": {alicePW}})
			if r.StatusCode != http.StatusSeeOther {
				t.Fatalf("disable: %d", r.StatusCode)
			}
			if r := c.Get("/accounts/2fa"); apptest.SecretFrom(r.Body) == "" {
				t.Fatal("2FA page does not offer enrollment after disable")
			}
			logout(t, c)
			r = c.Post("/accounts/login", "/accounts/login", url.Values{"username": {"alice"}, "password": {alicePW}})
			if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/" {
				t.Fatalf("login after disable: %d %q, want 303 / (no second step)", r.StatusCode, r.Header.Get("Location"))
			}
			// Old backup codes died with the device.
			if n, err := env.Stack.TwoFactor.BackupCodesLeft(t.Context(), mustUser(t, env, "alice")); err != nil || n != 0 {
				t.Fatalf("backup codes left after disable: %d, %v", n, err)
			}
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			t.FailNow() // later steps depend on this one
		}
	}
}

// wrongCode returns a 6-digit code valid in no step of the ±1 window.
func wrongCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	valid := map[string]bool{}
	for _, d := range []time.Duration{-30 * time.Second, 0, 30 * time.Second} {
		valid[apptest.TOTP(t, secret, at.Add(d))] = true
	}
	for i := 0; ; i++ {
		c := strconv.Itoa(100000 + i*7919%900000)
		if !valid[c] {
			return c
		}
	}
}

// tamperings returns variants of a signed cookie value: every 7th byte flipped, truncated,
// extended, emptied of its signature part.
func tamperings(v string) []string {
	var out []string
	for i := 0; i < len(v); i += 7 {
		b := []byte(v)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		out = append(out, string(b))
	}
	out = append(out, v[:len(v)-1], v+"A", v[:len(v)/2], "", strings.Repeat("A", len(v)))
	if i := strings.LastIndexAny(v, ".:|"); i > 0 {
		out = append(out, v[:i], v[:i+1])
	}
	return out
}

func mustUser(t *testing.T, env *apptest.Env, username string) store.User {
	t.Helper()
	u, err := env.Stack.Store.UserByUsername(t.Context(), username)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestTOTPReplayAcrossInstances submits one valid code to two app instances sharing a store
// at the same moment, from several browsers mid-login: exactly one login must succeed.
func TestTOTPReplayAcrossInstances(t *testing.T) {
	for _, be := range sharedBackends() {
		t.Run(be.name, func(t *testing.T) {
			sa, sb := be.open(t)
			envs := []*apptest.Env{
				apptest.New(t, apptest.Options{Store: sa, RealClock: true}),
				apptest.New(t, apptest.Options{Store: sb, RealClock: true}),
			}
			envs[0].CreateUser(t, "alice", alicePW, false)
			c := envs[0].Client(t)
			c.Login("alice", alicePW)
			enrolled := time.Now()
			secret, _ := enroll(t, envs[0], c, enrolled)
			// The enrollment spent the current step; the next step's code is inside the ±1
			// window now and was never used.
			code := apptest.TOTP(t, secret, enrolled.Add(30*time.Second))

			const perInstance = 2
			var clients []*apptest.Client
			for i := 0; i < 2*perInstance; i++ {
				c := envs[i%2].Client(t)
				passwordStep(t, c, "alice", alicePW)
				c.Get("/accounts/login/2fa")
				clients = append(clients, c)
			}
			statuses := make([]int, len(clients))
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i, c := range clients {
				req, _ := http.NewRequest(http.MethodPost, envs[i%2].URL+"/accounts/login/2fa",
					strings.NewReader(url.Values{"code": {code}, "csrf_token": {c.Token()}}.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Origin", envs[i%2].URL)
				req.Header.Set("Sec-Fetch-Site", "same-origin")
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					resp, err := c.HTTP.Do(req)
					if err != nil {
						return // status 0: counted as not successful, reported below
					}
					drain(resp)
					statuses[i] = resp.StatusCode
				}()
			}
			close(start)
			wg.Wait()
			wins := 0
			for i, s := range statuses {
				switch s {
				case http.StatusSeeOther:
					wins++
				case http.StatusOK, http.StatusTooManyRequests:
				default:
					t.Errorf("client %d (instance %d): status %d, want 303 for one and 200/429 refusals", i, i%2, s)
				}
			}
			if wins != 1 {
				t.Fatalf("%d of %d racing submissions of one code succeeded, want exactly 1 (statuses %v)", wins, len(clients), statuses)
			}
			count("totp replay races (clients x backends)", len(clients))
		})
	}
}
