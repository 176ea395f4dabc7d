package password

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

var ctx = context.Background()

// djangoUser mirrors the user of Django's UserAttributeSimilarityValidatorTest.
var djangoUser = UserAttrs{Username: "testclient", Email: "testclient@example.com", FirstName: "Test", LastName: "Client"}

func codes(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want *ValidationError, got %T %v", err, err)
	}
	var out []string
	for _, e := range ve.Errors {
		out = append(out, e.Code)
	}
	return out
}

// PasswordValidationTest (validators Common + MinLength(12)).
func TestValidatePasswordDjango(t *testing.T) {
	vs := []Validator{CommonPassword{}, MinimumLength{Min: 12}}
	tooShort := "This password is too short. It must contain at least 12 characters."
	tests := []struct {
		pw   string
		msgs []string
	}{
		{"sufficiently-long", nil},
		{"django4242", []string{tooShort}},
		{"password", []string{"This password is too common.", tooShort}},
	}
	for _, tc := range tests {
		err := Validate(ctx, tc.pw, UserAttrs{}, vs...)
		var got []string
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("%q: %T", tc.pw, err)
			}
			got = ve.Messages()
		}
		if !reflect.DeepEqual(got, tc.msgs) {
			t.Errorf("%q: got %q want %q", tc.pw, got, tc.msgs)
		}
	}
	if c := codes(t, Validate(ctx, "password", UserAttrs{}, vs...)); c[0] != "password_too_common" {
		t.Errorf("first code %q", c[0])
	}
	// An explicit empty list runs nothing.
	if err := Validate(ctx, "x", UserAttrs{}, []Validator{}...); err != nil {
		t.Errorf("empty list: %v", err)
	}
	// No list at all runs the defaults (secure zero value).
	if c := codes(t, Validate(ctx, "password", UserAttrs{})); !reflect.DeepEqual(c, []string{"password_too_short", "password_too_common"}) {
		t.Errorf("defaults: %v", c)
	}
	if err := Validate(ctx, "correct horse battery staple", djangoUser); err != nil {
		t.Errorf("good passphrase refused: %v", err)
	}
}

func TestHelpTexts(t *testing.T) {
	got := HelpTexts(CommonPassword{}, MinimumLength{Min: 12})
	want := []string{"Your password can’t be a commonly used password.", "Your password must contain at least 12 characters."}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q", got)
	}
	if h := HelpTextHTML(CommonPassword{}, MinimumLength{Min: 12}); h != "<ul><li>"+want[0]+"</li><li>"+want[1]+"</li></ul>" {
		t.Errorf("html %q", h)
	}
	if h := HelpTextHTML([]Validator{}...); h != "" {
		t.Errorf("empty html %q", h)
	}
	if h := HelpTextHTML(amp{}); h != "<ul><li>Must contain &amp;</li></ul>" {
		t.Errorf("escaping %q", h)
	}
	if n := len(HelpTexts()); n != len(Default()) {
		t.Errorf("default help texts %d", n)
	}
	if got := (MinimumLength{Min: 1}).HelpText(); got != "Your password must contain at least 1 character." {
		t.Errorf("singular %q", got)
	}
}

type amp struct{}

func (amp) Validate(context.Context, string, UserAttrs) error { return nil }
func (amp) HelpText() string                                  { return "Must contain &" }

func TestMinimumLength(t *testing.T) {
	tests := []struct {
		v    MinimumLength
		pw   string
		fail bool
	}{
		{MinimumLength{Min: 8}, "12345678", false},
		{MinimumLength{Min: 8}, "1234567", true},
		{MinimumLength{Min: 3}, "123", false},
		{MinimumLength{Min: 3}, "12", true},
		{MinimumLength{}, "12345678901", true},
		{MinimumLength{}, "123456789012", false},
		{MinimumLength{Min: 4}, "ééé", true},  // 3 code points, 6 bytes
		{MinimumLength{Min: 3}, "ééé", false}, // counted in code points, not bytes
	}
	for _, tc := range tests {
		err := tc.v.Validate(ctx, tc.pw, UserAttrs{})
		if (err != nil) != tc.fail {
			t.Errorf("%+v %q: %v", tc.v, tc.pw, err)
		}
	}
	err := MinimumLength{Min: 8}.Validate(ctx, "1234567", UserAttrs{})
	if err.Error() != "This password is too short. It must contain at least 8 characters." {
		t.Errorf("message %q", err)
	}
	if err := (MinimumLength{Min: 1}).Validate(ctx, "", UserAttrs{}); err.Error() != "This password is too short. It must contain at least 1 character." {
		t.Errorf("singular %q", err)
	}
}

