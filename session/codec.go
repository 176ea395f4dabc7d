package session

import (
	"encoding/binary"
	"errors"
)

// The session data is kept in a small hand-rolled binary encoding rather than gob or JSON:
//   - gob needs type registration, is slow to set up per value and is the bulk of scs's
//     263 allocations per request;
//   - JSON into map[string]any turns every integer into a float64 (int64 values above 2^53
//     come back wrong) and allocates a map entry and an interface per value.
//
// The session only holds strings, int64s and bools (the typed API allows nothing else), so a
// length-prefixed format is about 60 lines, decodes with one allocation for all strings (they
// are substrings of one copy of the data), and is easy to fuzz.
//
// Layout (version 1):
//
//	0x01
//	str authHash
//	str csrfSecret
//	uvarint nFlashes, then nFlashes × str
//	uvarint nValues,  then nValues × (str key, kind byte, payload)
//
// where str is uvarint length + bytes; kind 's' has a str payload, 'i' a zig-zag varint,
// 'b' one byte 0 or 1. Reserved session state (auth hash, CSRF secret, flashes) has fields of
// its own, so no application key can collide with it.
const codecVersion = 1

const (
	kindString = 's'
	kindInt    = 'i'
	kindBool   = 'b'
)

var errCorrupt = errors.New("session: corrupt session data")

type entry struct {
	key  string
	kind byte
	s    string
	i    int64
}

// payload is the decoded content of a session's Data.
type payload struct {
	authHash string
	csrf     string
	flashes  []string
	vals     []entry
}

func (p *payload) empty() bool {
	return p.authHash == "" && p.csrf == "" && len(p.flashes) == 0 && len(p.vals) == 0
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// encode returns the encoding of p; an empty payload encodes to nil.
func (p *payload) encode() []byte {
	if p.empty() {
		return nil
	}
	n := 8 + len(p.authHash) + len(p.csrf)
	for _, f := range p.flashes {
		n += len(f) + 2
	}
	for _, e := range p.vals {
		n += len(e.key) + len(e.s) + 12
	}
	b := make([]byte, 0, n)
	b = append(b, codecVersion)
	b = appendStr(b, p.authHash)
	b = appendStr(b, p.csrf)
	b = binary.AppendUvarint(b, uint64(len(p.flashes)))
	for _, f := range p.flashes {
		b = appendStr(b, f)
	}
	b = binary.AppendUvarint(b, uint64(len(p.vals)))
	for _, e := range p.vals {
		b = appendStr(b, e.key)
		b = append(b, e.kind)
		switch e.kind {
		case kindString:
			b = appendStr(b, e.s)
		case kindInt:
			b = binary.AppendVarint(b, e.i)
		case kindBool:
			b = append(b, byte(e.i))
		}
	}
	return b
}

// decoder reads from a string so that every decoded string shares the single copy made of
// the input.
type decoder struct {
	s   string
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	var x uint64
	var shift uint
	for i := 0; i < len(d.s) && i < binary.MaxVarintLen64; i++ {
		c := d.s[i]
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				break
			}
			d.s = d.s[i+1:]
			return x | uint64(c)<<shift
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	d.err = errCorrupt
	return 0
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.s)) {
		d.err = errCorrupt
		return ""
	}
	v := d.s[:n]
	d.s = d.s[n:]
	return v
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.s) == 0 {
		d.err = errCorrupt
		return 0
	}
	c := d.s[0]
	d.s = d.s[1:]
	return c
}

// count reads an item count, refusing counts that the remaining input cannot hold (every
// item takes at least min bytes) so hostile data cannot make us allocate a huge slice.
func (d *decoder) count(min int) int {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.s)/min) {
		d.err = errCorrupt
	}
	if d.err != nil {
		return 0
	}
	return int(n)
}

// decode parses data produced by encode. Empty data is an empty payload.
func decode(data []byte) (payload, error) {
	var p payload
	if len(data) == 0 {
		return p, nil
	}
	d := decoder{s: string(data)}
	if d.byte() != codecVersion {
		return payload{}, errCorrupt
	}
	p.authHash = d.str()
	p.csrf = d.str()
	if n := d.count(1); n > 0 {
		p.flashes = make([]string, n)
		for i := range p.flashes {
			p.flashes[i] = d.str()
		}
	}
	if n := d.count(3); n > 0 {
		p.vals = make([]entry, n)
		for i := range p.vals {
			e := &p.vals[i]
			e.key = d.str()
			e.kind = d.byte()
			switch e.kind {
			case kindString:
				e.s = d.str()
			case kindInt:
				u := d.uvarint()
				e.i = int64(u>>1) ^ -int64(u&1)
			case kindBool:
				c := d.byte()
				if c > 1 {
					d.err = errCorrupt
				}
				e.i = int64(c)
			default:
				d.err = errCorrupt
			}
			if d.err != nil {
				break
			}
		}
	}
	if d.err == nil && len(d.s) != 0 {
		d.err = errCorrupt
	}
	if d.err != nil {
		return payload{}, d.err
	}
	return p, nil
}
