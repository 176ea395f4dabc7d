package scan

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"golang.org/x/crypto/ocsp"
)

// TLS rules. Severities follow testssl.sh's ratings where it has one.
var (
	ruleTLSNoHTTPS = rule(Rule{ID: "tls/no-https", Area: AreaTLS, Severity: SeverityHigh,
		Title: "the site does not answer over HTTPS", Fix: "serve the site over HTTPS (TLS 1.2 and 1.3) and redirect HTTP to it",
		Reference: "RFC 9325"})
	ruleTLSHandshake = rule(Rule{ID: "tls/handshake-failed", Area: AreaTLS, Severity: SeverityHigh,
		Title: "no TLS handshake succeeded with any protocol version", Fix: "check the TLS listener and its certificate",
		Reference: "RFC 9325"})
	ruleTLSSSLv3 = rule(Rule{ID: "tls/protocol-sslv3", Area: AreaTLS, Severity: SeverityHigh,
		Title: "SSL 3.0 is offered (POODLE; prohibited by RFC 7568)", Fix: "disable SSL 3.0",
		Reference: "RFC 7568"})
	ruleTLS10 = rule(Rule{ID: "tls/protocol-tls1.0", Area: AreaTLS, Severity: SeverityMedium,
		Title: "TLS 1.0 is offered (deprecated by RFC 8996)", Fix: "disable TLS 1.0; offer TLS 1.2 and 1.3 only",
		Reference: "RFC 8996"})
	ruleTLS11 = rule(Rule{ID: "tls/protocol-tls1.1", Area: AreaTLS, Severity: SeverityMedium,
		Title: "TLS 1.1 is offered (deprecated by RFC 8996)", Fix: "disable TLS 1.1; offer TLS 1.2 and 1.3 only",
		Reference: "RFC 8996"})
	ruleTLSNo13 = rule(Rule{ID: "tls/no-tls1.3", Area: AreaTLS, Severity: SeverityLow,
		Title: "TLS 1.3 is not offered", Fix: "enable TLS 1.3 (RFC 9325 requires support for it)",
		Reference: "RFC 9325 §3.1.1"})
	ruleTLSNoModern = rule(Rule{ID: "tls/no-modern-protocol", Area: AreaTLS, Severity: SeverityHigh,
		Title: "neither TLS 1.2 nor TLS 1.3 is offered", Fix: "enable TLS 1.2 and TLS 1.3",
		Reference: "RFC 9325 §3.1.1"})
	ruleTLSNull = rule(Rule{ID: "tls/cipher-null", Area: AreaTLS, Severity: SeverityHigh,
		Title: "NULL cipher suites (no encryption) are offered", Fix: "remove every suite WITH_NULL",
		Reference: "testssl.sh cipherlist_NULL; RFC 9325 §4.1"})
	ruleTLSAnon = rule(Rule{ID: "tls/cipher-anon", Area: AreaTLS, Severity: SeverityHigh,
		Title: "anonymous cipher suites (no server authentication) are offered", Fix: "remove DH_anon and ECDH_anon suites",
		Reference: "testssl.sh cipherlist_aNULL; RFC 9325 §4.1"})
	ruleTLSExport = rule(Rule{ID: "tls/cipher-export", Area: AreaTLS, Severity: SeverityHigh,
		Title: "export-grade cipher suites are offered (FREAK, Logjam)", Fix: "remove EXPORT suites",
		Reference: "testssl.sh cipherlist_EXPORT; RFC 9325 §4.1"})
	ruleTLSLow = rule(Rule{ID: "tls/cipher-low", Area: AreaTLS, Severity: SeverityHigh,
		Title: "weak cipher suites (RC4, DES, RC2) are offered", Fix: "remove RC4, DES and RC2 suites (RFC 7465 prohibits RC4)",
		Reference: "testssl.sh cipherlist_LOW; RFC 7465"})
	ruleTLS3DES = rule(Rule{ID: "tls/cipher-3des-idea", Area: AreaTLS, Severity: SeverityMedium,
		Title: "64-bit block cipher suites (3DES, IDEA) are offered (SWEET32)", Fix: "remove 3DES and IDEA suites",
		Reference: "testssl.sh cipherlist_3DES_IDEA; CVE-2016-2183"})
	ruleTLSCBC = rule(Rule{ID: "tls/cipher-cbc", Area: AreaTLS, Severity: SeverityLow,
		Title: "obsolete CBC cipher suites are offered", Fix: "prefer AEAD suites (AES-GCM, ChaCha20-Poly1305) and drop CBC ones where clients allow",
		Reference: "testssl.sh cipherlist_AVERAGE; RFC 9325 §4.2"})
	ruleTLSNoFS = rule(Rule{ID: "tls/no-forward-secrecy", Area: AreaTLS, Severity: SeverityMedium,
		Title: "no cipher suite with forward secrecy is offered", Fix: "offer ECDHE suites (and TLS 1.3)",
		Reference: "RFC 9325 §4.1"})
	ruleCertExpired = rule(Rule{ID: "tls/cert-expired", Area: AreaTLS, Severity: SeverityCritical,
		Title: "the certificate has expired", Fix: "renew the certificate (and automate renewal, e.g. ACME)",
		Reference: "RFC 5280 §4.1.2.5"})
	ruleCertNotYet = rule(Rule{ID: "tls/cert-not-yet-valid", Area: AreaTLS, Severity: SeverityHigh,
		Title: "the certificate is not valid yet", Fix: "check the server clock and the certificate's notBefore",
		Reference: "RFC 5280 §4.1.2.5"})
	ruleCertSoon = rule(Rule{ID: "tls/cert-expires-soon", Area: AreaTLS, Severity: SeverityMedium,
		Title: "the certificate expires in less than 21 days", Fix: "renew the certificate now and check that renewal is automated",
		Reference: "rampart (21 days)"})
	ruleCertUntrusted = rule(Rule{ID: "tls/cert-untrusted", Area: AreaTLS, Severity: SeverityHigh,
		Title: "the certificate chain does not lead to a trusted root", Fix: "serve the full chain (leaf and intermediates) from a publicly trusted CA",
		Reference: "RFC 5280 §6"})
	ruleCertSelfSigned = rule(Rule{ID: "tls/cert-self-signed", Area: AreaTLS, Severity: SeverityHigh,
		Title: "the certificate is self-signed", Fix: "use a certificate from a publicly trusted CA",
		Reference: "RFC 5280 §6"})
	ruleCertHostname = rule(Rule{ID: "tls/cert-hostname-mismatch", Area: AreaTLS, Severity: SeverityHigh,
		Title: "the certificate is not valid for the host name", Fix: "issue a certificate whose subjectAltName covers the host",
		Reference: "RFC 9110 §4.3.4; RFC 6125"})
	ruleCertWeakKey = rule(Rule{ID: "tls/cert-weak-key", Area: AreaTLS, Severity: SeverityHigh,
		Title: "the certificate key is too small (RSA under 2048 bits, EC under 256)", Fix: "reissue with RSA 2048+ or ECDSA P-256+",
		Reference: "NIST SP 800-131A; CA/B Forum BR §6.1.5"})
	ruleCertWeakSig = rule(Rule{ID: "tls/cert-weak-signature", Area: AreaTLS, Severity: SeverityHigh,
		Title: "a certificate in the chain is signed with SHA-1 or MD5", Fix: "reissue with a SHA-256 (or stronger) signature",
		Reference: "CA/B Forum BR §7.1.3"})
	ruleOCSPNone = rule(Rule{ID: "tls/ocsp-not-stapled", Area: AreaTLS, Severity: SeverityInfo,
		Title: "no OCSP response is stapled", Fix: "optional: enable OCSP stapling where the CA still runs OCSP",
		Reference: "RFC 6066 §8"})
	ruleOCSPBad = rule(Rule{ID: "tls/ocsp-invalid", Area: AreaTLS, Severity: SeverityLow,
		Title: "the stapled OCSP response is invalid or stale", Fix: "fix the server's OCSP stapling (it serves a response clients reject)",
		Reference: "RFC 6960; RFC 6066 §8"})
	ruleOCSPRevoked = rule(Rule{ID: "tls/cert-revoked", Area: AreaTLS, Severity: SeverityCritical,
		Title: "the stapled OCSP response says the certificate is revoked", Fix: "replace the certificate",
		Reference: "RFC 6960"})
)

