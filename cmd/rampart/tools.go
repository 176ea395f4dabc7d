package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rampart-go/rampart"
	"github.com/rampart-go/rampart/auth"
	"github.com/rampart-go/rampart/lockout"
	"github.com/rampart-go/rampart/mail"
	"github.com/rampart-go/rampart/settings"
	"github.com/rampart-go/rampart/signing"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/open"
)

// toolSettings reads the settings of the commands that run beside the server and serve nothing
// (createuser, unlock, migrate) from the environment and ./.env, as serve does. What they use is
// where the stores are (RAMPART_DATABASE_URL, RAMPART_REDIS_URL) and the account and lockout
// policies. The rules that stop a server from starting unsafely (a production secret key,
// ALLOWED_HOSTS) do not concern a process that serves no request, so a second terminal needs
// none of the server's environment when the server uses the defaults. These commands sign
// and seal nothing (no session, token or TOTP secret), so without a configured key they take
// the dev server's kept key, or a throwaway one.
//
// Unless create is set, the default database (RAMPART_DATABASE_URL unset: rampart.db in the
// current directory) must already exist: missing, it means the command is not looking where the
// server does (another directory, or a terminal without the server's RAMPART_DATABASE_URL),
// and creating a new empty database there would make a user the server never sees. The error
// says so, naming the variable and the file. A SQLite path set explicitly is created if need be,
// as the server would.
func toolSettings(stderr io.Writer, create bool) (settings.Settings, bool) {
	s, err := settings.Parse(nil, ".env")
	if err != nil {
		fail(stderr, err)
		return s, false
	}
	if s.SecretKey == "" || s.SecretKeyEphemeral {
		s.SecretKey = settings.Secret(signing.GenerateKey())
		if b, err := os.ReadFile(devKeyFile); err == nil && signing.KeyProblem(strings.TrimSpace(string(b))) == nil {
			s.SecretKey = settings.Secret(strings.TrimSpace(string(b)))
		}
	}
	if len(s.AllowedHosts) == 0 {
		s.AllowedHosts = []string{"localhost"} // no request is served
	}
	if err := databaseProblem(s.DatabaseURL.Reveal(), create); err != nil {
		fail(stderr, err)
		return s, false
	}
	return s, true
}

// databaseProblem explains why a tool cannot reach the database at rawURL, or returns nil.
// PostgreSQL and Redis answer for themselves when opened.
func databaseProblem(rawURL string, create bool) error {
	d, err := settings.ParseDatabaseURL(rawURL)
	if err != nil || d.Driver != "sqlite" {
		return nil // Validate names a bad URL; servers answer for themselves
	}
	shown := settings.RedactURL(rawURL)
	if d.DSN == ":memory:" {
		return fmt.Errorf("RAMPART_DATABASE_URL is %s, a store that lives only inside the server process: "+
			"this command cannot reach it (use a SQLite file or PostgreSQL to manage users and lockouts from the command line)", shown)
	}
	if create {
		return nil
	}
	if def, _ := settings.Parse(func(string) (string, bool) { return "", false }, ""); rawURL != def.DatabaseURL.Reveal() {
		return nil // chosen explicitly
	}
	if _, err := os.Stat(d.DSN); !errors.Is(err, os.ErrNotExist) {
		return nil // present, or unreadable: opening it reports the real error
	}
	abs, _ := filepath.Abs(d.DSN)
	return fmt.Errorf("RAMPART_DATABASE_URL is not set, so the database is the default %s, and %s does not exist: "+
		"run this command in the directory the server runs in, with the server's RAMPART_* settings (environment or .env), "+
		"or create a new database here with `rampart migrate`", shown, abs)
}

// storeName shows where a tool acted, so that a terminal missing the server's settings is
// noticed at once.
func storeName(s settings.Settings) string {
	name := settings.RedactURL(s.DatabaseURL.Reveal())
	if s.RedisURL != "" {
		name += " + " + settings.RedactURL(s.RedisURL.Reveal())
	}
	return name
}

func withStack(stderr io.Writer, f func(ctx context.Context, st *rampart.Stack) int) int {
	s, ok := toolSettings(stderr, false)
	if !ok {
		return 1
	}
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(stderr, nil))
	// A tool runs beside the server and serves no sessions: SQLite's session cache stays off
	// (only one serving process per file may have it, see store/sqlite's ErrSessionsInUse), and
	// with a store it did not open the stack leaves the Redis persistence check to the server.
	db, err := open.OpenWith(ctx, s.DatabaseURL.Reveal(), s.RedisURL.Reveal(),
		open.Options{ServesNoSessions: true, Logger: log, Timeout: s.StoreTimeout})
	if err != nil {
		fail(stderr, fmt.Errorf("rampart: opening stores: %w", err))
		return 1
	}
	defer db.Close()
	opts := rampart.Options{Logger: log, Store: db}
	if s.EmailURL == "" {
		opts.Mailer = &mail.Outbox{} // a tool sends no mail: no warning that the server's is unset
	}
	st, err := rampart.New(ctx, s, opts)
	if err != nil {
		fail(stderr, err)
		return 1
	}
	defer st.Close() // before db.Close: the stack drains its mail queue first
	return f(ctx, st)
}

