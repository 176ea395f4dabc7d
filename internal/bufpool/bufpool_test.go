package bufpool

import (
	"strings"
	"testing"
)

func TestGetPut(t *testing.T) {
	tests := []struct {
		name string
		size int
	}{
		{"small page", 3000},
		{"page over the kept size", maxKept + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := Get()
			b.WriteString(strings.Repeat("x", tt.size))
			Put(b)
			if got := Get(); got.Len() != 0 {
				t.Fatalf("Get returned a buffer holding %d bytes", got.Len())
			}
		})
	}
}

func TestPutDropsLargeBuffers(t *testing.T) {
	b := Get()
	b.Grow(2 * maxKept)
	big := b.Cap()
	Put(b)
	for range 10 {
		if c := Get().Cap(); c >= big {
			t.Fatalf("a buffer of %d bytes was kept (limit %d)", c, maxKept)
		}
	}
}
