package server_test

// The tests open stores from URLs (rampart.New, store/open): link every backend, as the
// rampart command does.
import _ "github.com/rampart-go/rampart/store/all"
