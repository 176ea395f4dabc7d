package password

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"io"
	"strings"
	"sync"
	"unicode/utf8"
)

// commonPasswordsGz is the embedded common-password list: the union of four SecLists lists
// (testdata/wordlists, MIT licence, see testdata/wordlists/README.md), lower-cased, trimmed,
// de-duplicated, keeping entries of at least CommonListMinLength characters. Regenerate with
// `go test ./password -run TestEmbeddedListMatchesSources -update`.
//
//go:embed common-passwords.txt.gz
var commonPasswordsGz []byte

// CommonListMinLength is the shortest entry kept in the embedded list. It is 8, the lowest
// minimum any current standard allows (NIST 800-63B with MFA, ASVS), so the list still covers
// the policy when MinimumLength is lowered; shorter entries are refused by MinimumLength anyway.
const CommonListMinLength = 8

// maxWordlistLine bounds one line of a list file (a corrupt file cannot exhaust memory per line).
const maxWordlistLine = 4096

// Wordlist is a set of passwords compared case-insensitively (lower-cased and trimmed, as
// Django's CommonPasswordValidator does). It is safe for concurrent use once built.
type Wordlist struct {
	m map[string]struct{}
}

// ParseWordlist reads one password per line, gzip-compressed or not (detected by its magic
// bytes). Blank lines are skipped; entries are lower-cased and trimmed.
func ParseWordlist(r io.Reader) (*Wordlist, error) {
	br := bufio.NewReader(r)
	if magic, err := br.Peek(2); err == nil && bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("password: wordlist: %w", err)
		}
		defer zr.Close()
		r = zr
	} else {
		r = br
	}
	w := &Wordlist{m: make(map[string]struct{})}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 256), maxWordlistLine)
	for sc.Scan() {
		line := sc.Text()
		if !utf8.ValidString(line) {
			continue
		}
		if s := normalizeCommon(line); s != "" {
			w.m[s] = struct{}{}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("password: wordlist: %w", err)
	}
	return w, nil
}

// NewWordlist builds a list from words.
func NewWordlist(words ...string) *Wordlist {
	w := &Wordlist{m: make(map[string]struct{}, len(words))}
	for _, s := range words {
		if s = normalizeCommon(s); s != "" {
			w.m[s] = struct{}{}
		}
	}
	return w
}

func normalizeCommon(s string) string { return strings.TrimSpace(strings.ToLower(s)) }

// Contains reports whether password, lower-cased and trimmed, is in the list.
func (w *Wordlist) Contains(password string) bool {
	if w == nil {
		return false
	}
	_, ok := w.m[normalizeCommon(password)]
	return ok
}

// Len is the number of distinct entries.
func (w *Wordlist) Len() int {
	if w == nil {
		return 0
	}
	return len(w.m)
}

var defaultWordlist = sync.OnceValues(func() (*Wordlist, error) {
	return ParseWordlist(bytes.NewReader(commonPasswordsGz))
})

// DefaultWordlist returns the embedded common-password list, decoded once on first use.
func DefaultWordlist() *Wordlist {
	w, err := defaultWordlist()
	if err != nil {
		// The list is embedded at build time and checked by the tests; a decode failure is a
		// corrupted binary, not an input problem.
		panic(err)
	}
	return w
}
