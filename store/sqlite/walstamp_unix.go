//go:build unix

package sqlite

import (
	"encoding/binary"
	"os"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// openWALWatch maps the first page of path's -shm file, or returns nil (no caching: every
// read goes to the database) when it cannot.
func openWALWatch(path string) *walWatch {
	f, err := os.Open(path + "-shm")
	if err != nil {
		return nil
	}
	defer f.Close() // the mapping outlives the descriptor
	fi, err := f.Stat()
	if err != nil || fi.Size() < 96 {
		return nil
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, os.Getpagesize(), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil
	}
	w := &walWatch{mem: mem}
	if _, ok := w.stamp(); !ok {
		w.close()
		return nil
	}
	return w
}

func (w *walWatch) close() {
	if w != nil {
		syscall.Munmap(w.mem)
	}
}

// readShared copies the two header copies out of the mapping, first the first, word by word
// with atomic loads so that no load of the second copy is ordered before one of the first
// (SQLite's own reader does the same with a memory barrier). A fault (the file cut short
// under the mapping, which the pinned connection should make impossible) reports false
// instead of crashing the process.
func readShared(mem []byte, buf *[96]byte) (ok bool) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	if len(mem) < len(buf) {
		return false
	}
	for i := 0; i < len(buf); i += 4 {
		binary.NativeEndian.PutUint32(buf[i:], atomic.LoadUint32((*uint32)(unsafe.Pointer(&mem[i]))))
	}
	return true
}
