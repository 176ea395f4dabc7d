package scan_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/rampart-go/rampart/csp"
	"github.com/rampart-go/rampart/headers"
	"github.com/rampart-go/rampart/scan"
)

func hello(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprint(w, "<!doctype html><title>hi</title><p>hello")
}

// Handler grades a handler in process: a bare one fails the headers tests, the same one
// behind rampart's headers and CSP layers earns the top grade, redirect included (the
// HTTP-to-HTTPS redirect works on the one port that speaks both).
func TestHandler(t *testing.T) {
	ctx := context.Background()
	bare, err := scan.Handler(ctx, http.HandlerFunc(hello), scan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sec, err := headers.New(headers.Options{})
	if err != nil {
		t.Fatal(err)
	}
	policy, err := csp.New(csp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	protected, err := scan.Handler(ctx, sec.Middleware(policy.Middleware(http.HandlerFunc(hello))), scan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("bare: %s (%d), protected: %s (%d)", bare.Grade, bare.Score, protected.Grade, protected.Score)
	for _, c := range []struct {
		rep  scan.Report
		test string
		pass bool
	}{
		{bare, scan.TestHSTS, false},
		{bare, scan.TestCSP, false},
		{bare, scan.TestRedirection, false},
		{protected, scan.TestHSTS, true},
		{protected, scan.TestCSP, true},
		{protected, scan.TestRedirection, true},
		{protected, scan.TestXCTO, true},
	} {
		if got := passed(c.rep, c.test); got != c.pass {
			t.Errorf("%s: %s passed = %v, want %v", c.rep.Grade, c.test, got, c.pass)
		}
	}
	if scan.GradeAtLeast(bare.Grade, "C") {
		t.Errorf("bare handler graded %s", bare.Grade)
	}
	if !scan.GradeAtLeast(protected.Grade, "A+") {
		t.Errorf("protected handler graded %s, want A+; tests: %+v", protected.Grade, protected.Tests)
	}
}

func passed(r scan.Report, name string) bool {
	for _, tr := range r.Tests {
		if tr.Name == name {
			return tr.Pass
		}
	}
	return false
}

// A test of an application's own: its handler must keep earning an A+.
func ExampleHandler() {
	app := http.HandlerFunc(hello)
	sec, err := headers.New(headers.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	policy, err := csp.New(csp.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	h := sec.Middleware(policy.Middleware(app))
	rep, err := scan.Handler(context.Background(), h, scan.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rep.Grade)
	// Output: A+
}
