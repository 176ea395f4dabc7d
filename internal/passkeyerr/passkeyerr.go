// Package passkeyerr holds the passkey package's errors without its WebAuthn dependency, so
// that accounts can tell them apart (and answer each with its status) while linking
// github.com/go-webauthn/webauthn only in applications that turn passkeys on.
package passkeyerr

import "errors"

// The errors passkey exports under the same names; see there.
var (
	ErrNoCeremony        = errors.New("passkey: no pending ceremony (expired or already used)")
	ErrInvalid           = errors.New("passkey: invalid response")
	ErrUnknownCredential = errors.New("passkey: unknown credential")
	ErrCloned            = errors.New("passkey: signature counter did not increase (cloned authenticator?)")
	ErrDuplicate         = errors.New("passkey: credential already registered")
	ErrRelyingParty      = errors.New("passkey: no valid relying party for this host")
)
