// Package bufpool keeps the buffers pages are rendered into between requests.
//
// Why: a page is executed into a buffer first, so that a template error is a clean 500 and
// the CSRF token and flashes are taken before any header is written. A new bytes.Buffer grows
// by doubling to the page's size on every request: a quarter of what a logged-in page
// allocated (pprof under wrk, issue 18).
package bufpool

import (
	"bytes"
	"sync"
)

// maxKept is the largest buffer put back: one huge page must not pin its memory for good.
const maxKept = 64 << 10

var pool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Get returns an empty buffer.
func Get() *bytes.Buffer { return pool.Get().(*bytes.Buffer) }

// Put gives b back for reuse; the caller must not use b, or anything it returned, after.
func Put(b *bytes.Buffer) {
	if b.Cap() > maxKept {
		return
	}
	b.Reset()
	pool.Put(b)
}
