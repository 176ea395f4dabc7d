package scan

// Raw ClientHello probing.
//
// crypto/tls cannot speak SSL 3.0 (removed in Go 1.14) and cannot offer the
// cipher suites a scanner most needs to find: NULL, anonymous, export, DES,
// IDEA, SEED, CAMELLIA, ARIA and every DHE suite. Whether a server accepts a
// protocol version or a suite is decided by its ServerHello alone, so the
// scanner does not need those ciphers: it sends a hand-built ClientHello
// and reads the answer (ServerHello, alert or a closed connection), then
// hangs up. No key exchange happens and no application data is sent.

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// Protocol versions on the wire.
const (
	versionSSL30 = 0x0300
	versionTLS10 = 0x0301
	versionTLS11 = 0x0302
	versionTLS12 = 0x0303
	versionTLS13 = 0x0304
)

var versionNames = map[uint16]string{versionSSL30: "SSLv3", versionTLS10: "TLS 1.0", versionTLS11: "TLS 1.1", versionTLS12: "TLS 1.2", versionTLS13: "TLS 1.3"}

// errNoServerHello means the server refused the hello (alert, reset, close,
// or an answer that is not a ServerHello).
var errNoServerHello = errors.New("no ServerHello")

// serverHello is what the probe learns from a ServerHello.
type serverHello struct {
	version uint16
	suite   uint16
}

// buildClientHello returns a TLS record holding a ClientHello for version
// offering suites. Extensions are sent for TLS 1.0 and later: SNI (when
// serverName is a DNS name), the curves and point formats ECDHE suites need,
// and for TLS 1.2 the signature algorithms; SSL 3.0 hellos carry none, as
// SSL 3.0 servers may reject them. TLS_EMPTY_RENEGOTIATION_INFO_SCSV is
// appended as modern stacks expect it.
func buildClientHello(version uint16, suites []uint16, serverName string) []byte {
	var body []byte
	body = binary.BigEndian.AppendUint16(body, version)
	random := make([]byte, 32)
	_, _ = rand.Read(random)
	body = append(body, random...)
	body = append(body, 0) // no session ID
	cs := make([]byte, 0, 2*len(suites)+2)
	for _, s := range suites {
		cs = binary.BigEndian.AppendUint16(cs, s)
	}
	cs = binary.BigEndian.AppendUint16(cs, 0x00ff)
	body = binary.BigEndian.AppendUint16(body, uint16(len(cs)))
	body = append(body, cs...)
	body = append(body, 1, 0) // compression: null only
	if version >= versionTLS10 {
		var ext []byte
		addExt := func(typ uint16, data []byte) {
			ext = binary.BigEndian.AppendUint16(ext, typ)
			ext = binary.BigEndian.AppendUint16(ext, uint16(len(data)))
			ext = append(ext, data...)
		}
		if serverName != "" && net.ParseIP(serverName) == nil {
			var sni []byte
			sni = binary.BigEndian.AppendUint16(sni, uint16(len(serverName)+3))
			sni = append(sni, 0) // host_name
			sni = binary.BigEndian.AppendUint16(sni, uint16(len(serverName)))
			sni = append(sni, serverName...)
			addExt(0, sni)
		}
		// supported_groups: x25519, secp256r1, secp384r1, secp521r1.
		addExt(10, []byte{0, 8, 0, 29, 0, 23, 0, 24, 0, 25})
		addExt(11, []byte{1, 0}) // ec_point_formats: uncompressed
		if version >= versionTLS12 {
			algs := []uint16{0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0203, 0x0201, 0x0402, 0x0202}
			var sa []byte
			sa = binary.BigEndian.AppendUint16(sa, uint16(2*len(algs)))
			for _, a := range algs {
				sa = binary.BigEndian.AppendUint16(sa, a)
			}
			addExt(13, sa)
		}
		// Some middleboxes hang on hellos of 256 to 511 bytes; pad those to
		// 512 with the padding extension (RFC 7685 §4).
		if n := 5 + 4 + len(body) + 2 + len(ext); n >= 256 && n < 512 {
			pad := 512 - n - 4
			if pad < 1 {
				pad = 1
			}
			addExt(21, make([]byte, pad))
		}
		body = binary.BigEndian.AppendUint16(body, uint16(len(ext)))
		body = append(body, ext...)
	}
	hs := []byte{1, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}
	hs = append(hs, body...)
	recVersion := uint16(versionTLS10) // the record layer version most servers expect
	if version == versionSSL30 {
		recVersion = versionSSL30
	}
	rec := []byte{22}
	rec = binary.BigEndian.AppendUint16(rec, recVersion)
	rec = binary.BigEndian.AppendUint16(rec, uint16(len(hs)))
	return append(rec, hs...)
}

