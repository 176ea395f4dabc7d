// Package attacktest holds the reference app's end-to-end attack suite: Go tests that drive
// the real default stack over HTTP (through internal/apptest) the way an attacker and a
// legitimate browser would, and state for every case what must happen. It has no code of
// its own outside tests.
package attacktest
