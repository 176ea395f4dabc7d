//go:build !race

package accountbench

// raceEnabled reports a -race build (see race_test.go).
const raceEnabled = false
