package auth

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/rampart-go/rampart/internal/djangotest"
	"github.com/rampart-go/rampart/store"
)

// Fixed vectors, computed with Python's hashlib (scrypt, md5, sha1) and crypt (glibc) in
// the formats of Django's hashers; the first scrypt and md5 ones are also Django's own
// test vectors (tests/auth_tests/test_hashers.py).
var legacyVectors = []struct {
	alg, pw, enc string
}{
	{AlgScrypt, "lètmein", "scrypt$16384$seasalt$8$1$Qj3+9PPyRjSJIebHnG81TMjsqtaIGxNQG/aEB/NYafTJ7tibgfYz71m0ldQESkXFRkdVCBhhY8mx7rQwite/Pw=="},
	{AlgScrypt, "correct horse battery staple", "scrypt$16384$Zk3cCBWbPGt7YxJ6wFX2Sa$8$1$hNs+s4G1jWhN9qQRVpNz4Xg+i5Y02LHgsDHT+lIqTn9HEhYSePGYnyJUXMEDtnoPo1EN+ufhGOqOSBSrI+I9QA=="},
	{AlgScrypt, "pw", "scrypt$2048$aB3dE5gH7jK9mN1pQ3sT5v$8$2$NF+Ntdg567JS/FqqpsfNMlb3pvQskHAmKmzSMeGn2LzcaU35MpIC46qNh47gjFxd1fn9JzkPlZLYyQsnVdR02Q=="},
	{AlgScrypt, "", "scrypt$1024$emptysaltpw$4$1$ioG7Yh+40oBMG062OleGZDusPpUcMWp6j0jSxT7+2rNcE0+ht1EK2YYxaLs8vmcgBeLnFSntd9t1waKratQ68Q=="},
	{AlgMD5, "lètmein", "md5$seasalt$3f86d0d3d465b7b458c231bf3555c0e3"},
	{AlgSHA1, "lètmein", "sha1$seasalt$cff36ea83f5706ce9aa7454e63e431fc726b2dc8"},
	{AlgUnsaltedMD5, "lètmein", "88a434c88cca4e900f7874cd98123f43"},
	{AlgUnsaltedMD5, "lètmein", "md5$$88a434c88cca4e900f7874cd98123f43"},
	{AlgUnsaltedSHA1, "lètmein", "sha1$$6d138ca3ae545631b3abd71a4f076ce759c5700b"},
	{AlgMD5, "correct horse battery staple", "md5$Zk3cC$3b69ac3d085d481c813033626ef6d44c"},
	{AlgSHA1, "correct horse battery staple", "sha1$Zk3cC$cbdd00200a4d3799691a78c424e9143a2ded923a"},
	{AlgUnsaltedMD5, "correct horse battery staple", "9cc2ae8a1ba7a93da39b46fc1019c481"},
	{AlgUnsaltedSHA1, "correct horse battery staple", "sha1$$abf7aad6438836dbe526aa231abde2d0eef74d42"},
	{AlgCrypt, "lètmein", "crypt$$sePpRS0NCPEro"},
	{AlgCrypt, "correct horse battery staple", "crypt$$ZkDEeya4OrYAM"},
	{AlgCrypt, "pw", "crypt$$./Pkhn1tKbCbc"},
	// Django 1.3 and older kept a salt in the middle field and never read it back.
	{AlgCrypt, "pw", "crypt$./1f2$./Pkhn1tKbCbc"},
}

// wrongPassword differs from pw in its first byte, which every hasher counts (crypt reads
// only 8 bytes, so an appended character would still match).
func wrongPassword(pw string) string {
	if pw == "" {
		return "x"
	}
	if pw[0] == 'Q' {
		return "R" + pw[1:]
	}
	return "Q" + pw[1:]
}

