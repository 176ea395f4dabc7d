package settings

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// maxSecretFile bounds what a NAME_FILE variable may point at: secrets are short, and reading a
// device or a huge file by mistake should fail rather than exhaust memory.
const maxSecretFile = 64 << 10

// source merges the process environment, an optional .env file and NAME_FILE indirections.
type source struct {
	env      func(string) (string, bool)
	dotenv   map[string]string
	readFile func(string) ([]byte, error)
}

func (src *source) raw(name string) (string, bool) {
	if v, ok := src.env(name); ok {
		return v, true
	}
	v, ok := src.dotenv[name]
	return v, ok
}

// lookup returns the value of name, reading NAME_FILE when that is set instead. An empty value
// counts as unset, so "RAMPART_X=" in a .env file falls back to the default.
func (src *source) lookup(name string) (string, bool, error) {
	v, okV := src.raw(name)
	f, okF := src.raw(name + "_FILE")
	if okV && v == "" {
		okV = false
	}
	if okF && f == "" {
		okF = false
	}
	switch {
	case okV && okF:
		return "", false, fmt.Errorf("%s and %s_FILE are both set; set only one", name, name)
	case okF:
		b, err := readLimited(src.readFile, f)
		if err != nil {
			return "", false, fmt.Errorf("%s_FILE: %w", name, err)
		}
		v = strings.TrimRight(string(b), "\r\n")
		return v, v != "", nil
	case okV:
		return v, true, nil
	}
	return "", false, nil
}

func readLimited(read func(string) ([]byte, error), path string) ([]byte, error) {
	if read != nil {
		return read(path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSecretFile {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxSecretFile)
	}
	return b, nil
}

// readDotenv reads a .env file. A missing file is not an error: the file is optional. Each
// malformed line is returned as a lineError and left out of the map; err is for a file that
// cannot be read at all.
//
// Written by hand rather than with joho/godotenv: the format needed is small, godotenv is
// feature-complete but would be one more dependency, and godotenv writes into the process
// environment while rampart must keep "environment wins over file" without mutating anything.
func readDotenv(path string) (map[string]string, []lineError, error) {
	if path == "" {
		return nil, nil, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	m, bad := parseDotenvLines(b)
	for i := range bad {
		bad[i].err = fmt.Errorf("%s: %w", path, bad[i].err)
	}
	return m, bad, nil
}

// lineError is one malformed .env line: key is the variable it was setting, or "" when the
// line has no usable name.
type lineError struct {
	key string
	err error
}

// parseDotenv parses a whole .env file strictly: the first malformed line is an error.
func parseDotenv(b []byte) (map[string]string, error) {
	m, bad := parseDotenvLines(b)
	if len(bad) > 0 {
		return nil, bad[0].err
	}
	return m, nil
}

// parseDotenvLines parses lines of the form `[export ]KEY=value`. Blank lines and lines starting
// with # are ignored. Single-quoted values are raw; double-quoted values understand \n, \r, \t,
// \" and \\; unquoted values are trimmed and end at a " #" comment. Anything else is a lineError,
// with the line number, because a silently skipped line could be a security setting; the good
// lines are still returned so that `rampart check` can judge them.
func parseDotenvLines(b []byte) (map[string]string, []lineError) {
	m := map[string]string{}
	var bad []lineError
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if n == 1 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		if line == "" || line[0] == '#' {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		key, val, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		if !ok || !validName(key) {
			bad = append(bad, lineError{err: fmt.Errorf("line %d: expected KEY=value", n)})
			continue
		}
		v, err := dotenvValue(strings.TrimSpace(val))
		if err != nil {
			bad = append(bad, lineError{key: key, err: fmt.Errorf("line %d (%s): %w", n, key, err)})
			delete(m, key) // a later bad line for a key hides an earlier good one, as it would have replaced it
			continue
		}
		m[key] = v
	}
	if err := sc.Err(); err != nil {
		// A line over the scanner's limit: everything after it is unknown.
		bad = append(bad, lineError{err: fmt.Errorf("line %d: %w", n+1, err)})
	}
	return m, bad
}

func validName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func dotenvValue(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	switch v[0] {
	case '\'':
		end := strings.IndexByte(v[1:], '\'')
		if end < 0 {
			return "", errors.New("unterminated single quote")
		}
		if err := onlyComment(v[end+2:]); err != nil {
			return "", err
		}
		return v[1 : end+1], nil
	case '"':
		var b strings.Builder
		for i := 1; i < len(v); i++ {
			c := v[i]
			switch {
			case c == '"':
				if err := onlyComment(v[i+1:]); err != nil {
					return "", err
				}
				return b.String(), nil
			case c == '\\' && i+1 < len(v):
				i++
				switch v[i] {
				case 'n':
					b.WriteByte('\n')
				case 'r':
					b.WriteByte('\r')
				case 't':
					b.WriteByte('\t')
				case '"', '\\', '$', '\'':
					b.WriteByte(v[i])
				default:
					b.WriteByte('\\')
					b.WriteByte(v[i])
				}
			default:
				b.WriteByte(c)
			}
		}
		return "", errors.New("unterminated double quote")
	}
	if i := strings.Index(v, " #"); i >= 0 {
		v = v[:i]
	} else if i := strings.Index(v, "\t#"); i >= 0 {
		v = v[:i]
	}
	return strings.TrimSpace(v), nil
}

func onlyComment(rest string) error {
	rest = strings.TrimSpace(rest)
	if rest == "" || rest[0] == '#' {
		return nil
	}
	return errors.New("unexpected text after closing quote")
}