// TLSReport is what the TLS probe found on the HTTPS endpoint.
type TLSReport struct {
	// Address is the host:port probed; ServerName the SNI sent ("" for an IP).
	Address    string `json:"address"`
	ServerName string `json:"server_name,omitempty"`
	// Protocols lists every version probed, offered or not.
	Protocols []TLSProtocol `json:"protocols"`
	// CipherSuites are the suites accepted, per protocol, in the server's order.
	CipherSuites []TLSCipherSuite `json:"cipher_suites,omitempty"`
	Certificate  *TLSCertificate  `json:"certificate,omitempty"`
	OCSPStapled  bool             `json:"ocsp_stapled"`
	// OCSPStatus is good, revoked, unknown or invalid when a response was stapled.
	OCSPStatus string `json:"ocsp_status,omitempty"`
}

// TLSProtocol is one protocol version and whether the server offers it.
type TLSProtocol struct {
	Name    string `json:"name"`
	Offered bool   `json:"offered"`
	// Method is how it was probed: "crypto/tls" (a full handshake) or
	// "ClientHello" (a raw hello answered by a ServerHello).
	Method string `json:"method"`
}

// TLSCipherSuite is one accepted suite.
type TLSCipherSuite struct {
	Protocol string `json:"protocol"`
	ID       string `json:"id"` // e.g. "0xc02f"
	Name     string `json:"name"`
	// Category is testssl.sh's: NULL, aNULL, EXPORT, LOW, 3DES_IDEA, AVERAGE, STRONG.
	Category      string `json:"category"`
	ForwardSecret bool   `json:"forward_secret"`
}

