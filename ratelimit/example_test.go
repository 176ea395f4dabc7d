package ratelimit_test

import (
	"context"
	"fmt"

	"github.com/rampart-go/rampart/ratelimit"
)

// Rates are written as in django-ratelimit; a limiter answers per key.
func ExampleNewMemory() {
	rate, err := ratelimit.ParseRate("2/m")
	if err != nil {
		panic(err)
	}
	l := ratelimit.NewMemory(rate, ratelimit.MemoryOptions{})
	for range 3 {
		r, _ := l.Allow(context.Background(), "ip:203.0.113.7")
		fmt.Println(r.Allowed)
	}
	r, _ := l.Allow(context.Background(), "ip:198.51.100.1")
	fmt.Println("another client:", r.Allowed)
	// Output:
	// true
	// true
	// false
	// another client: true
}
