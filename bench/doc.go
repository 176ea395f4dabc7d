// Package bench measures rampart's middleware beside the Go libraries people wire together
// themselves (gorilla/csrf, nosurf, unrolled/secure, scs, ulule/limiter, x/time/rate,
// sethvargo/go-limiter, net/http CrossOriginProtection), in one run on the same requests.
// It is a module of its own so those libraries never enter rampart's dependency graph.
package bench
