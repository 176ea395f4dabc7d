package passkey_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/go-webauthn/webauthn/protocol"

	"github.com/rampart-go/rampart/passkey"
	"github.com/rampart-go/rampart/session"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/memory"
)

const origin = "http://localhost:8080"

var b64 = base64.RawURLEncoding

// authenticator is a minimal software CTAP2 authenticator ("none" attestation, ES256), so the
// ceremonies run end to end through go-webauthn's real verification without a browser.
type authenticator struct {
	key    *ecdsa.PrivateKey
	credID []byte
	user   []byte
	count  uint32
	origin string
}

func newAuthenticator(t *testing.T) *authenticator {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 16)
	rand.Read(id)
	return &authenticator{key: k, credID: id, origin: origin}
}

func (a *authenticator) authData(rpID string, flags byte, extra []byte) []byte {
	h := sha256.Sum256([]byte(rpID))
	out := append(h[:], flags)
	out = binary.BigEndian.AppendUint32(out, a.count)
	return append(out, extra...)
}

func clientData(typ, challenge, origin string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": origin, "crossOrigin": false})
	return b
}

// create answers navigator.credentials.create options.
func (a *authenticator) create(t *testing.T, opts protocol.CredentialCreation) []byte {
	t.Helper()
	a.user = opts.Response.User.ID.([]byte)
	pub, err := a.key.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		t.Fatal(err)
	}
	x, y := pub[1:33], pub[33:65]
	cose, err := cbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: x, -3: y})
	if err != nil {
		t.Fatal(err)
	}
	att := make([]byte, 16) // AAGUID
	att = binary.BigEndian.AppendUint16(att, uint16(len(a.credID)))
	att = append(append(att, a.credID...), cose...)
	ad := a.authData(opts.Response.RelyingParty.ID, 0x01|0x04|0x40, att)
	obj, err := cbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": ad})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{
		"id": b64.EncodeToString(a.credID), "rawId": b64.EncodeToString(a.credID), "type": "public-key",
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(clientData("webauthn.create", opts.Response.Challenge.String(), a.origin)),
			"attestationObject": b64.EncodeToString(obj),
		},
	})
	return body
}