// TLSCertificate describes the leaf certificate and its chain.
type TLSCertificate struct {
	Subject            string    `json:"subject"`
	Issuer             string    `json:"issuer"`
	DNSNames           []string  `json:"dns_names,omitempty"`
	IPAddresses        []string  `json:"ip_addresses,omitempty"`
	NotBefore          time.Time `json:"not_before"`
	NotAfter           time.Time `json:"not_after"`
	KeyType            string    `json:"key_type"`
	KeyBits            int       `json:"key_bits"`
	SignatureAlgorithm string    `json:"signature_algorithm"`
	// ChainLength counts the certificates the server sent.
	ChainLength int `json:"chain_length"`
	// Trusted: the chain leads to a trusted root (judged as if the
	// certificate were in its validity period; expiry is reported apart).
	Trusted       bool   `json:"trusted"`
	TrustError    string `json:"trust_error,omitempty"`
	SelfSigned    bool   `json:"self_signed"`
	HostnameMatch bool   `json:"hostname_match"`
}

// allGoSuites is every TLS 1.0–1.2 suite crypto/tls can negotiate, so a
// crypto/tls probe of a version finds any server crypto/tls can talk to.
func allGoSuites() []uint16 {
	var ids []uint16
	for _, s := range tls.CipherSuites() {
		ids = append(ids, s.ID)
	}
	for _, s := range tls.InsecureCipherSuites() {
		ids = append(ids, s.ID)
	}
	return ids
}

// goHandshake completes a handshake at exactly version with crypto/tls,
// without verifying the certificate (that is judged afterwards, apart).
func goHandshake(ctx context.Context, addr, serverName string, version uint16, timeout time.Duration) (tls.ConnectionState, error) {
	cfg := &tls.Config{
		MinVersion: version, MaxVersion: version,
		// Verification is done by analyseCertificate with the scan's roots,
		// so that an untrusted, expired or misnamed certificate is described
		// rather than only refused.
		InsecureSkipVerify: true, //nolint:gosec // see above
	}
	if net.ParseIP(serverName) == nil {
		cfg.ServerName = serverName
	}
	if version <= tls.VersionTLS12 {
		cfg.CipherSuites = allGoSuites()
	}
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: timeout}, Config: cfg}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	return c.(*tls.Conn).ConnectionState(), nil
}