func TestScryptAndLegacyVectors(t *testing.T) {
	h := fast()
	for _, v := range legacyVectors {
		info, err := ParseHash(v.enc)
		if err != nil || info.Algorithm != v.alg {
			t.Fatalf("ParseHash(%s) = %+v, %v; want %s", v.enc, info, err, v.alg)
		}
		if IsLegacy(v.alg) != (v.alg != AlgScrypt) {
			t.Errorf("IsLegacy(%s)", v.alg)
		}
		if !mustVerify(t, h, v.pw, v.enc) {
			t.Errorf("%s does not verify %q", v.enc, v.pw)
		}
		if mustVerify(t, h, wrongPassword(v.pw), v.enc) {
			t.Errorf("%s verifies a wrong password", v.enc)
		}
		if !h.NeedsUpgrade(v.enc) {
			t.Errorf("%s should need an upgrade", v.enc)
		}
	}
	// Corrupted forms never verify (and cost one default hash, like any unparsable value).
	for _, bad := range []string{
		"md5$seasalt$3F86D0D3D465B7B458C231BF3555C0E3", // Django compared lower-case hex strings
		"md5$seasalt$3f86d0d3d465b7b458c231bf3555c0e",
		"md5$sea$salt$3f86d0d3d465b7b458c231bf3555c0e3",
		"sha1$$6d138ca3ae545631b3abd71a4f076ce759c5700",
		"88A434C88CCA4E900F7874CD98123F43",
		"crypt$$sePpRS0NCPEr", "crypt$$sePpRS0NCPEr!", "crypt$sePpRS0NCPEro",
		"scrypt$16385$seasalt$8$1$Qj3+9PPyRjSJIebHnG81TMjsqtaIGxNQG/aEB/NYafTJ7tibgfYz71m0ldQESkXFRkdVCBhhY8mx7rQwite/Pw==",
		"scrypt$016384$seasalt$8$1$Qj3+9PPyRjSJIebHnG81TMjsqtaIGxNQG/aEB/NYafTJ7tibgfYz71m0ldQESkXFRkdVCBhhY8mx7rQwite/Pw==",
		"scrypt$16384$$8$1$Qj3+9PPyRjSJIebHnG81TMjsqtaIGxNQG/aEB/NYafTJ7tibgfYz71m0ldQESkXFRkdVCBhhY8mx7rQwite/Pw==",
		"scrypt$16384$seasalt$0$1$Qj3+9PPyRjSJIebHnG81TMjsqtaIGxNQG/aEB/NYafTJ7tibgfYz71m0ldQESkXFRkdVCBhhY8mx7rQwite/Pw==",
		"scrypt$1048576$seasalt$64$64$Qj3+9PPyRjSJIebHnG81TMjsqtaIGxNQG/aEB/NYafTJ7tibgfYz71m0ldQESkXFRkdVCBhhY8mx7rQwite/Pw==",
	} {
		if _, err := ParseHash(bad); err == nil {
			t.Errorf("ParseHash(%s) accepted", bad)
		}
		lim := h.pool()
		before := lim.started.Load()
		if mustVerify(t, h, "lètmein", bad) {
			t.Errorf("%s verified", bad)
		}
		if got := lim.started.Load() - before; got != 1 {
			t.Errorf("%s: %d computations, want 1", bad, got)
		}
	}
}

// RFC 7914 §12 vectors in Django's scrypt format; the 1 GiB one is beyond the default memory
// budget and must be refused without being computed.
func TestScryptRFCVectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/otp-kdf-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	// Rows as maps: the file has both "P" (password) and "p" (parallelism), which
	// encoding/json's case-insensitive field matching would mix up.
	var rows []map[string]any
	var all map[string]json.RawMessage
	if err := json.Unmarshal(raw, &all); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(all["scrypt_rfc7914_sec12"], &rows); err != nil {
		t.Fatal(err)
	}
	h := &Hasher{}
	ran := 0
	for _, row := range rows {
		pw, salt := row["P"].(string), row["S"].(string)
		n, r, p := int(row["N"].(float64)), int(row["r"].(float64)), int(row["p"].(float64))
		dk, _ := hex.DecodeString(row["DK"].(string))
		if salt == "" {
			continue // Django's format has no empty salt
		}
		enc := fmt.Sprintf("scrypt$%d$%s$%d$%d$%s", n, salt, r, p, base64.StdEncoding.EncodeToString(dk))
		lim := h.pool()
		peak := lim.peakMiB.Load()
		ok := mustVerify(t, h, pw, enc)
		if n*r*128 > DefaultMemoryBudgetMiB<<20 {
			if ok {
				t.Errorf("N=%d: over-budget hash verified", n)
			}
			if lim.peakMiB.Load() > max(peak, 20) {
				t.Errorf("N=%d: computed anyway (%d MiB)", n, lim.peakMiB.Load())
			}
			continue
		}
		if !ok || mustVerify(t, h, pw+"x", enc) {
			t.Errorf("RFC 7914 N=%d r=%d p=%d", n, r, p)
		}
		ran++
	}
	if ran != 2 {
		t.Fatalf("%d RFC vectors ran, want 2", ran)
	}
}