func TestMaximumLength(t *testing.T) {
	if err := (MaximumLength{}).Validate(ctx, strings.Repeat("é", 4096), UserAttrs{}); err != nil {
		t.Errorf("4096 chars refused: %v", err)
	}
	err := (MaximumLength{}).Validate(ctx, strings.Repeat("a", 4097), UserAttrs{})
	if err == nil || err.Error() != "This password is too long. It must contain at most 4096 characters." {
		t.Errorf("4097: %v", err)
	}
	if err := (MaximumLength{Max: 3}).Validate(ctx, "abc", UserAttrs{}); err != nil {
		t.Error(err)
	}
	if err := (MaximumLength{Max: 3}).Validate(ctx, "abcd", UserAttrs{}); err == nil {
		t.Error("4 > 3 accepted")
	}
}

func TestNumericPassword(t *testing.T) {
	tests := []struct {
		pw   string
		fail bool
	}{
		{"42424242", true},
		{"٤٢٤٢٤٢٤٢", true}, // Arabic-Indic digits are digits in Python too
		{"²³⁴", true},      // superscripts: str.isdigit() is True
		{"4242424a", false},
		{"", false},
		{"4242 4242", false},
	}
	for _, tc := range tests {
		err := NumericPassword{}.Validate(ctx, tc.pw, UserAttrs{})
		if (err != nil) != tc.fail {
			t.Errorf("%q: %v", tc.pw, err)
		}
		if err != nil && err.(*Error).Code != "password_entirely_numeric" {
			t.Errorf("code %v", err)
		}
	}
	if err := (NumericPassword{}).Validate(ctx, "42424242", UserAttrs{}); err.Error() != "This password is entirely numeric." {
		t.Errorf("message %q", err)
	}
}

func TestUserAttributeSimilarity(t *testing.T) {
	tests := []struct {
		name string
		v    UserAttributeSimilarity
		pw   string
		user UserAttrs
		msg  string
	}{
		{"no user", UserAttributeSimilarity{}, "testclient", UserAttrs{}, ""},
		{"username", UserAttributeSimilarity{}, "testclient", djangoUser, "The password is too similar to the username."},
		{"email", UserAttributeSimilarity{}, "example.com", djangoUser, "The password is too similar to the email address."},
		{"first name", UserAttributeSimilarity{MaxSimilarity: 0.3}, "testclient", UserAttrs{FirstName: "Test"}, "The password is too similar to the first name."},
		{"last name", UserAttributeSimilarity{}, "CLIENT", UserAttrs{LastName: "Client"}, "The password is too similar to the last name."},
		{"max 1 identical", UserAttributeSimilarity{MaxSimilarity: 1}, "testclient", djangoUser, "The password is too similar to the username."},
		{"max 1 near", UserAttributeSimilarity{MaxSimilarity: 1}, "testclient1", UserAttrs{Username: "testclient"}, ""},
		{"extra attr", UserAttributeSimilarity{}, "0612345678x", UserAttrs{Extra: []Attr{{"phone number", "0612345678"}}}, "The password is too similar to the phone number."},
		{"unrelated", UserAttributeSimilarity{}, "correct horse battery", djangoUser, ""},
	}
	for _, tc := range tests {
		err := tc.v.Validate(ctx, tc.pw, tc.user)
		got := ""
		if err != nil {
			got = err.Error()
			if err.(*Error).Code != "password_too_similar" {
				t.Errorf("%s: code %v", tc.name, err)
			}
		}
		if got != tc.msg {
			t.Errorf("%s: got %q want %q", tc.name, got, tc.msg)
		}
	}
	err := UserAttributeSimilarity{MaxSimilarity: 0.09}.Validate(ctx, "x", djangoUser)
	if !errors.Is(err, ErrMaxSimilarity) {
		t.Errorf("0.09: %v", err)
	}
	// The configuration error is not a validation message: Validate fails closed with it.
	if err := Validate(ctx, "x", djangoUser, UserAttributeSimilarity{MaxSimilarity: 0.09}); !errors.Is(err, ErrMaxSimilarity) {
		t.Errorf("Validate: %v", err)
	}
}

