package signing

import (
	"errors"
	"testing"
	"time"
)

func FuzzUnsign(f *testing.F) {
	s, _ := New(Options{Key: "fuzz-key"})
	f.Add(s.Sign("hello"))
	f.Add("foo:jZQoX_FtSO70jX9HLRGg2A_2s4kdDBxz1QoO_OpEQb0")
	f.Add(":")
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		v, err := s.Unsign(in)
		if err != nil {
			if !errors.Is(err, ErrBadSignature) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		// Anything accepted must be exactly what signing that value produces.
		if s.Sign(v) != in {
			t.Fatalf("accepted %q which is not the canonical signature of %q", in, v)
		}
	})
}

func FuzzTimestampUnsign(f *testing.F) {
	now := func() time.Time { return time.Unix(1_800_000_000, 0) }
	ts, _ := NewTimestamp(Options{Key: "fuzz-key"}, now)
	inner, _ := newSigner(Options{Key: "fuzz-key"}, "\x00timestamp")
	f.Add(ts.Sign("hello"), "hello:8M0kX")
	f.Add("a:b:c", "v:-zz")
	f.Fuzz(func(t *testing.T, in, innerValue string) {
		for _, s := range []string{in, inner.Sign(innerValue)} {
			v, at, err := ts.UnsignTime(s, time.Hour)
			if err != nil {
				if !errors.Is(err, ErrBadSignature) {
					t.Fatalf("untyped error %v", err)
				}
				continue
			}
			if now().Sub(at) > time.Hour {
				t.Fatalf("expired value accepted: %v", at)
			}
			_ = v
		}
	})
}

func FuzzBase62(f *testing.F) {
	f.Add("8M0kX")
	f.Add("-0")
	f.Add("zzzzzzzzzz")
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := decodeBase62(s)
		if ok && encodeBase62(n) != s {
			t.Fatalf("non-canonical %q accepted as %d", s, n)
		}
	})
}

func FuzzLoads(f *testing.F) {
	now := func() time.Time { return time.Unix(1_800_000_000, 0) }
	ts, _ := NewTimestamp(Options{Key: "fuzz-key"}, now)
	inner, _ := newSigner(Options{Key: "fuzz-key"}, "\x00timestamp")
	d, _ := ts.Dumps(map[string]string{"a": "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"}, true)
	f.Add(d, ".eJyrVkpUslJKUqoFAB9ZBFs")
	f.Fuzz(func(t *testing.T, in, payload string) {
		var v any
		_ = ts.Loads(in, time.Hour, &v)
		// Signed but arbitrary payloads (as with a leaked key) must not panic either.
		_ = ts.Loads(inner.Sign(payload+":"+encodeBase62(now().Unix())), time.Hour, &v)
	})
}
