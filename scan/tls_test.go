package scan

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// testCA is a private CA the TLS tests trust.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
	pool *x509.CertPool
}

var (
	caOnce   sync.Once
	sharedCA *testCA
)

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	caOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "rampart test CA"},
			NotBefore: time.Now().Add(-24 * time.Hour), NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			panic(err)
		}
		cert, _ := x509.ParseCertificate(der)
		pool := x509.NewCertPool()
		pool.AddCert(cert)
		sharedCA = &testCA{cert: cert, key: key, pool: pool}
	})
	return sharedCA
}

// leafSpec says what kind of certificate to issue.
type leafSpec struct {
	rsaBits    int // 0: ECDSA P-256
	notBefore  time.Time
	notAfter   time.Time
	dnsNames   []string
	ips        []net.IP
	selfSigned bool
}

func (ca *testCA) issue(t testing.TB, s leafSpec) tls.Certificate {
	t.Helper()
	var key crypto.Signer
	var err error
	if s.rsaBits > 0 {
		key, err = rsa.GenerateKey(rand.Reader, s.rsaBits)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	if s.notBefore.IsZero() {
		s.notBefore = time.Now().Add(-time.Hour)
	}
	if s.notAfter.IsZero() {
		s.notAfter = time.Now().Add(90 * 24 * time.Hour)
	}
	if s.dnsNames == nil && s.ips == nil {
		s.dnsNames, s.ips = []string{"localhost"}, []net.IP{net.ParseIP("127.0.0.1")}
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: "rampart test server"},
		NotBefore: s.notBefore, NotAfter: s.notAfter, DNSNames: s.dnsNames, IPAddresses: s.ips,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	parent, signer := ca.cert, ca.key
	if s.selfSigned {
		parent, signer = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	chain := [][]byte{der}
	if !s.selfSigned {
		chain = append(chain, ca.cert.Raw)
	}
	return tls.Certificate{Certificate: chain, PrivateKey: key, Leaf: leaf}
}

// staple adds an OCSP response with status for the certificate, signed by the CA.
func (ca *testCA) staple(t testing.TB, c *tls.Certificate, status int) {
	t.Helper()
	tmpl := ocsp.Response{Status: status, SerialNumber: c.Leaf.SerialNumber,
		ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().Add(48 * time.Hour)}
	if status == ocsp.Revoked {
		tmpl.RevokedAt = time.Now().Add(-time.Hour)
	}
	der, err := ocsp.CreateResponse(ca.cert, ca.cert, tmpl, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	c.OCSPStaple = der
}

// tlsSite starts an HTTPS server on 127.0.0.1 with cfg (its certificate
// included) and returns its address.
func tlsSite(t testing.TB, cfg *tls.Config) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains; preload")
		io.WriteString(w, "ok")
	}))
	srv.TLS = cfg
	// The probe's raw hellos end in refusals the server would log.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// aeadOnly are the suites of a well-configured TLS 1.2 server.
var aeadOnly = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305}

// tlsCase is one server configuration and the TLS findings it must give.
type tlsCase struct {
	name string
	cfg  func(t testing.TB, ca *testCA) *tls.Config
	// addr starts something other than a crypto/tls server (the SSL 3.0 one).
	addr func(t testing.TB, ca *testCA) string
	want []string // TLS-area finding IDs, sorted
}