// tlsProbeTimeout bounds each connection of the TLS probe.
func tlsProbeTimeout(o Options) time.Duration {
	if o.Timeout > 0 && o.Timeout < 10*time.Second {
		return o.Timeout
	}
	return 10 * time.Second
}

// probeTLS probes the TLS endpoint addr: protocol versions (crypto/tls for
// TLS 1.0–1.3, a raw ClientHello for SSL 3.0), accepted cipher suites (raw
// ClientHellos, see tlsraw.go), the certificate and chain, and OCSP
// stapling. Connections are made one at a time.
func probeTLS(ctx context.Context, addr, host string, o Options, now time.Time) (*TLSReport, []Finding) {
	timeout := tlsProbeTimeout(o)
	rep := &TLSReport{Address: addr}
	if net.ParseIP(host) == nil {
		rep.ServerName = host
	}
	target := "https://" + addr
	var best *tls.ConnectionState
	offered := map[uint16]bool{}
	for _, v := range []uint16{versionTLS13, versionTLS12, versionTLS11, versionTLS10} {
		st, err := goHandshake(ctx, addr, rep.ServerName, v, timeout)
		if err == nil {
			offered[v] = true
			if best == nil {
				best = &st
			}
			if v == versionTLS13 {
				name := tls.CipherSuiteName(st.CipherSuite)
				rep.CipherSuites = append(rep.CipherSuites, TLSCipherSuite{Protocol: versionNames[v],
					ID: fmt.Sprintf("%#04x", st.CipherSuite), Name: name, Category: suiteCategory(name), ForwardSecret: true})
			}
		}
	}
	// Every suite rampart knows, for every version up to TLS 1.2; the raw
	// probe also finds versions crypto/tls could not complete (SSL 3.0, or a
	// server offering only suites crypto/tls lacks).
	offer := make([]uint16, 0, len(tlsSuiteNames))
	for id := range tlsSuiteNames {
		offer = append(offer, id)
	}
	sort.Slice(offer, func(i, j int) bool { return offer[i] < offer[j] })
	rawFound := map[uint16]bool{}
	for _, v := range []uint16{versionSSL30, versionTLS10, versionTLS11, versionTLS12} {
		suites, _ := enumerateSuites(ctx, addr, rep.ServerName, v, offer, timeout)
		if len(suites) > 0 && !offered[v] {
			rawFound[v] = true
			offered[v] = true
		}
		for _, s := range suites {
			name := tlsSuiteNames[s]
			rep.CipherSuites = append(rep.CipherSuites, TLSCipherSuite{Protocol: versionNames[v],
				ID: fmt.Sprintf("%#04x", s), Name: name, Category: suiteCategory(name), ForwardSecret: forwardSecret(name)})
		}
	}
	for _, v := range []uint16{versionSSL30, versionTLS10, versionTLS11, versionTLS12, versionTLS13} {
		method := "crypto/tls"
		if v == versionSSL30 || rawFound[v] {
			method = "ClientHello"
		}
		rep.Protocols = append(rep.Protocols, TLSProtocol{Name: versionNames[v], Offered: offered[v], Method: method})
	}

	var out []Finding
	if len(offered) == 0 {
		return rep, []Finding{newFinding(ruleTLSHandshake, target, "no protocol from SSL 3.0 to TLS 1.3 completed a handshake at "+addr, "")}
	}
	for _, p := range []struct {
		v  uint16
		id string
	}{{versionSSL30, ruleTLSSSLv3}, {versionTLS10, ruleTLS10}, {versionTLS11, ruleTLS11}} {
		if offered[p.v] {
			out = append(out, newFinding(p.id, target, versionNames[p.v]+" is offered at "+addr, versionNames[p.v]))
		}
	}
	switch {
	case !offered[versionTLS12] && !offered[versionTLS13]:
		out = append(out, newFinding(ruleTLSNoModern, target, "only older protocols are offered at "+addr, ""))
	case !offered[versionTLS13]:
		out = append(out, newFinding(ruleTLSNo13, target, "TLS 1.3 is not offered at "+addr, ""))
	}
	out = append(out, suiteFindings(rep.CipherSuites, target)...)

	if best != nil && len(best.PeerCertificates) > 0 {
		cert, fs := analyseCertificate(best.PeerCertificates, host, o.RootCAs, now, target)
		rep.Certificate = cert
		out = append(out, fs...)
		status, fs := analyseOCSP(best.OCSPResponse, best.PeerCertificates, now, target)
		rep.OCSPStapled = len(best.OCSPResponse) > 0
		rep.OCSPStatus = status
		out = append(out, fs...)
	}
	return rep, out
}

