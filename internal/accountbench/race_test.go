//go:build race

package accountbench

// raceEnabled reports a -race build: the race detector keeps shadow memory outside the Go
// heap (several times the heap), so RSS no longer follows the hasher's bound.
const raceEnabled = true
