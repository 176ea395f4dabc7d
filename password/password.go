// Package password checks candidate passwords the way Django's AUTH_PASSWORD_VALIDATORS do:
// similarity to the user's own attributes, minimum and maximum length, a common-password list,
// numeric-only passwords and (optionally) a breached-password service. Every validator runs and
// every message is returned at once, so a form can show them all.
package password

import (
	"context"
	"errors"
	"html"
	"strings"
)

// UserAttrs are the personal values a password must not resemble. Empty fields are skipped.
type UserAttrs struct {
	Username  string
	Email     string
	FirstName string
	LastName  string
	// Extra holds further attributes (name shown in the message, value compared).
	Extra []Attr
}

// Attr is one extra user attribute for the similarity check.
type Attr struct {
	// Name is the human name used in the message ("phone number").
	Name  string
	Value string
}

// Validator checks one rule. Validate returns nil, an *Error (the password breaks the rule) or
// any other error (the check itself failed, e.g. a breach service is down; callers fail closed).
type Validator interface {
	Validate(ctx context.Context, password string, user UserAttrs) error
	// HelpText explains the rule to the user before they choose a password.
	HelpText() string
}

// Error is one broken rule, with a stable Code (Django's codes) and a human Message.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// ValidationError carries every broken rule, in validator order.
type ValidationError struct {
	Errors []*Error
}

func (e *ValidationError) Error() string {
	msgs := make([]string, len(e.Errors))
	for i, x := range e.Errors {
		msgs[i] = x.Message
	}
	return strings.Join(msgs, " ")
}

// Messages returns the messages in order, for display.
func (e *ValidationError) Messages() []string {
	msgs := make([]string, len(e.Errors))
	for i, x := range e.Errors {
		msgs[i] = x.Message
	}
	return msgs
}

// Default returns the default validator set: UserAttributeSimilarity (0.7), MinimumLength (12),
// CommonPassword (embedded list), NumericPassword and MaximumLength (4096). The breach check is
// not in it because it needs a network service or a local list; add Breached explicitly.
func Default() []Validator {
	return []Validator{
		UserAttributeSimilarity{},
		MinimumLength{},
		CommonPassword{},
		NumericPassword{},
		MaximumLength{},
	}
}

// Validate runs every validator and returns nil, a *ValidationError listing every broken rule,
// or the first operational error (a validator that could not decide), which takes precedence so
// that a failing breach service never lets a password through.
//
// Called with no validators at all (a nil list) it runs Default(), so forgetting the list is
// safe; pass an explicit empty slice (Validate(ctx, pw, u, []Validator{}...)) to run none.
func Validate(ctx context.Context, password string, user UserAttrs, validators ...Validator) error {
	if validators == nil {
		validators = Default()
	}
	var verr ValidationError
	for _, v := range validators {
		err := v.Validate(ctx, password, user)
		if err == nil {
			continue
		}
		var e *Error
		if errors.As(err, &e) {
			verr.Errors = append(verr.Errors, e)
			continue
		}
		return err
	}
	if len(verr.Errors) > 0 {
		return &verr
	}
	return nil
}

// HelpTexts returns each validator's help text, in order (nil list = Default(), as in Validate).
func HelpTexts(validators ...Validator) []string {
	if validators == nil {
		validators = Default()
	}
	out := make([]string, 0, len(validators))
	for _, v := range validators {
		out = append(out, v.HelpText())
	}
	return out
}

// HelpTextHTML renders the help texts as an escaped <ul> list, or "" when there are none
// (Django's password_validators_help_text_html).
func HelpTextHTML(validators ...Validator) string {
	texts := HelpTexts(validators...)
	if len(texts) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("<ul>")
	for _, t := range texts {
		b.WriteString("<li>")
		b.WriteString(html.EscapeString(t))
		b.WriteString("</li>")
	}
	b.WriteString("</ul>")
	return b.String()
}
