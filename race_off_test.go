//go:build !race

package rampart_test

// raceEnabled: the race detector makes requests dearer, so load tests send fewer.
const raceEnabled = false