// suiteFindings reports each weak category once, listing its suites.
func suiteFindings(suites []TLSCipherSuite, target string) []Finding {
	byCat := map[string][]string{}
	fs := false
	for _, s := range suites {
		byCat[s.Category] = append(byCat[s.Category], s.Name+" ("+s.Protocol+")")
		fs = fs || s.ForwardSecret
	}
	var out []Finding
	for _, c := range []struct{ cat, id string }{
		{SuiteNULL, ruleTLSNull}, {SuiteAnon, ruleTLSAnon}, {SuiteExport, ruleTLSExport},
		{SuiteLow, ruleTLSLow}, {SuiteTDESIDEA, ruleTLS3DES}, {SuiteCBC, ruleTLSCBC},
	} {
		if list := byCat[c.cat]; len(list) > 0 {
			out = append(out, newFinding(c.id, target, "accepted: "+strings.Join(list, ", "), strings.Join(list, ", ")))
		}
	}
	if len(suites) > 0 && !fs {
		out = append(out, newFinding(ruleTLSNoFS, target, "every accepted suite uses RSA or static DH key exchange", ""))
	}
	return out
}

// minCertLifetimeLeft is when an upcoming expiry becomes a finding.
const minCertLifetimeLeft = 21 * 24 * time.Hour

// analyseCertificate judges the chain the server sent: trust (with roots,
// nil meaning the system's), validity dates at now, host name, key and
// signature algorithms. Trust is judged at a time inside the leaf's validity
// so an expired certificate is reported as expired, not also as untrusted.
func analyseCertificate(chain []*x509.Certificate, host string, roots *x509.CertPool, now time.Time, target string) (*TLSCertificate, []Finding) {
	leaf := chain[0]
	c := &TLSCertificate{
		Subject: leaf.Subject.String(), Issuer: leaf.Issuer.String(), DNSNames: leaf.DNSNames,
		NotBefore: leaf.NotBefore, NotAfter: leaf.NotAfter, SignatureAlgorithm: leaf.SignatureAlgorithm.String(),
		ChainLength: len(chain),
	}
	for _, ip := range leaf.IPAddresses {
		c.IPAddresses = append(c.IPAddresses, ip.String())
	}
	switch k := leaf.PublicKey.(type) {
	case *rsa.PublicKey:
		c.KeyType, c.KeyBits = "RSA", k.N.BitLen()
	case *ecdsa.PublicKey:
		c.KeyType, c.KeyBits = "ECDSA", k.Curve.Params().BitSize
	case ed25519.PublicKey:
		c.KeyType, c.KeyBits = "Ed25519", 256
	default:
		c.KeyType = fmt.Sprintf("%T", leaf.PublicKey)
	}
	// Signed by its own key (CheckSignatureFrom would also demand that the
	// certificate be a CA, which self-signed server certificates seldom are).
	c.SelfSigned = bytes.Equal(leaf.RawIssuer, leaf.RawSubject) &&
		leaf.CheckSignature(leaf.SignatureAlgorithm, leaf.RawTBSCertificate, leaf.Signature) == nil

	inter := x509.NewCertPool()
	for _, ic := range chain[1:] {
		inter.AddCert(ic)
	}
	at := now
	if at.Before(leaf.NotBefore) {
		at = leaf.NotBefore
	}
	if at.After(leaf.NotAfter) {
		at = leaf.NotAfter
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: at,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	c.Trusted = err == nil
	if err != nil {
		c.TrustError = err.Error()
	}
	c.HostnameMatch = leaf.VerifyHostname(strings.Trim(host, "[]")) == nil

	var out []Finding
	names := strings.Join(append(append([]string{}, c.DNSNames...), c.IPAddresses...), ", ")
	switch {
	case now.After(leaf.NotAfter):
		out = append(out, newFinding(ruleCertExpired, target, "expired on "+leaf.NotAfter.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339)))
	case now.Before(leaf.NotBefore):
		out = append(out, newFinding(ruleCertNotYet, target, "valid from "+leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotBefore.UTC().Format(time.RFC3339)))
	case leaf.NotAfter.Sub(now) < minCertLifetimeLeft:
		days := int(leaf.NotAfter.Sub(now).Hours() / 24)
		out = append(out, newFinding(ruleCertSoon, target, fmt.Sprintf("expires on %s, in %d days", leaf.NotAfter.UTC().Format(time.RFC3339), days), leaf.NotAfter.UTC().Format(time.RFC3339)))
	}
	switch {
	case c.Trusted:
	case c.SelfSigned:
		out = append(out, newFinding(ruleCertSelfSigned, target, "the certificate for "+c.Subject+" is signed by its own key and not trusted", c.Subject))
	default:
		out = append(out, newFinding(ruleCertUntrusted, target, "chain of trust failed: "+c.TrustError, c.Issuer))
	}
	if !c.HostnameMatch {
		out = append(out, newFinding(ruleCertHostname, target, fmt.Sprintf("the certificate names %s, not %s", names, host), names))
	}
	if (c.KeyType == "RSA" && c.KeyBits < 2048) || (c.KeyType == "ECDSA" && c.KeyBits < 256) || c.KeyBits == 0 {
		out = append(out, newFinding(ruleCertWeakKey, target, fmt.Sprintf("%s %d bits", c.KeyType, c.KeyBits), fmt.Sprintf("%s %d", c.KeyType, c.KeyBits)))
	}
	for i, cc := range chain {
		if i > 0 && bytes.Equal(cc.RawIssuer, cc.RawSubject) {
			continue // a root's self-signature is never checked by clients
		}
		switch cc.SignatureAlgorithm {
		case x509.MD2WithRSA, x509.MD5WithRSA, x509.SHA1WithRSA, x509.DSAWithSHA1, x509.ECDSAWithSHA1:
			out = append(out, newFinding(ruleCertWeakSig, target, fmt.Sprintf("%s is signed with %s", cc.Subject, cc.SignatureAlgorithm), cc.SignatureAlgorithm.String()))
		}
	}
	return c, out
}

