//go:build unix

package session

import "syscall"

// processCPU returns the CPU time (user+system) the process has used, in nanoseconds. The
// benchmarks report it per operation because wall time on a shared, overloaded machine
// measures the neighbours as much as the code.
func processCPU() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