func tlsCases() []tlsCase {
	good := func(t testing.TB, ca *testCA) *tls.Config {
		return &tls.Config{Certificates: []tls.Certificate{ca.issue(t, leafSpec{})}, CipherSuites: aeadOnly, MinVersion: tls.VersionTLS12}
	}
	withCert := func(s leafSpec) func(testing.TB, *testCA) *tls.Config {
		return func(t testing.TB, ca *testCA) *tls.Config {
			c := good(t, ca)
			c.Certificates = []tls.Certificate{ca.issue(t, s)}
			return c
		}
	}
	return []tlsCase{
		{name: "modern", cfg: good, want: []string{"tls/ocsp-not-stapled"}},
		{name: "TLS 1.0 allowed", cfg: func(t testing.TB, ca *testCA) *tls.Config {
			c := good(t, ca)
			c.MinVersion = tls.VersionTLS10
			c.CipherSuites = append(c.CipherSuites, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA)
			return c
		}, want: []string{"tls/cipher-cbc", "tls/ocsp-not-stapled", "tls/protocol-tls1.0", "tls/protocol-tls1.1"}},
		{name: "weak ciphers", cfg: func(t testing.TB, ca *testCA) *tls.Config {
			c := good(t, ca)
			c.Certificates = []tls.Certificate{ca.issue(t, leafSpec{rsaBits: 2048})}
			c.MaxVersion = tls.VersionTLS12
			c.CipherSuites = []uint16{tls.TLS_RSA_WITH_RC4_128_SHA, tls.TLS_ECDHE_RSA_WITH_RC4_128_SHA,
				tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}
			return c
		}, want: []string{"tls/cipher-3des-idea", "tls/cipher-low", "tls/no-tls1.3", "tls/ocsp-not-stapled"}},
		{name: "no forward secrecy", cfg: func(t testing.TB, ca *testCA) *tls.Config {
			c := good(t, ca)
			c.Certificates = []tls.Certificate{ca.issue(t, leafSpec{rsaBits: 2048})}
			c.MaxVersion = tls.VersionTLS12
			c.CipherSuites = []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256}
			return c
		}, want: []string{"tls/no-forward-secrecy", "tls/no-tls1.3", "tls/ocsp-not-stapled"}},
		{name: "expired", cfg: withCert(leafSpec{notBefore: time.Now().Add(-100 * 24 * time.Hour), notAfter: time.Now().Add(-24 * time.Hour)}),
			want: []string{"tls/cert-expired", "tls/ocsp-not-stapled"}},
		{name: "expires in 10 days", cfg: withCert(leafSpec{notAfter: time.Now().Add(10 * 24 * time.Hour)}),
			want: []string{"tls/cert-expires-soon", "tls/ocsp-not-stapled"}},
		{name: "wrong host", cfg: withCert(leafSpec{dnsNames: []string{"www.example.com"}}),
			want: []string{"tls/cert-hostname-mismatch", "tls/ocsp-not-stapled"}},
		{name: "self-signed", cfg: withCert(leafSpec{selfSigned: true}),
			want: []string{"tls/cert-self-signed", "tls/ocsp-not-stapled"}},
		{name: "short RSA key", cfg: withCert(leafSpec{rsaBits: 1024}),
			want: []string{"tls/cert-weak-key", "tls/ocsp-not-stapled"}},
		{name: "OCSP stapled, good", cfg: func(t testing.TB, ca *testCA) *tls.Config {
			c := good(t, ca)
			ca.staple(t, &c.Certificates[0], ocsp.Good)
			return c
		}, want: nil},
		{name: "OCSP stapled, revoked", cfg: func(t testing.TB, ca *testCA) *tls.Config {
			c := good(t, ca)
			ca.staple(t, &c.Certificates[0], ocsp.Revoked)
			return c
		}, want: []string{"tls/cert-revoked"}},
		{name: "SSL 3.0 only", addr: sslv3Server,
			want: []string{"tls/cipher-3des-idea", "tls/cipher-low", "tls/no-forward-secrecy", "tls/no-modern-protocol", "tls/protocol-sslv3"}},
	}
}

func tlsFindingIDs(fs []Finding) []string {
	var out []string
	for _, id := range findingIDs(fs) {
		if strings.HasPrefix(id, "tls/") {
			out = append(out, id)
		}
	}
	return out
}

func TestProbeTLS(t *testing.T) {
	ca := newTestCA(t)
	for _, tc := range tlsCases() {
		t.Run(tc.name, func(t *testing.T) {
			var addr string
			if tc.addr != nil {
				addr = tc.addr(t, ca)
			} else {
				addr = tlsSite(t, tc.cfg(t, ca))
			}
			rep, fs := probeTLS(context.Background(), addr, "127.0.0.1", Options{RootCAs: ca.pool}, time.Now())
			got := tlsFindingIDs(fs)
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("findings %v, want %v\nprotocols %+v\nsuites %+v\ncert %+v\nall %+v", got, tc.want, rep.Protocols, rep.CipherSuites, rep.Certificate, fs)
			}
		})
	}
}

// The TLS report itself describes what was seen.
func TestProbeTLSReport(t *testing.T) {
	ca := newTestCA(t)
	cfg := &tls.Config{Certificates: []tls.Certificate{ca.issue(t, leafSpec{rsaBits: 2048})}, MinVersion: tls.VersionTLS11,
		CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA}}
	ca.staple(t, &cfg.Certificates[0], ocsp.Good)
	addr := tlsSite(t, cfg)
	rep, _ := probeTLS(context.Background(), addr, "127.0.0.1", Options{RootCAs: ca.pool}, time.Now())
	offered := map[string]bool{}
	for _, p := range rep.Protocols {
		offered[p.Name] = p.Offered
	}
	want := map[string]bool{"SSLv3": false, "TLS 1.0": false, "TLS 1.1": true, "TLS 1.2": true, "TLS 1.3": true}
	for k, v := range want {
		if offered[k] != v {
			t.Errorf("%s offered = %v, want %v (%+v)", k, offered[k], v, rep.Protocols)
		}
	}
	var names []string
	for _, s := range rep.CipherSuites {
		if s.Protocol == "TLS 1.2" {
			names = append(names, s.Name)
		}
	}
	sort.Strings(names)
	if strings.Join(names, ",") != "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" {
		t.Errorf("TLS 1.2 suites %v", names)
	}
	c := rep.Certificate
	if c == nil || c.KeyType != "RSA" || c.KeyBits != 2048 || !c.Trusted || !c.HostnameMatch || c.SelfSigned || c.ChainLength != 2 {
		t.Errorf("certificate %+v", c)
	}
	if !rep.OCSPStapled || rep.OCSPStatus != "good" {
		t.Errorf("OCSP stapled %v status %q", rep.OCSPStapled, rep.OCSPStatus)
	}
}

