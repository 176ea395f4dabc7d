package signing

import (
	"testing"
	"time"
)

func BenchmarkSign(b *testing.B) {
	s, _ := New(Options{Key: GenerateKey()})
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Sign("session-id-0123456789abcdef")
	}
}

func BenchmarkUnsign(b *testing.B) {
	s, _ := New(Options{Key: GenerateKey()})
	signed := s.Sign("session-id-0123456789abcdef")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Unsign(signed); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnsignTwoFallbacks(b *testing.B) {
	old, _ := New(Options{Key: "old-key"})
	s, _ := New(Options{Key: GenerateKey(), Fallbacks: []string{"older-key", "old-key"}})
	signed := old.Sign("session-id-0123456789abcdef")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Unsign(signed); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTimestampUnsign(b *testing.B) {
	ts, _ := NewTimestamp(Options{Key: GenerateKey()}, nil)
	signed := ts.Sign("user:42")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ts.Unsign(signed, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}
