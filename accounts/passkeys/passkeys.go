// Package passkeys turns on passkeys (WebAuthn) in the accounts package, on the passkey
// package and github.com/go-webauthn/webauthn:
//
//	acc, err := accounts.New(stack, accounts.Options{Passkeys: passkeys.New(stack, passkey.Options{})})
//
// It is a package of its own so that an application that leaves passkeys off does not link
// the WebAuthn library and its CBOR, TPM attestation and JWT dependencies (about 3 MB).
package passkeys

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"

	"github.com/rampart-go/rampart"
	"github.com/rampart-go/rampart/accounts"
	"github.com/rampart-go/rampart/passkey"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/memory"
)

// New keeps passkeys in the stack's store (every backend of this module keeps them); a store
// that cannot falls back to memory, which is not durable: passkeys are lost at restart.
func New(st *rampart.Stack, opts passkey.Options) accounts.Passkeys {
	ps, ok := st.Store.(store.Passkeys)
	if !ok {
		ps = memory.New()
	}
	return FromManager(passkey.New(passkey.FromStore(ps), opts))
}

// FromManager serves the accounts routes with m, for credentials kept elsewhere than the
// stack's store (a passkey.CredentialStore of the application's).
func FromManager(m *passkey.Manager) accounts.Passkeys { return manager{m} }

type manager struct{ m *passkey.Manager }

func user(u *store.User) passkey.User {
	return passkey.User{ID: u.ID, Name: u.Username, DisplayName: u.Username}
}

func row(c passkey.Credential) accounts.PasskeyRow {
	return accounts.PasskeyRow{ID: base64.RawURLEncoding.EncodeToString(c.ID), Name: c.Name, Created: c.CreatedAt, LastUsed: c.LastUsed}
}

func (p manager) BeginRegistration(r *http.Request, u *store.User) (any, error) {
	return p.m.BeginRegistration(r, user(u))
}

func (p manager) FinishRegistration(r *http.Request, u *store.User, name string, body io.Reader) (accounts.PasskeyRow, error) {
	c, err := p.m.FinishRegistration(r, user(u), name, body)
	if err != nil {
		return accounts.PasskeyRow{}, err
	}
	return row(c), nil
}

func (p manager) BeginLogin(r *http.Request) (any, error) { return p.m.BeginLogin(r) }

func (p manager) FinishLogin(r *http.Request, body io.Reader) (string, error) {
	userID, _, err := p.m.FinishLogin(r, body)
	return userID, err
}

func (p manager) List(ctx context.Context, userID string) ([]accounts.PasskeyRow, error) {
	list, err := p.m.Store().Credentials(ctx, userID)
	if err != nil {
		return nil, err
	}
	rows := make([]accounts.PasskeyRow, len(list))
	for i, c := range list {
		rows[i] = row(c)
	}
	return rows, nil
}

func (p manager) Delete(ctx context.Context, userID string, id []byte) error {
	return p.m.Store().DeleteCredential(ctx, userID, id)
}
