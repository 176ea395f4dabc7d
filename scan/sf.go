package scan

import "strings"

// parseSFToken parses s as an RFC 8941 structured-field Item and returns its
// bare item when it is a Token (parameters such as report-to are allowed and
// ignored). ok is false for anything else, as browsers ignore a COOP/COEP
// value that does not parse. Hand-written: the stdlib has no structured-field
// parser and only Item-with-token is needed.
func parseSFToken(s string) (token string, ok bool) {
	p := &sfParser{s: strings.Trim(s, " ")}
	tok, isToken := p.bareItem()
	if p.err || !p.params() || p.i != len(p.s) {
		return "", false
	}
	return tok, isToken
}

type sfParser struct {
	s   string
	i   int
	err bool
}

func (p *sfParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func isAlpha(c byte) bool   { return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') }
func isDigit(c byte) bool   { return '0' <= c && c <= '9' }
func isLCAlpha(c byte) bool { return 'a' <= c && c <= 'z' }

func isTChar(c byte) bool {
	return isAlpha(c) || isDigit(c) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// bareItem consumes one bare item; it reports the token text when it is a token.
func (p *sfParser) bareItem() (string, bool) {
	c := p.peek()
	switch {
	case c == '-' || isDigit(c):
		p.number()
	case c == '"':
		p.str()
	case c == '*' || isAlpha(c):
		start := p.i
		p.i++
		for p.i < len(p.s) && (isTChar(p.s[p.i]) || p.s[p.i] == ':' || p.s[p.i] == '/') {
			p.i++
		}
		return p.s[start:p.i], true
	case c == ':':
		p.i++
		for p.i < len(p.s) && p.s[p.i] != ':' {
			if !isAlpha(p.s[p.i]) && !isDigit(p.s[p.i]) && strings.IndexByte("+/=", p.s[p.i]) < 0 {
				p.err = true
				return "", false
			}
			p.i++
		}
		if p.i >= len(p.s) {
			p.err = true
			return "", false
		}
		p.i++
	case c == '?':
		p.i++
		if b := p.peek(); b != '0' && b != '1' {
			p.err = true
			return "", false
		}
		p.i++
	case c == '@': // RFC 9651 date
		p.i++
		p.number()
	default:
		p.err = true
	}
	return "", false
}

func (p *sfParser) number() {
	if p.peek() == '-' {
		p.i++
	}
	start, dot := p.i, -1
	for p.i < len(p.s) {
		c := p.s[p.i]
		if isDigit(c) {
			p.i++
			continue
		}
		if c == '.' && dot < 0 && p.i-start <= 12 {
			dot = p.i
			p.i++
			continue
		}
		break
	}
	n := p.i - start
	switch {
	case n == 0 || (dot < 0 && n > 15) || (dot >= 0 && (n > 16 || dot == p.i-1 || p.i-dot-1 > 3)):
		p.err = true
	}
}

func (p *sfParser) str() {
	p.i++
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '\\':
			p.i++
			if b := p.peek(); b != '"' && b != '\\' {
				p.err = true
				return
			}
		case c == '"':
			p.i++
			return
		case c < 0x20 || c > 0x7e:
			p.err = true
			return
		}
		p.i++
	}
	p.err = true
}

func (p *sfParser) params() bool {
	for p.peek() == ';' {
		p.i++
		for p.peek() == ' ' {
			p.i++
		}
		if c := p.peek(); !isLCAlpha(c) && c != '*' {
			return false
		}
		for p.i < len(p.s) {
			c := p.s[p.i]
			if !isLCAlpha(c) && !isDigit(c) && strings.IndexByte("_-.*", c) < 0 {
				break
			}
			p.i++
		}
		if p.peek() == '=' {
			p.i++
			p.bareItem()
			if p.err {
				return false
			}
		}
	}
	return true
}
