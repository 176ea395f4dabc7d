package djangoimport

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver

	"github.com/rampart-go/rampart/settings"
)

// Source is a Django project's database, opened for reading.
type Source struct {
	db       *sql.DB
	postgres bool
	owned    bool
}

// Open opens the Django database at databaseURL for reading. The URL is read as rampart
// reads RAMPART_DATABASE_URL (settings.ParseDatabaseURL): postgres:// or postgresql:// for
// PostgreSQL; sqlite://PATH, sqlite:///ABS/PATH, file:PATH or a plain path for SQLite. A
// SQLite file is opened read-only and must exist (a mistyped path is an error, not an empty
// database); nothing is ever written to the Django database.
func Open(ctx context.Context, databaseURL string) (*Source, error) {
	d, err := settings.ParseDatabaseURL(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("djangoimport: Django database URL: %w", err)
	}
	var db *sql.DB
	switch d.Driver {
	case "postgres":
		if db, err = sql.Open("pgx", d.DSN); err != nil {
			return nil, fmt.Errorf("djangoimport: %w", err)
		}
	case "sqlite":
		if d.DSN == ":memory:" {
			return nil, errors.New("djangoimport: an in-memory SQLite database holds no Django data")
		}
		if _, err := os.Stat(d.DSN); err != nil {
			return nil, fmt.Errorf("djangoimport: Django database: %w", err)
		}
		// A URI filename with mode=ro: SQLite neither creates nor writes the file.
		dsn := "file:" + (&url.URL{Path: d.DSN}).EscapedPath() + "?mode=ro&_pragma=busy_timeout(10000)"
		if db, err = sql.Open("sqlite", dsn); err != nil {
			return nil, fmt.Errorf("djangoimport: %w", err)
		}
	default:
		return nil, fmt.Errorf("djangoimport: Django database URL %s: want a PostgreSQL or SQLite database", settings.RedactURL(databaseURL))
	}
	s := &Source{db: db, postgres: d.Driver == "postgres", owned: true}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("djangoimport: Django database %s: %w", settings.RedactURL(databaseURL), err)
	}
	return s, nil
}

// NewSource reads a Django database the application has open already; postgres tells the
// dialect (false for SQLite). Close does not close db.
func NewSource(db *sql.DB, postgres bool) *Source { return &Source{db: db, postgres: postgres} }

// Close closes the database if Open opened it.
func (s *Source) Close() error {
	if s.owned {
		return s.db.Close()
	}
	return nil
}

// tables lists the tables of the database (for PostgreSQL, those on the search path), so
// that optional apps (django_otp's plugins) are read only when installed.
func (s *Source) tables(ctx context.Context) (map[string]bool, error) {
	q := `SELECT name FROM sqlite_master WHERE type = 'table'`
	if s.postgres {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = ANY (current_schemas(false))`
	}
	rows, err := s.query(ctx, q)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, r := range rows {
		out[str(r[0])] = true
	}
	return out, nil
}

// query runs q and returns every row as driver values; the tables read are small enough
// (users, groups, devices) to hold, and reading them whole before writing anything is what
// lets the import validate everything first.
func (s *Source) query(ctx context.Context, q string) ([][]any, error) {
	rows, err := s.db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("djangoimport: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, fmt.Errorf("djangoimport: %w", err)
	}
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("djangoimport: %w", err)
		}
		out = append(out, vals)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("djangoimport: %w", err)
	}
	return out, nil
}

// quote makes a table name from the catalogue safe to put in a query.
func quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// The converters below accept what either driver returns for a Django column: SQLite keeps
// booleans as integers and may return datetimes as text; PostgreSQL returns native types.

func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []byte:
		return string(x)
	case int64:
		return strconv.FormatInt(x, 10)
	}
	return fmt.Sprint(v)
}

func num(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case int32:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case float64:
		return int64(x), nil
	case string, []byte:
		return strconv.ParseInt(strings.TrimSpace(str(x)), 10, 64)
	case nil:
		return 0, errors.New("NULL where a number is required")
	}
	return 0, fmt.Errorf("unexpected %T where a number is required", v)
}

func boolean(v any) (bool, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case nil:
		return false, errors.New("NULL where a boolean is required")
	}
	n, err := num(v)
	return n != 0, err
}

// djangoTimeLayouts are the forms Django's SQLite backend writes datetimes in (UTC when
// USE_TZ is on, which is Django's default since 5.0 and of every project startproject made).
var djangoTimeLayouts = []string{
	"2006-01-02 15:04:05.999999999-07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999",
}

func timestamp(v any) (time.Time, error) {
	switch x := v.(type) {
	case nil:
		return time.Time{}, nil
	case time.Time:
		return x.UTC(), nil
	case string, []byte:
		s := strings.TrimSpace(str(x))
		for _, l := range djangoTimeLayouts {
			if t, err := time.Parse(l, s); err == nil {
				return t.UTC(), nil
			}
		}
		return time.Time{}, fmt.Errorf("unreadable datetime %q", s)
	}
	return time.Time{}, fmt.Errorf("unexpected %T where a datetime is required", v)
}