// readServerHello reads records until a whole first handshake message is
// there and parses it as a ServerHello. Anything else (an alert, an SSLv2
// answer, a short read) is errNoServerHello.
func readServerHello(r io.Reader) (serverHello, error) {
	var hs []byte
	msgLen := func() int { return 4 + (int(hs[1])<<16 | int(hs[2])<<8 | int(hs[3])) }
	for len(hs) < 4 || len(hs) < msgLen() {
		if len(hs) > 0 && hs[0] != 2 {
			return serverHello{}, errNoServerHello
		}
		var hdr [5]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return serverHello{}, errNoServerHello
		}
		n := int(binary.BigEndian.Uint16(hdr[3:]))
		if hdr[0] != 22 || hdr[1] != 3 || n == 0 || n > 1<<14+2048 {
			return serverHello{}, errNoServerHello
		}
		frag := make([]byte, n)
		if _, err := io.ReadFull(r, frag); err != nil {
			return serverHello{}, errNoServerHello
		}
		hs = append(hs, frag...)
		if len(hs) > 1<<16 {
			return serverHello{}, errNoServerHello
		}
	}
	return parseServerHello(hs)
}

// parseServerHello parses a handshake message that should be a ServerHello:
// type 2, version, 32-byte random, session ID, then the chosen suite.
func parseServerHello(hs []byte) (serverHello, error) {
	if len(hs) < 4 || hs[0] != 2 {
		return serverHello{}, errNoServerHello
	}
	body := hs[4:]
	if len(body) < 2+32+1 {
		return serverHello{}, errNoServerHello
	}
	v := binary.BigEndian.Uint16(body)
	sidLen := int(body[34])
	if len(body) < 35+sidLen+2 {
		return serverHello{}, errNoServerHello
	}
	suite := binary.BigEndian.Uint16(body[35+sidLen:])
	return serverHello{version: v, suite: suite}, nil
}

// rawHello sends one ClientHello to addr and returns the server's choice.
func rawHello(ctx context.Context, addr, serverName string, version uint16, suites []uint16, timeout time.Duration) (serverHello, error) {
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return serverHello{}, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if _, err := conn.Write(buildClientHello(version, suites, serverName)); err != nil {
		return serverHello{}, errNoServerHello
	}
	return readServerHello(conn)
}

// enumerateSuites finds every suite of offer the server accepts at version,
// by offering the list, removing the suite it picks, and asking again until
// it refuses. It returns the accepted suites in the order the server chose
// them (its preference, when it has one). A dial error other than a refusal
// is returned.
func enumerateSuites(ctx context.Context, addr, serverName string, version uint16, offer []uint16, timeout time.Duration) ([]uint16, error) {
	left := append([]uint16(nil), offer...)
	var accepted []uint16
	for len(left) > 0 {
		sh, err := rawHello(ctx, addr, serverName, version, left, timeout)
		if errors.Is(err, errNoServerHello) {
			break
		}
		if err != nil {
			return accepted, err
		}
		if sh.version != version {
			break // the server negotiated another version: this one is not offered
		}
		i := indexOfSuite(left, sh.suite)
		if i < 0 {
			return accepted, fmt.Errorf("server chose suite %#04x, which was not offered", sh.suite)
		}
		accepted = append(accepted, sh.suite)
		left = append(left[:i], left[i+1:]...)
	}
	return accepted, nil
}

func indexOfSuite(list []uint16, s uint16) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}
