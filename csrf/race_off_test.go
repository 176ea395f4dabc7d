//go:build !race

package csrf

// raceEnabled: see race_on_test.go.
const raceEnabled = false