// Scrypt hashes in Django ≥ 4.0's format (ScryptPasswordHasher.encode), computed now by
// Python's hashlib.scrypt with random passwords, salts and parameters.
func TestScryptAgainstPython(t *testing.T) {
	py := djangotest.Python(t, "hashlib")
	var out []struct{ Pw, Enc string }
	djangotest.Run(t, py, `
import base64, hashlib, json, secrets, string, sys
json.load(sys.stdin)
alnum = string.ascii_letters + string.digits
out = []
for n, r, p in [(1024, 8, 1), (512, 4, 2), (256, 1, 3), (2048, 2, 1)]:
    for pw in ["", "lètmein", secrets.token_urlsafe(12), "ünïcødé " * 12]:
        salt = "".join(secrets.choice(alnum) for _ in range(22))
        h = hashlib.scrypt(pw.encode(), salt=salt.encode(), n=n, r=r, p=p, maxmem=0, dklen=64)
        out.append({"pw": pw, "enc": "scrypt$%d$%s$%d$%d$%s" % (n, salt, r, p, base64.b64encode(h).decode("ascii").strip())})
# Django's default cost, once.
salt = "".join(secrets.choice(alnum) for _ in range(22))
h = hashlib.scrypt(b"correct horse", salt=salt.encode(), n=16384, r=8, p=1, maxmem=0, dklen=64)
out.append({"pw": "correct horse", "enc": "scrypt$16384$%s$8$1$%s" % (salt, base64.b64encode(h).decode("ascii"))})
print(json.dumps(out))
`, nil, &out)
	h := fast()
	for _, c := range out {
		if !mustVerify(t, h, c.Pw, c.Enc) || mustVerify(t, h, wrongPassword(c.Pw), c.Enc) {
			t.Errorf("%q / %s", c.Pw, c.Enc)
		}
	}
	if len(out) != 17 {
		t.Fatalf("%d hashes from Python", len(out))
	}
}

// desCrypt against the C library's crypt(3), through Python's crypt module (Python ≤ 3.12).
func TestDESCryptAgainstLibc(t *testing.T) {
	py := djangotest.Python(t, "crypt")
	var out []struct{ Pw, Salt, Hash string }
	djangotest.Run(t, py, `
import crypt, json, secrets, string, sys
json.load(sys.stdin)
salts = "./" + string.digits + string.ascii_letters
out = []
for pw in ["", "a", "pw", "password", "password1", "lètmein", "\x7f\x01tab\t", "ünïcødé", secrets.token_urlsafe(6)] + [secrets.token_urlsafe(9) for _ in range(40)]:
    salt = secrets.choice(salts) + secrets.choice(salts)
    out.append({"pw": pw, "salt": salt, "hash": crypt.crypt(pw, salt)})
print(json.dumps(out))
`, nil, &out)
	for _, c := range out {
		if got := desCrypt(c.Pw, c.Salt); got != c.Hash {
			t.Errorf("desCrypt(%q, %q) = %s, libc %s", c.Pw, c.Salt, got, c.Hash)
		}
	}
	if len(out) < 40 {
		t.Fatalf("%d crypt results", len(out))
	}
}

