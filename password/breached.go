package password

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// BreachedChecker reports how many times a password appears in known breaches (0 = never).
// An error means the checker could not answer; Breached then fails closed.
type BreachedChecker interface {
	Breached(ctx context.Context, password string) (int, error)
}

// ErrNoChecker reports a Breached validator without a Checker.
var ErrNoChecker = errors.New("password: Breached has no Checker")

// Breached rejects passwords a BreachedChecker has seen in breaches.
type Breached struct {
	// Checker answers the question; nil is a configuration error (Validate fails closed).
	Checker BreachedChecker
	// MinCount is how many sightings reject a password; zero means 1 (any sighting).
	MinCount int
	// InsecureAllowOnError accepts the password when the checker fails (e.g. the breach
	// service is unreachable) instead of returning the error.
	InsecureAllowOnError bool
}

// Validate implements Validator.
func (v Breached) Validate(ctx context.Context, password string, _ UserAttrs) error {
	if v.Checker == nil {
		return ErrNoChecker
	}
	n, err := v.Checker.Breached(ctx, password)
	if err != nil {
		if v.InsecureAllowOnError {
			return nil
		}
		return fmt.Errorf("password: breach check failed: %w", err)
	}
	minCount := v.MinCount
	if minCount <= 0 {
		minCount = 1
	}
	if n >= minCount {
		return &Error{Code: "password_breached",
			Message: "This password has appeared in a data breach and can’t be used."}
	}
	return nil
}

// HelpText implements Validator.
func (Breached) HelpText() string {
	return "Your password can’t be one that has appeared in a known data breach."
}

// DefaultHIBPURL is the Pwned Passwords range API; the 5-character prefix is appended.
const DefaultHIBPURL = "https://api.pwnedpasswords.com/range/"

// maxRangeBody bounds a range response. Real ones are ~30 KiB (~1,000 padded lines of 40 bytes);
// 1 MiB leaves room while a hostile or broken server cannot make us buffer without limit.
const maxRangeBody = 1 << 20

// HIBPClient queries a Pwned Passwords-compatible range API with k-anonymity: only the first
// five hex characters of the password's SHA-1 leave the process, and Add-Padding asks the server
// to pad the response so its size does not reveal the prefix's bucket either.
type HIBPClient struct {
	// BaseURL ends where the prefix is appended; empty means DefaultHIBPURL.
	BaseURL string
	// HTTPClient sends the request; nil means a client with a 10 s timeout (never one without).
	HTTPClient *http.Client
	// UserAgent is sent as User-Agent (the public API asks for one); empty means "rampart".
	UserAgent string
}

var defaultHIBPHTTP = &http.Client{Timeout: 10 * time.Second}

// Breached implements BreachedChecker.
func (c *HIBPClient) Breached(ctx context.Context, password string) (int, error) {
	sum := sha1.Sum([]byte(password))
	full := strings.ToUpper(hex.EncodeToString(sum[:]))
	prefix, suffix := full[:5], full[5:]
	base := c.BaseURL
	if base == "" {
		base = DefaultHIBPURL
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+prefix, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Add-Padding", "true")
	ua := c.UserAgent
	if ua == "" {
		ua = "rampart"
	}
	req.Header.Set("User-Agent", ua)
	hc := c.HTTPClient
	if hc == nil {
		hc = defaultHIBPHTTP
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("password: range API answered %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxRangeBody+1))
	if err != nil {
		return 0, err
	}
	if len(body) > maxRangeBody {
		return 0, errors.New("password: range API response too large")
	}
	return parseRange(body, suffix)
}

// parseRange finds suffix (35 upper-case hex characters) in a range response of
// "SUFFIX:COUNT" lines. Padding lines have count 0 and so never count as a sighting. A line
// that is not SUFFIX:COUNT makes the whole answer an error: a response we do not understand
// must not be read as "not breached".
func parseRange(body []byte, suffix string) (int, error) {
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 64), 256)
	found := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		hash, count, ok := strings.Cut(line, ":")
		if !ok || len(hash) != 35 || !isHex(hash) {
			return 0, fmt.Errorf("password: malformed range line %.40q", line)
		}
		n, err := strconv.Atoi(count)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("password: malformed range count %.20q", count)
		}
		if strings.EqualFold(hash, suffix) && n > found {
			found = n
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("password: range response: %w", err)
	}
	return found, nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// OfflineChecker answers from a local list of SHA-1 hashes (the downloadable Pwned Passwords
// file, or any list): no network, no third party.
type OfflineChecker struct {
	m map[[sha1.Size]byte]int
}

// NewOfflineChecker reads lines "SHA1HEX" or "SHA1HEX:COUNT" (case-insensitive hex; a missing
// count means 1). Blank lines are skipped; any other malformed line is an error.
func NewOfflineChecker(r io.Reader) (*OfflineChecker, error) {
	c := &OfflineChecker{m: make(map[[sha1.Size]byte]int)}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64), 256)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		h, cnt, hasCount := strings.Cut(line, ":")
		var key [sha1.Size]byte
		if len(h) != 2*sha1.Size {
			return nil, fmt.Errorf("password: offline list line %d: not a SHA-1", lineNo)
		}
		if _, err := hex.Decode(key[:], []byte(h)); err != nil {
			return nil, fmt.Errorf("password: offline list line %d: not a SHA-1", lineNo)
		}
		n := 1
		if hasCount {
			var err error
			if n, err = strconv.Atoi(cnt); err != nil || n < 0 {
				return nil, fmt.Errorf("password: offline list line %d: bad count", lineNo)
			}
		}
		c.m[key] = n
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("password: offline list: %w", err)
	}
	return c, nil
}

// OfflineCheckerFromPasswords builds a checker from plain passwords (each counted once).
func OfflineCheckerFromPasswords(passwords ...string) *OfflineChecker {
	c := &OfflineChecker{m: make(map[[sha1.Size]byte]int, len(passwords))}
	for _, p := range passwords {
		c.m[sha1.Sum([]byte(p))]++
	}
	return c
}

// Breached implements BreachedChecker.
func (c *OfflineChecker) Breached(_ context.Context, password string) (int, error) {
	return c.m[sha1.Sum([]byte(password))], nil
}
