package djangoimport

import (
	"testing"
	"time"
)

func TestMapPerm(t *testing.T) {
	for _, c := range []struct{ app, codename, want string }{
		{"auth", "add_user", "auth.add_user"},
		{"polls", "can_Vote", "polls.can_vote"},
		{"my-app", "x-y", "my-app.x-y"},
		{"blog", "publish post", ""},
		{"blog", "", ""},
		{"", "view", ""},
	} {
		got, err := mapPerm(c.app, c.codename)
		if got != c.want || (err == nil) != (c.want != "") {
			t.Errorf("mapPerm(%q, %q) = %q, %v; want %q", c.app, c.codename, got, err, c.want)
		}
	}
}

func TestConverters(t *testing.T) {
	want := time.Date(2026, 12, 6, 9, 37, 27, 123456000, time.UTC)
	for _, v := range []any{
		"2026-12-06 09:37:27.123456", []byte("2026-12-06 09:37:27.123456"), "2026-12-06 10:37:27.123456+01:00",
		"2026-12-06T09:37:27.123456Z", want.In(time.FixedZone("x", 3600)),
	} {
		if got, err := timestamp(v); err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("timestamp(%v) = %v, %v", v, got, err)
		}
	}
	if got, err := timestamp(nil); err != nil || !got.IsZero() {
		t.Errorf("timestamp(nil) = %v, %v; want the zero time (never logged in)", got, err)
	}
	if _, err := timestamp("yesterday"); err == nil {
		t.Error("an unreadable datetime was accepted")
	}
	for _, c := range []struct {
		v    any
		want bool
	}{{int64(1), true}, {int64(0), false}, {true, true}, {false, false}, {"1", true}} {
		if got, err := boolean(c.v); err != nil || got != c.want {
			t.Errorf("boolean(%v) = %v, %v", c.v, got, err)
		}
	}
	for _, v := range []any{nil, "yes", 1.5i} {
		if _, err := boolean(v); err == nil {
			t.Errorf("boolean(%v) accepted", v)
		}
	}
	if n, err := num(int32(-7)); err != nil || n != -7 {
		t.Errorf("num(int32) = %d, %v", n, err)
	}
}

func TestTOTPProblem(t *testing.T) {
	ok := totpDevice{key: "3132333435363738393031323334353637383930", digits: 6, step: 30}
	if p := totpProblem(ok); p != "" {
		t.Errorf("a default device refused: %s", p)
	}
	for _, c := range []struct {
		change func(*totpDevice)
		name   string
	}{
		{func(d *totpDevice) { d.key = "zz" }, "key not hex"},
		{func(d *totpDevice) { d.key = "" }, "empty key"},
		{func(d *totpDevice) { d.digits = 8 }, "8 digits"},
		{func(d *totpDevice) { d.step = 60 }, "60 s step"},
		{func(d *totpDevice) { d.t0 = 1 }, "t0"},
	} {
		d := ok
		c.change(&d)
		if totpProblem(d) == "" {
			t.Errorf("%s: accepted", c.name)
		}
	}
}