// sslv3Server answers ClientHellos as an SSL 3.0-only server with
// TLS_RSA_WITH_3DES_EDE_CBC_SHA and TLS_RSA_WITH_RC4_128_SHA would: a
// ServerHello of version 3.0 and ServerHelloDone, or a handshake_failure
// alert. crypto/tls cannot serve SSL 3.0, and the probe only reads the
// ServerHello, so this minimal server is all the test needs; it never
// completes a handshake.
func sslv3Server(t testing.TB, _ *testCA) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
				answerSSLv3(conn)
			}()
		}
	}()
	return ln.Addr().String()
}

func answerSSLv3(conn net.Conn) {
	var hdr [5]byte
	if _, err := io.ReadFull(conn, hdr[:]); err != nil || hdr[0] != 22 {
		return
	}
	body := make([]byte, binary.BigEndian.Uint16(hdr[3:]))
	if _, err := io.ReadFull(conn, body); err != nil || len(body) < 4+2+32+1 || body[0] != 1 {
		return
	}
	hello := body[4:]
	clientVersion := binary.BigEndian.Uint16(hello)
	p := 2 + 32
	p += 1 + int(hello[p])
	if p+2 > len(hello) {
		return
	}
	n := int(binary.BigEndian.Uint16(hello[p:]))
	suites := hello[p+2 : min(p+2+n, len(hello))]
	alert := []byte{21, 3, 0, 0, 2, 2, 40} // fatal handshake_failure
	if clientVersion < versionSSL30 {
		conn.Write(alert)
		return
	}
	var chosen uint16
	for _, want := range []uint16{0x000A, 0x0005} {
		for i := 0; i+1 < len(suites); i += 2 {
			if binary.BigEndian.Uint16(suites[i:]) == want && chosen == 0 {
				chosen = want
			}
		}
	}
	if chosen == 0 {
		conn.Write(alert)
		return
	}
	sh := []byte{3, 0}
	sh = append(sh, make([]byte, 32)...) // random
	sh = append(sh, 0)                   // no session ID
	sh = binary.BigEndian.AppendUint16(sh, chosen)
	sh = append(sh, 0) // null compression
	msg := append([]byte{2, 0, byte(len(sh) >> 8), byte(len(sh))}, sh...)
	msg = append(msg, 14, 0, 0, 0) // ServerHelloDone
	rec := append([]byte{22, 3, 0, byte(len(msg) >> 8), byte(len(msg))}, msg...)
	conn.Write(rec)
}

func TestClientHelloRoundTrip(t *testing.T) {
	for _, v := range []uint16{versionSSL30, versionTLS10, versionTLS12} {
		rec := buildClientHello(v, []uint16{0x000A, 0xC02F}, "example.com")
		if rec[0] != 22 || int(binary.BigEndian.Uint16(rec[3:])) != len(rec)-5 || rec[5] != 1 {
			t.Fatalf("version %#x: bad record framing % x", v, rec[:9])
		}
		if got := binary.BigEndian.Uint16(rec[9:]); got != v {
			t.Errorf("client_version %#x, want %#x", got, v)
		}
		if v != versionSSL30 {
			if n := len(buildClientHello(v, offerAll(), "example.com")); n < 512 {
				t.Errorf("version %#x: a full hello of %d bytes is not padded to 512", v, n)
			}
		}
		hasExt := len(rec) > 5+4+2+32+1+2+6+2
		if (v == versionSSL30) == hasExt {
			t.Errorf("version %#x: extensions present = %v", v, hasExt)
		}
	}
	// A ServerHello split over two records is reassembled.
	sh := []byte{2, 0, 0, 37, 3, 3}
	sh = append(sh, make([]byte, 32)...)
	sh = append(sh, 0, 0xc0, 0x2f)
	r1 := append([]byte{22, 3, 3, 0, 10}, sh[:10]...)
	r2 := append([]byte{22, 3, 3, 0, byte(len(sh) - 10)}, sh[10:]...)
	got, err := readServerHello(strings.NewReader(string(append(r1, r2...))))
	if err != nil || got.version != versionTLS12 || got.suite != 0xc02f {
		t.Errorf("split ServerHello: %+v %v", got, err)
	}
	for name, in := range map[string][]byte{
		"alert":     {21, 3, 3, 0, 2, 2, 40},
		"sslv2":     {0x80, 0x2e, 4, 0, 1},
		"truncated": {22, 3, 3, 0, 50, 2, 0},
		"not hello": {22, 3, 3, 0, 4, 11, 0, 0, 0},
	} {
		if _, err := readServerHello(strings.NewReader(string(in))); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}

func FuzzReadServerHello(f *testing.F) {
	f.Add([]byte{22, 3, 3, 0, 42, 2, 0, 0, 38, 3, 3})
	f.Add([]byte{21, 3, 3, 0, 2, 2, 40})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = readServerHello(strings.NewReader(string(b)))
	})
}

func offerAll() []uint16 {
	var ids []uint16
	for id := range tlsSuiteNames {
		ids = append(ids, id)
	}
	return ids
}