// analyseOCSP checks a stapled OCSP response against the leaf and its issuer.
func analyseOCSP(raw []byte, chain []*x509.Certificate, now time.Time, target string) (string, []Finding) {
	if len(raw) == 0 {
		return "", []Finding{newFinding(ruleOCSPNone, target, "the server staples no OCSP response", "")}
	}
	var issuer *x509.Certificate
	if len(chain) > 1 {
		issuer = chain[1]
	}
	// With an issuer, the response's signature is checked against it (or
	// against a delegated responder certificate the issuer signed).
	resp, err := ocsp.ParseResponseForCert(raw, chain[0], issuer)
	if err != nil {
		return "invalid", []Finding{newFinding(ruleOCSPBad, target, "stapled response: "+err.Error(), "")}
	}
	switch resp.Status {
	case ocsp.Revoked:
		return "revoked", []Finding{newFinding(ruleOCSPRevoked, target, "revoked at "+resp.RevokedAt.UTC().Format(time.RFC3339), "")}
	case ocsp.Unknown:
		return "unknown", []Finding{newFinding(ruleOCSPBad, target, "the stapled response's status is unknown", "")}
	}
	if !resp.NextUpdate.IsZero() && now.After(resp.NextUpdate) {
		return "invalid", []Finding{newFinding(ruleOCSPBad, target, "the stapled response is stale (nextUpdate "+resp.NextUpdate.UTC().Format(time.RFC3339)+")", "")}
	}
	return "good", nil
}

// tlsAddress is the host:port of an https URL's endpoint.
func tlsAddress(host, port string) string {
	if port == "" {
		port = "443"
	}
	return net.JoinHostPort(strings.Trim(host, "[]"), port)
}
