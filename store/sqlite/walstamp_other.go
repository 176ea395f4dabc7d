//go:build !unix

package sqlite

// openWALWatch returns nil here: without a shared mapping of the -shm file there is no cheap
// change signal, so nothing is cached and every read goes to the database.
func openWALWatch(string) *walWatch { return nil }

func (w *walWatch) close() {}

func readShared([]byte, *[96]byte) bool { return false }