// The length guard only saves work (a part that short can never reach the threshold), so it
// is tested on its own, with Django's formula.
func TestExceedsMaxLengthRatio(t *testing.T) {
	tests := []struct {
		pwLen, valueLen int
		maxSim          float64
		want            bool
	}{
		{100, 2, 0.7, true},
		{100, 10, 0.7, true},
		{100, 11, 0.7, false}, // 100 < 10*11
		{100, 10, 0.1, false}, // 10 is not < 0.05*100
		{10, 1, 0.7, true},
		{9, 1, 0.7, false},
	}
	for _, tc := range tests {
		if got := exceedsMaxLengthRatio(tc.pwLen, tc.maxSim, tc.valueLen); got != tc.want {
			t.Errorf("%+v: got %v", tc, got)
		}
	}
}

func TestDifflibMatchesPython(t *testing.T) {
	raw, err := os.ReadFile("testdata/difflib-cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases []struct {
			A, B       string
			QuickRatio float64 `json:"quick_ratio"`
			Ratio      float64
		}
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) < 15 {
		t.Fatalf("only %d cases", len(f.Cases))
	}
	for _, c := range f.Cases {
		a, b := []rune(c.A), []rune(c.B)
		if got := quickRatio(a, b); got != c.QuickRatio {
			t.Errorf("quick_ratio(%.20q, %.20q) = %v, Python %v", c.A, c.B, got, c.QuickRatio)
		}
		if got := ratio(a, b); got != c.Ratio {
			t.Errorf("ratio(%.20q, %.20q) = %v, Python %v", c.A, c.B, got, c.Ratio)
		}
	}
}

func TestCommonPasswordDjango(t *testing.T) {
	v := CommonPassword{}
	if err := v.Validate(ctx, "a-safe-password", UserAttrs{}); err != nil {
		t.Errorf("a-safe-password: %v", err)
	}
	// Django's cases; "asdfjkl:" and "&#2336:" come from unhexed list entries.
	for _, pw := range []string{"godzilla", "GODZILLA", " godzilla ", "asdfjkl:"} {
		err := v.Validate(ctx, pw, UserAttrs{})
		if err == nil || err.(*Error).Code != "password_too_common" || err.Error() != "This password is too common." {
			t.Errorf("%q: %v", pw, err)
		}
	}
	// "&#2336:" is 7 characters: below CommonListMinLength, so the embedded list leaves it to
	// MinimumLength; a custom list still catches it.
	custom := CommonPassword{List: NewWordlist("&#2336:", "from-my-list")}
	for _, pw := range []string{"&#2336:", "FROM-MY-LIST"} {
		if err := custom.Validate(ctx, pw, UserAttrs{}); err == nil {
			t.Errorf("custom list missed %q", pw)
		}
	}
	if err := custom.Validate(ctx, "godzilla", UserAttrs{}); err != nil {
		t.Errorf("custom list must replace the default: %v", err)
	}
	// Every entry of the embedded list is lower-case, trimmed and long enough.
	for s := range DefaultWordlist().m {
		if s != strings.ToLower(s) || s != strings.TrimSpace(s) || len([]rune(s)) < CommonListMinLength {
			t.Fatalf("bad entry %q", s)
		}
	}
}

func TestParseWordlist(t *testing.T) {
	w, err := ParseWordlist(strings.NewReader("Hello\n\n  World \r\nhello\n\xff\xfe\n"))
	if err != nil {
		t.Fatal(err)
	}
	if w.Len() != 2 || !w.Contains("HELLO") || !w.Contains("world") {
		t.Errorf("got %v", w.m)
	}
	if _, err := ParseWordlist(strings.NewReader(strings.Repeat("x", maxWordlistLine+1))); err == nil {
		t.Error("overlong line accepted")
	}
	if _, err := ParseWordlist(strings.NewReader("\x1f\x8bnot gzip")); err == nil {
		t.Error("corrupt gzip accepted")
	}
	var nilList *Wordlist
	if nilList.Contains("x") || nilList.Len() != 0 {
		t.Error("nil list")
	}
}

func BenchmarkValidateDefault(b *testing.B) {
	DefaultWordlist()
	b.ReportAllocs()
	for b.Loop() {
		_ = Validate(ctx, "correct horse battery staple", djangoUser)
	}
}
