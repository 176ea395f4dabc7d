package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/rampart-go/rampart/signing"
)

func TestRunDispatch(t *testing.T) {
	cases := []struct {
		args []string
		code int
		out  string
	}{
		{nil, 2, ""},
		{[]string{"nope"}, 2, ""},
		{[]string{"help"}, 0, "commands:"},
		{[]string{"createuser"}, 2, ""},
		{[]string{"createuser", "--username", "x"}, 2, ""}, // the password never comes from argv
		{[]string{"unlock"}, 2, ""},
		{[]string{"unlock", "--ip", "not-an-ip"}, 2, ""},
		{[]string{"unlock", "--all", "--username", "alice"}, 2, ""}, // --all already covers alice
		{[]string{"unlock", "--username", "alice", "bob"}, 2, ""},
		{[]string{"createuser", "--username", "x", "--password-stdin", "extra"}, 2, ""},
		{[]string{"migrate", "extra"}, 2, ""},
		{[]string{"serve", "--http-addr", "127.0.0.1:0"}, 2, ""}, // plain listener only beside TLS
		{[]string{"scan"}, 2, ""},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		if code := run(c.args, strings.NewReader(""), &out, &errb); code != c.code || !strings.Contains(out.String(), c.out) {
			t.Errorf("run(%q) = %d (out %q, err %q), want %d with %q", c.args, code, out.String(), errb.String(), c.code, c.out)
		}
	}
}

func TestGenkeyIsStrong(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 3; i++ {
		var out bytes.Buffer
		if code := run([]string{"genkey"}, nil, &out, &out); code != 0 {
			t.Fatalf("genkey exit %d", code)
		}
		k := strings.TrimSpace(out.String())
		if err := signing.KeyProblem(k); err != nil || seen[k] {
			t.Fatalf("genkey printed a weak or repeated key %q: %v", k, err)
		}
		seen[k] = true
	}
}