// get answers navigator.credentials.get options, counting the signature.
func (a *authenticator) get(t *testing.T, opts protocol.CredentialAssertion) []byte {
	t.Helper()
	a.count++
	ad := a.authData(opts.Response.RelyingPartyID, 0x01|0x04, nil)
	cd := clientData("webauthn.get", opts.Response.Challenge.String(), a.origin)
	h := sha256.Sum256(cd)
	digest := sha256.Sum256(append(bytes.Clone(ad), h[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{
		"id": b64.EncodeToString(a.credID), "rawId": b64.EncodeToString(a.credID), "type": "public-key",
		"response": map[string]any{
			"clientDataJSON": b64.EncodeToString(cd), "authenticatorData": b64.EncodeToString(ad),
			"signature": b64.EncodeToString(sig), "userHandle": b64.EncodeToString(a.user),
		},
	})
	return body
}

// harness runs Manager calls inside the session middleware, with one cookie jar.
type harness struct {
	t       *testing.T
	m       *passkey.Manager
	ps      *memory.Store
	sm      *session.Manager
	now     time.Time
	cookies []*http.Cookie
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, ps: memory.New(), now: time.Now().UTC()}
	clock := func() time.Time { return h.now }
	h.m = passkey.New(passkey.FromStore(h.ps), passkey.Options{Now: clock})
	h.sm = session.NewManager(h.ps, session.Options{InsecureNoSecureCookie: true, Now: clock})
	return h
}

// do runs fn in a request to origin with body and keeps the session cookie.
func (h *harness) do(body []byte, fn func(w http.ResponseWriter, r *http.Request)) {
	h.t.Helper()
	r := httptest.NewRequest(http.MethodPost, origin+"/x", bytes.NewReader(body))
	for _, c := range h.cookies {
		r.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	h.sm.Middleware(http.HandlerFunc(fn)).ServeHTTP(rec, r)
	if cs := rec.Result().Cookies(); len(cs) > 0 {
		h.cookies = cs
	}
}

func (h *harness) beginRegister(u passkey.User) protocol.CredentialCreation {
	h.t.Helper()
	var opts *protocol.CredentialCreation
	h.do(nil, func(w http.ResponseWriter, r *http.Request) {
		var err error
		if opts, err = h.m.BeginRegistration(r, u); err != nil {
			h.t.Fatalf("BeginRegistration: %v", err)
		}
	})
	// Round-trip through JSON like the browser does.
	var out protocol.CredentialCreation
	b, _ := json.Marshal(opts)
	if err := json.Unmarshal(b, &out); err != nil {
		h.t.Fatal(err)
	}
	out.Response.User.ID = []byte(u.ID)
	return out
}

func (h *harness) finishRegister(u passkey.User, body []byte) (c passkey.Credential, err error) {
	h.do(body, func(w http.ResponseWriter, r *http.Request) { c, err = h.m.FinishRegistration(r, u, "laptop", r.Body) })
	return c, err
}

func (h *harness) beginLogin() protocol.CredentialAssertion {
	h.t.Helper()
	var opts *protocol.CredentialAssertion
	h.do(nil, func(w http.ResponseWriter, r *http.Request) {
		var err error
		if opts, err = h.m.BeginLogin(r); err != nil {
			h.t.Fatalf("BeginLogin: %v", err)
		}
	})
	var out protocol.CredentialAssertion
	b, _ := json.Marshal(opts)
	if err := json.Unmarshal(b, &out); err != nil {
		h.t.Fatal(err)
	}
	return out
}

func (h *harness) finishLogin(body []byte) (id string, err error) {
	h.do(body, func(w http.ResponseWriter, r *http.Request) { id, _, err = h.m.FinishLogin(r, r.Body) })
	return id, err
}

var alice = passkey.User{ID: "1", Name: "alice", DisplayName: "alice"}

func register(t *testing.T, h *harness, a *authenticator) {
	t.Helper()
	c, err := h.finishRegister(alice, a.create(t, h.beginRegister(alice)))
	if err != nil {
		t.Fatalf("FinishRegistration: %v", err)
	}
	if !bytes.Equal(c.ID, a.credID) || c.Name != "laptop" {
		t.Fatalf("registered %+v", c)
	}
}

func TestRegisterAndLogin(t *testing.T) {
	h := newHarness(t)
	a := newAuthenticator(t)
	opts := h.beginRegister(alice)
	if opts.Response.RelyingParty.ID != "localhost" || *opts.Response.AuthenticatorSelection.RequireResidentKey != true ||
		opts.Response.AuthenticatorSelection.UserVerification != protocol.VerificationRequired {
		t.Fatalf("creation options: %+v", opts.Response)
	}
	if _, err := h.finishRegister(alice, a.create(t, opts)); err != nil {
		t.Fatal(err)
	}
	// A second registration excludes the first credential, and re-adding it is refused.
	opts = h.beginRegister(alice)
	if len(opts.Response.CredentialExcludeList) != 1 {
		t.Fatalf("exclude list = %+v", opts.Response.CredentialExcludeList)
	}
	if _, err := h.finishRegister(alice, a.create(t, opts)); !errors.Is(err, passkey.ErrDuplicate) {
		t.Fatalf("duplicate registration: %v", err)
	}
	for i := range 2 {
		id, err := h.finishLogin(a.get(t, h.beginLogin()))
		if err != nil || id != "1" {
			t.Fatalf("login %d = %q, %v", i, id, err)
		}
	}
	p, err := h.ps.PasskeyByID(context.Background(), a.credID)
	if err != nil || p.SignCount != 2 || !p.LastUsed.Equal(h.now.Truncate(time.Microsecond)) {
		t.Fatalf("stored after two logins: %+v, %v", p, err)
	}
}

// TestErrors checks each refusal maps to its error.
func TestErrors(t *testing.T) {
	bob := passkey.User{ID: "2", Name: "bob"}
	tests := []struct {
		name string
		run  func(t *testing.T, h *harness, a *authenticator) error
		want error
	}{
		{"login without ceremony", func(t *testing.T, h *harness, a *authenticator) error {
			_, err := h.finishLogin([]byte(`{}`))
			return err
		}, passkey.ErrNoCeremony},
		{"register without ceremony", func(t *testing.T, h *harness, a *authenticator) error {
			_, err := h.finishRegister(alice, []byte(`{}`))
			return err
		}, passkey.ErrNoCeremony},
		{"bad JSON", func(t *testing.T, h *harness, a *authenticator) error {
			h.beginLogin()
			_, err := h.finishLogin([]byte(`{"id":`))
			return err
		}, passkey.ErrInvalid},
		{"expired ceremony", func(t *testing.T, h *harness, a *authenticator) error {
			opts := h.beginLogin()
			h.now = h.now.Add(passkey.DefaultTimeout + time.Second)
			_, err := h.finishLogin(a.get(t, opts))
			return err
		}, passkey.ErrNoCeremony},
		{"ceremony used twice", func(t *testing.T, h *harness, a *authenticator) error {
			opts := h.beginLogin()
			if _, err := h.finishLogin(a.get(t, opts)); err != nil {
				t.Fatal(err)
			}
			_, err := h.finishLogin(a.get(t, opts))
			return err
		}, passkey.ErrNoCeremony},
		{"registration begun for another user", func(t *testing.T, h *harness, a *authenticator) error {
			opts := h.beginRegister(bob)
			_, err := h.finishRegister(alice, a.create(t, opts))
			return err
		}, passkey.ErrNoCeremony},
		{"wrong origin (phishing site)", func(t *testing.T, h *harness, a *authenticator) error {
			a.origin = "http://localhost.evil.test:8080"
			_, err := h.finishLogin(a.get(t, h.beginLogin()))
			return err
		}, passkey.ErrInvalid},
		{"unknown credential", func(t *testing.T, h *harness, a *authenticator) error {
			other := newAuthenticator(t)
			other.user = []byte("1")
			_, err := h.finishLogin(other.get(t, h.beginLogin()))
			return err
		}, passkey.ErrUnknownCredential},
		{"user handle of another user", func(t *testing.T, h *harness, a *authenticator) error {
			a.user = []byte("2")
			_, err := h.finishLogin(a.get(t, h.beginLogin()))
			return err
		}, passkey.ErrUnknownCredential},
		{"deleted credential", func(t *testing.T, h *harness, a *authenticator) error {
			if err := h.m.Store().DeleteCredential(context.Background(), "1", a.credID); err != nil {
				t.Fatal(err)
			}
			_, err := h.finishLogin(a.get(t, h.beginLogin()))
			return err
		}, passkey.ErrUnknownCredential},
		{"cloned authenticator (counter went back)", func(t *testing.T, h *harness, a *authenticator) error {
			if _, err := h.finishLogin(a.get(t, h.beginLogin())); err != nil {
				t.Fatal(err)
			}
			a.count = 0 // the clone's counter is behind: get sends 1 again
			_, err := h.finishLogin(a.get(t, h.beginLogin()))
			return err
		}, passkey.ErrCloned},
		{"bad signature", func(t *testing.T, h *harness, a *authenticator) error {
			k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			a.key = k // sign with a key the server does not know
			_, err := h.finishLogin(a.get(t, h.beginLogin()))
			return err
		}, passkey.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			a := newAuthenticator(t)
			register(t, h, a)
			err := tc.run(t, h, a)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// racingStore lets another login record the counter between this login's read and update.
type racingStore struct {
	passkey.CredentialStore
	race func()
}

func (s racingStore) CredentialByID(ctx context.Context, id []byte) (string, passkey.Credential, error) {
	u, c, err := s.CredentialStore.CredentialByID(ctx, id)
	s.race()
	return u, c, err
}

// TestStoreCounterRefusal: the store's atomic check catches what the read-then-verify cannot
// (two racing logins with one counter value): ErrCloned.
func TestStoreCounterRefusal(t *testing.T) {
	h := newHarness(t)
	a := newAuthenticator(t)
	register(t, h, a)
	h.m = passkey.New(racingStore{passkey.FromStore(h.ps), func() {
		if ok, err := h.ps.UsePasskey(context.Background(), a.credID, 1, h.now); err != nil || !ok {
			t.Error("racing use:", ok, err)
		}
	}}, passkey.Options{Now: func() time.Time { return h.now }})
	if _, err := h.finishLogin(a.get(t, h.beginLogin())); !errors.Is(err, passkey.ErrCloned) {
		t.Fatalf("err = %v, want ErrCloned", err)
	}
}

func TestNameCleaned(t *testing.T) {
	h := newHarness(t)
	a := newAuthenticator(t)
	opts := h.beginRegister(alice)
	var c passkey.Credential
	var err error
	h.do(a.create(t, opts), func(w http.ResponseWriter, r *http.Request) {
		c, err = h.m.FinishRegistration(r, alice, "  \x00lap\ntop"+strings.Repeat("é", 100), r.Body)
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "laptop" + strings.Repeat("é", 58); c.Name != want {
		t.Fatalf("name = %q, want %q", c.Name, want)
	}
}

// FuzzFinishLogin: hostile bodies never panic and never log anyone in.
func FuzzFinishLogin(f *testing.F) {
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"","signature":"","userHandle":"MQ"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		h := newHarness(t)
		h.beginLogin()
		id, err := h.finishLogin(body)
		if err == nil || id != "" {
			t.Fatalf("fuzzed body logged in %q", id)
		}
	})
}

var _ store.Passkeys = (*memory.Store)(nil)