// The no-downgrade rule: a stored hash that costs more than the configured one is kept, or
// re-hashed at no lower cost in any parameter. (Costs scaled down from Django's m=102400,
// t=2, p=8 against OWASP's m=19456, t=2, p=1, for speed under the race detector; the real
// ones are in TestRealDjangoHashes and TestRealDjangoArgon2NoDowngrade.)
func TestUpgradeNeverLowersCost(t *testing.T) {
	h := &Hasher{Argon2: Argon2Params{MemoryKiB: 1024, Time: 2, Threads: 1}}
	stronger, err := h.hashWith(ctx, "pw", Argon2Params{MemoryKiB: 4096, Time: 2, Threads: 8})
	if err != nil {
		t.Fatal(err)
	}
	if h.NeedsUpgrade(stronger) {
		t.Errorf("a m=4096,t=2,p=8 hash would be replaced by a cheaper m=1024,p=1 one")
	}
	const scryptKey = "$Qj3+9PPyRjSJIebHnG81TMjsqtaIGxNQG/aEB/NYafTJ7tibgfYz71m0ldQESkXFRkdVCBhhY8mx7rQwite/Pw=="
	cases := []struct {
		name, stored string
		want         string // the parameters of the upgraded hash
	}{
		{"argon2id cheaper in time", "argon2$argon2id$v=19$m=4096,t=1,p=8$c2FsdHNhbHRzYWx0c2FsdA$ZVrRXqxlLcWfcXCnMyv0mw", "m=4096,t=2,p=8"},
		{"argon2id cheaper in memory", "argon2$argon2id$v=19$m=512,t=4,p=2$c2FsdHNhbHRzYWx0c2FsdA$ZVrRXqxlLcWfcXCnMyv0mw", "m=1024,t=4,p=2"},
		{"argon2id short key", "argon2$argon2id$v=19$m=2048,t=3,p=4$c2FsdHNhbHRzYWx0c2FsdA$ZVrRXqxl", "m=2048,t=3,p=4"},
		{"argon2i", "argon2$argon2i$v=19$m=4096,t=2,p=8$c2FsdHNhbHRzYWx0c2FsdA$ZVrRXqxlLcWfcXCnMyv0mw", "m=4096,t=2,p=8"},
		{"scrypt 2 MiB", "scrypt$2048$seasalt$8$1" + scryptKey, "m=2049,t=2,p=1"},
		{"scrypt 512 KiB", "scrypt$512$seasalt$8$1" + scryptKey, "m=1024,t=2,p=1"},
		{"pbkdf2", "pbkdf2_sha256$600000$seasalt$OAXyhAQ/4ZDA9V5RMExt3C1OwQdUpLZ99vm1McFlLRA=", "m=1024,t=2,p=1"},
		{"md5", "md5$seasalt$3f86d0d3d465b7b458c231bf3555c0e3", "m=1024,t=2,p=1"},
	}
	for _, c := range cases {
		if !h.NeedsUpgrade(c.stored) {
			t.Errorf("%s: no upgrade", c.name)
			continue
		}
		up, err := h.Upgrade(ctx, "pw", c.stored)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(up, "argon2$argon2id$v=19$"+c.want+"$") {
			t.Errorf("%s: upgraded to %s, want %s", c.name, up, c.want)
		}
		if !mustVerify(t, h, "pw", up) || h.NeedsUpgrade(up) {
			t.Errorf("%s: the upgraded hash is not final", c.name)
		}
		// Every parameter at least the stored one's.
		old, _ := ParseHash(c.stored)
		info, _ := ParseHash(up)
		argon := old.Algorithm == AlgArgon2id || old.Algorithm == AlgArgon2i
		if info.MemoryKiB < old.MemoryKiB || argon && (info.Iterations < old.Iterations || info.Threads < old.Threads) {
			t.Errorf("%s: %+v is cheaper than %+v", c.name, info, old)
		}
	}
	// A configuration stronger than the stored hash in one parameter still upgrades it.
	if !(&Hasher{Argon2: Argon2Params{MemoryKiB: 1024, Time: 3}}).NeedsUpgrade(stronger) {
		t.Error("t=3 configured: a t=2 hash must be upgraded")
	}
	// With the production defaults, Django's own parameters are kept.
	django := "argon2$argon2id$v=19$m=102400,t=2,p=8$c2FsdHNhbHRzYWx0c2FsdA$ZVrRXqxlLcWfcXCnMyv0mw"
	if (&Hasher{}).NeedsUpgrade(django) {
		t.Error("Django's m=102400,t=2,p=8 would be replaced by OWASP's cheaper m=19456,p=1")
	}
}