func createUser(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("createuser", flag.ContinueOnError)
	fs.SetOutput(stderr)
	username := fs.String("username", "", "username (required)")
	email := fs.String("email", "", "e-mail address")
	staff := fs.Bool("staff", false, "may open /admin/security")
	superuser := fs.Bool("superuser", false, "holds every permission (implies --staff)")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *username == "" || !*fromStdin || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: rampart createuser --username U [--email E] [--staff] [--superuser] --password-stdin  (the password is never taken from the command line)")
		return 2
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		fmt.Fprintf(stderr, "rampart: reading password: %v\n", err)
		return 1
	}
	pw := strings.TrimRight(line, "\r\n")
	return withStack(stderr, func(ctx context.Context, st *rampart.Stack) int {
		u, err := st.Accounts.CreateUser(ctx, *username, *email, pw, *staff)
		if errors.Is(err, store.ErrConflict) {
			err = conflict(ctx, st.Store, *username, *email)
		}
		if err == nil && *superuser {
			u, err = makeSuperuser(ctx, st, u)
		}
		if err != nil {
			fail(stderr, err)
			return 1
		}
		fmt.Fprintf(stdout, "created user %q (id %s, staff %v, superuser %v) in %s\n", u.Username, u.ID, u.IsStaff, u.IsSuperuser, storeName(st.Settings))
		return 0
	})
}

// conflict says which unique value of a new user is taken, instead of the store's constraint
// error: the username when an account has it, the e-mail address otherwise. (This is the
// operator's tool; the registration page must not tell which addresses have accounts.)
func conflict(ctx context.Context, users store.Users, username, email string) error {
	if norm, err := auth.NormalizeUsername(username); err == nil {
		if _, err := users.UserByUsername(ctx, norm); err == nil {
			return fmt.Errorf("a user named %q already exists", username)
		}
	}
	return fmt.Errorf("another user already has the e-mail address %q", email)
}

const unlockUsage = "usage: rampart unlock --username U | --ip A | --all  [--list]"

func unlock(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("unlock", flag.ContinueOnError)
	fs.SetOutput(stderr)
	username := fs.String("username", "", "clear the failures and locks of this username (all IPs)")
	ip := fs.String("ip", "", "clear the failures and locks of this client IP (an IPv6 address: its /64)")
	all := fs.Bool("all", false, "clear every failure counter and lock")
	list := fs.Bool("list", false, "list what is locked (before any clearing)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if (*username == "" && *ip == "" && !*all && !*list) || (*all && (*username != "" || *ip != "")) || fs.NArg() > 0 {
		fmt.Fprintln(stderr, unlockUsage)
		return 2
	}
	var addr netip.Addr
	if *ip != "" {
		var err error
		if addr, err = netip.ParseAddr(*ip); err != nil {
			fmt.Fprintf(stderr, "rampart: --ip: %v\n", err)
			return 2
		}
	}
	return withStack(stderr, func(ctx context.Context, st *rampart.Stack) int {
		if *list {
			entries, err := st.Lockout.Locked(ctx, 1000)
			if err != nil {
				fail(stderr, err)
				return 1
			}
			for _, e := range entries {
				printEntry(stdout, e)
			}
			if len(entries) == 0 {
				fmt.Fprintf(stdout, "nothing is locked in %s\n", storeName(st.Settings))
			}
		}
		type job struct {
			what  string
			clear func() (lockout.Cleared, error)
		}
		var jobs []job
		if *username != "" {
			jobs = append(jobs, job{fmt.Sprintf("username %q", *username), func() (lockout.Cleared, error) { return st.Lockout.ClearUser(ctx, *username) }})
		}
		if addr.IsValid() {
			jobs = append(jobs, job{addr.String(), func() (lockout.Cleared, error) { return st.Lockout.ClearIP(ctx, addr) }})
		}
		if *all {
			jobs = append(jobs, job{"", func() (lockout.Cleared, error) { return st.Lockout.ClearAll(ctx) }})
		}
		for _, j := range jobs {
			c, err := j.clear()
			if err != nil {
				fail(stderr, err)
				return 1
			}
			reportCleared(stdout, j.what, c, storeName(st.Settings))
		}
		return 0
	})
}

// reportCleared says what an unlock of what ("" for everything) removed: the locks it
// lifted, or that nothing was locked, and the failure counters it reset.
func reportCleared(w io.Writer, what string, c lockout.Cleared, where string) {
	counters := plural(c.Counters, "failure counter")
	switch {
	case len(c.Locks) > 0 && what == "":
		fmt.Fprintf(w, "unlocked everything in %s: %s lifted, %s cleared\n", where, plural(len(c.Locks), "lock"), counters)
	case len(c.Locks) > 0:
		fmt.Fprintf(w, "unlocked %s in %s: %s lifted, %s cleared\n", what, where, plural(len(c.Locks), "lock"), counters)
	case what == "":
		fmt.Fprintf(w, "nothing was locked in %s", where)
	default:
		fmt.Fprintf(w, "nothing was locked for %s in %s", what, where)
	}
	if len(c.Locks) == 0 {
		if c.Counters > 0 {
			fmt.Fprintf(w, " (%s below the limits cleared)", counters)
		}
		fmt.Fprintln(w)
	}
	for _, e := range c.Locks {
		fmt.Fprint(w, "  ")
		printEntry(w, e)
	}
}

func printEntry(w io.Writer, e lockout.Entry) {
	fmt.Fprintf(w, "%-10s user=%q ip=%s failures=%d until=%s\n", e.Scope, e.Username, e.IP, e.Failures, e.Until.Format(time.RFC3339))
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func migrate(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintln(stderr, "usage: rampart migrate  (uses RAMPART_DATABASE_URL)")
		return 2
	}
	s, ok := toolSettings(stderr, true)
	if !ok {
		return 1
	}
	if err := open.Migrate(context.Background(), s.DatabaseURL.Reveal()); err != nil {
		fmt.Fprintf(stderr, "rampart: migrate: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "migrated %s\n", settings.RedactURL(s.DatabaseURL.Reveal()))
	return 0
}
