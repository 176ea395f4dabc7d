// Package bench measures rampart's middleware beside the Go libraries people wire together
// themselves (gorilla/csrf, nosurf, unrolled/secure, scs, ulule/limiter, x/time/rate,
// sethvargo/go-limiter, net/http CrossOriginProtection), in one run on the same requests.
// It is a module of its own so those libraries never enter rampart's dependency graph.
//
// bench/app.sh (cmd/appbench, app.lua, django/) measures whole applications instead: the
// reference app as a `rampart serve` process, Django 3.2 under gunicorn and a bare net/http
// hello, the same wrk scenarios against each in one run (docs/BENCHMARKS.md, "Whole app").
// bench/goals.sh prints the layer goals of the goal table without running the whole suite.
package bench