// Hashes made by real Django (Debian's python3-django 3.2) with every hasher it has: each
// verifies, a wrong password does not, the first successful login upgrades it (except an
// argon2 hash at least as strong as the configured one), and Django in turn verifies what
// rampart stored. PBKDF2 and bcrypt run at reduced costs through subclasses, as Django's own
// test suites do (the format is the same; the race detector slows Go's bcrypt tenfold);
// argon2 keeps Django's defaults, which the no-downgrade rule is about.
func TestRealDjangoHashes(t *testing.T) {
	py := djangotest.Python(t, "django", "argon2", "bcrypt", "crypt")
	passwords := []string{"correct horse battery staple", "Qlètmein-ünïcødé-" + strings.Repeat("long", 16)}
	type made struct {
		Hasher, Pw, Enc string
	}
	var hashes []made
	djangotest.Run(t, py, djangotest.Settings+`
from django.contrib.auth import hashers as H
class PBKDF2(H.PBKDF2PasswordHasher): iterations = 10000
class PBKDF2SHA1(H.PBKDF2SHA1PasswordHasher): iterations = 10000
class BCryptSHA256(H.BCryptSHA256PasswordHasher): rounds = 5
class BCrypt(H.BCryptPasswordHasher): rounds = 5
out = []
for cls in [PBKDF2, PBKDF2SHA1, H.Argon2PasswordHasher, BCryptSHA256, BCrypt, H.SHA1PasswordHasher,
            H.MD5PasswordHasher, H.UnsaltedSHA1PasswordHasher, H.UnsaltedMD5PasswordHasher, H.CryptPasswordHasher]:
    h = cls()
    for pw in IN["passwords"]:
        out.append({"hasher": h.algorithm, "pw": pw, "enc": h.encode(pw, h.salt())})
print(json.dumps(out))
`, map[string]any{"passwords": passwords}, &hashes)
	const nHashers = 10
	if len(hashes) != nHashers*len(passwords) {
		t.Fatalf("%d hashes from Django, want %d", len(hashes), nHashers*len(passwords))
	}

	e := newEnv(t)
	e.s.hasher = &Hasher{} // the production costs, which Django's argon2 defaults exceed
	type login struct {
		Pw  string `json:"pw"`
		Enc string `json:"enc"`
	}
	var back []login
	counts := map[string]int{}
	for i, m := range hashes {
		info, err := ParseHash(m.Enc)
		if err != nil {
			t.Fatalf("%s: ParseHash(%s): %v", m.Hasher, m.Enc, err)
		}
		counts[info.Algorithm]++
		if mustVerify(t, e.s.hasher, wrongPassword(m.Pw), m.Enc) {
			t.Errorf("%s: wrong password verified", m.Hasher)
		}
		u, err := e.users.CreateUser(ctx, store.User{Username: fmt.Sprintf("django%d", i), PasswordHash: m.Enc, IsActive: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.Authenticate(ctx, u.Username, m.Pw); err != nil {
			t.Errorf("%s: Django's hash of %q: login: %v", m.Hasher, m.Pw, err)
			continue
		}
		cur, _ := e.users.UserByID(ctx, u.ID)
		switch {
		case m.Hasher == "argon2":
			// m=102400,t=2,p=8: stronger than the configured cost, kept as it is.
			if cur.PasswordHash != m.Enc {
				t.Errorf("Django argon2 hash replaced: %s -> %s", m.Enc, cur.PasswordHash)
			}
		case !strings.HasPrefix(cur.PasswordHash, "argon2$argon2id$v=19$m=19456,t=2,p=1$"):
			t.Errorf("%s: not upgraded on first login: %s", m.Hasher, cur.PasswordHash)
		}
		if _, err := e.s.Authenticate(ctx, u.Username, m.Pw); err != nil {
			t.Errorf("%s: second login: %v", m.Hasher, err)
		}
		back = append(back, login{m.Pw, cur.PasswordHash})
	}
	for _, alg := range []string{AlgPBKDF2SHA256, AlgPBKDF2SHA1, AlgArgon2id, AlgBcryptSHA256, AlgBcrypt,
		AlgSHA1, AlgMD5, AlgUnsaltedSHA1, AlgUnsaltedMD5, AlgCrypt} {
		if counts[alg] != len(passwords) {
			t.Errorf("%s: %d hashes, want %d", alg, counts[alg], len(passwords))
		}
	}
	// Django verifies every stored hash, and does not verify a wrong password against it.
	var verdicts []struct{ OK, Wrong bool }
	djangotest.Run(t, py, djangotest.Settings+`
from django.contrib.auth.hashers import check_password
print(json.dumps([{"ok": check_password(c["pw"], c["enc"]), "wrong": check_password(c["pw"] + "x", c["enc"])} for c in IN["logins"]]))
`, map[string]any{"hashers": []string{"django.contrib.auth.hashers.Argon2PasswordHasher"}, "logins": back}, &verdicts)
	verified := 0
	for i, v := range verdicts {
		if !v.OK || v.Wrong {
			t.Errorf("Django on rampart's %s: ok=%v wrong=%v", back[i].Enc, v.OK, v.Wrong)
		} else {
			verified++
		}
	}
	t.Logf("Django 3.2 hashes: %d hashers x %d passwords logged in and upgraded; Django verified %d of %d stored hashes",
		nHashers, len(passwords), verified, len(back))
}

// A Django argon2 hash weaker than rampart's configured cost in one parameter (time) but
// stronger in others (memory, lanes): the upgrade keeps the stronger ones, and Django
// verifies the result.
func TestRealDjangoArgon2NoDowngrade(t *testing.T) {
	py := djangotest.Python(t, "django", "argon2")
	var enc string
	djangotest.Run(t, py, djangotest.Settings+`
from django.contrib.auth.hashers import Argon2PasswordHasher
class Quick(Argon2PasswordHasher):
    time_cost = 1
print(json.dumps(Quick().encode("lètmein", Quick().salt())))
`, map[string]any{}, &enc)
	if !strings.HasPrefix(enc, "argon2$argon2id$v=19$m=102400,t=1,p=8$") {
		t.Fatalf("Django made %s", enc)
	}
	e := newEnv(t)
	e.s.hasher = &Hasher{}
	u, err := e.users.CreateUser(ctx, store.User{Username: "quick", PasswordHash: enc, IsActive: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Authenticate(ctx, "quick", "lètmein"); err != nil {
		t.Fatal(err)
	}
	cur, _ := e.users.UserByID(ctx, u.ID)
	if !strings.HasPrefix(cur.PasswordHash, "argon2$argon2id$v=19$m=102400,t=2,p=8$") {
		t.Fatalf("upgraded to %s: lower than the stored m=102400,p=8", cur.PasswordHash)
	}
	var ok bool
	djangotest.Run(t, py, djangotest.Settings+`
from django.contrib.auth.hashers import check_password
print(json.dumps(check_password("lètmein", IN["enc"])))
`, map[string]any{"hashers": []string{"django.contrib.auth.hashers.Argon2PasswordHasher"}, "enc": cur.PasswordHash}, &ok)
	if !ok {
		t.Errorf("Django does not verify %s", cur.PasswordHash)
	}
}

func TestIsLegacyUnknown(t *testing.T) {
	for _, a := range []string{AlgArgon2id, AlgPBKDF2SHA256, AlgBcrypt, AlgScrypt, "", "lolcat"} {
		if IsLegacy(a) {
			t.Errorf("IsLegacy(%q)", a)
		}
	}
	if _, err := ParseHash("crypt$$$1$abcdefgh$"); !errors.Is(err, ErrMalformedHash) {
		t.Errorf("MD5-crypt inside crypt$$: %v", err)
	}
}
