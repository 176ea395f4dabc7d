//go:build race

package csrf

// raceEnabled: the race detector adds an allocation to some paths, so allocation limits
// allow for it.
const raceEnabled = true
