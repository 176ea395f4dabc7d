package auth

// Traditional DES-based crypt(3), for Django's CryptPasswordHasher ("crypt$$ab01234567890"),
// which called Python's crypt.crypt with a two-character salt. It is written out here because
// Go has no crypt(3) and cgo is not an option; crypto/des cannot be reused, since crypt's salt
// swaps bits of the round function's expansion (E), which crypto/des does not expose. The
// result only ever serves to verify a legacy hash once, after which the hash is upgraded.
//
// Bits are numbered as in FIPS 46-3: bit 1 is the most significant bit of a block.

var desIP = [64]byte{
	58, 50, 42, 34, 26, 18, 10, 2, 60, 52, 44, 36, 28, 20, 12, 4,
	62, 54, 46, 38, 30, 22, 14, 6, 64, 56, 48, 40, 32, 24, 16, 8,
	57, 49, 41, 33, 25, 17, 9, 1, 59, 51, 43, 35, 27, 19, 11, 3,
	61, 53, 45, 37, 29, 21, 13, 5, 63, 55, 47, 39, 31, 23, 15, 7,
}

var desFP = [64]byte{
	40, 8, 48, 16, 56, 24, 64, 32, 39, 7, 47, 15, 55, 23, 63, 31,
	38, 6, 46, 14, 54, 22, 62, 30, 37, 5, 45, 13, 53, 21, 61, 29,
	36, 4, 44, 12, 52, 20, 60, 28, 35, 3, 43, 11, 51, 19, 59, 27,
	34, 2, 42, 10, 50, 18, 58, 26, 33, 1, 41, 9, 49, 17, 57, 25,
}

var desE = [48]byte{
	32, 1, 2, 3, 4, 5, 4, 5, 6, 7, 8, 9,
	8, 9, 10, 11, 12, 13, 12, 13, 14, 15, 16, 17,
	16, 17, 18, 19, 20, 21, 20, 21, 22, 23, 24, 25,
	24, 25, 26, 27, 28, 29, 28, 29, 30, 31, 32, 1,
}

var desP = [32]byte{
	16, 7, 20, 21, 29, 12, 28, 17, 1, 15, 23, 26, 5, 18, 31, 10,
	2, 8, 24, 14, 32, 27, 3, 9, 19, 13, 30, 6, 22, 11, 4, 25,
}

var desPC1 = [56]byte{
	57, 49, 41, 33, 25, 17, 9, 1, 58, 50, 42, 34, 26, 18,
	10, 2, 59, 51, 43, 35, 27, 19, 11, 3, 60, 52, 44, 36,
	63, 55, 47, 39, 31, 23, 15, 7, 62, 54, 46, 38, 30, 22,
	14, 6, 61, 53, 45, 37, 29, 21, 13, 5, 28, 20, 12, 4,
}

var desPC2 = [48]byte{
	14, 17, 11, 24, 1, 5, 3, 28, 15, 6, 21, 10,
	23, 19, 12, 4, 26, 8, 16, 7, 27, 20, 13, 2,
	41, 52, 31, 37, 47, 55, 30, 40, 51, 45, 33, 48,
	44, 49, 39, 56, 34, 53, 46, 42, 50, 36, 29, 32,
}

var desShifts = [16]byte{1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1}

var desS = [8][64]byte{
	{14, 4, 13, 1, 2, 15, 11, 8, 3, 10, 6, 12, 5, 9, 0, 7,
		0, 15, 7, 4, 14, 2, 13, 1, 10, 6, 12, 11, 9, 5, 3, 8,
		4, 1, 14, 8, 13, 6, 2, 11, 15, 12, 9, 7, 3, 10, 5, 0,
		15, 12, 8, 2, 4, 9, 1, 7, 5, 11, 3, 14, 10, 0, 6, 13},
	{15, 1, 8, 14, 6, 11, 3, 4, 9, 7, 2, 13, 12, 0, 5, 10,
		3, 13, 4, 7, 15, 2, 8, 14, 12, 0, 1, 10, 6, 9, 11, 5,
		0, 14, 7, 11, 10, 4, 13, 1, 5, 8, 12, 6, 9, 3, 2, 15,
		13, 8, 10, 1, 3, 15, 4, 2, 11, 6, 7, 12, 0, 5, 14, 9},
	{10, 0, 9, 14, 6, 3, 15, 5, 1, 13, 12, 7, 11, 4, 2, 8,
		13, 7, 0, 9, 3, 4, 6, 10, 2, 8, 5, 14, 12, 11, 15, 1,
		13, 6, 4, 9, 8, 15, 3, 0, 11, 1, 2, 12, 5, 10, 14, 7,
		1, 10, 13, 0, 6, 9, 8, 7, 4, 15, 14, 3, 11, 5, 2, 12},
	{7, 13, 14, 3, 0, 6, 9, 10, 1, 2, 8, 5, 11, 12, 4, 15,
		13, 8, 11, 5, 6, 15, 0, 3, 4, 7, 2, 12, 1, 10, 14, 9,
		10, 6, 9, 0, 12, 11, 7, 13, 15, 1, 3, 14, 5, 2, 8, 4,
		3, 15, 0, 6, 10, 1, 13, 8, 9, 4, 5, 11, 12, 7, 2, 14},
	{2, 12, 4, 1, 7, 10, 11, 6, 8, 5, 3, 15, 13, 0, 14, 9,
		14, 11, 2, 12, 4, 7, 13, 1, 5, 0, 15, 10, 3, 9, 8, 6,
		4, 2, 1, 11, 10, 13, 7, 8, 15, 9, 12, 5, 6, 3, 0, 14,
		11, 8, 12, 7, 1, 14, 2, 13, 6, 15, 0, 9, 10, 4, 5, 3},
	{12, 1, 10, 15, 9, 2, 6, 8, 0, 13, 3, 4, 14, 7, 5, 11,
		10, 15, 4, 2, 7, 12, 9, 5, 6, 1, 13, 14, 0, 11, 3, 8,
		9, 14, 15, 5, 2, 8, 12, 3, 7, 0, 4, 10, 1, 13, 11, 6,
		4, 3, 2, 12, 9, 5, 15, 10, 11, 14, 1, 7, 6, 0, 8, 13},
	{4, 11, 2, 14, 15, 0, 8, 13, 3, 12, 9, 7, 5, 10, 6, 1,
		13, 0, 11, 7, 4, 9, 1, 10, 14, 3, 5, 12, 2, 15, 8, 6,
		1, 4, 11, 13, 12, 3, 7, 14, 10, 15, 6, 8, 0, 5, 9, 2,
		6, 11, 13, 8, 1, 4, 10, 7, 9, 5, 0, 15, 14, 2, 3, 12},
	{13, 2, 8, 4, 6, 15, 11, 1, 10, 9, 3, 14, 5, 0, 12, 7,
		1, 15, 13, 8, 10, 3, 7, 4, 12, 5, 6, 11, 0, 14, 9, 2,
		7, 11, 4, 1, 9, 12, 14, 2, 0, 6, 10, 13, 15, 3, 5, 8,
		2, 1, 14, 7, 4, 10, 8, 13, 15, 12, 9, 0, 3, 5, 6, 11},
}

// permute builds an output of len(table) bits, bit i taken from bit table[i] of an input of
// inBits bits (both numbered from 1 at the most significant end).
func permute(in uint64, inBits int, table []byte) uint64 {
	var out uint64
	for _, b := range table {
		out = out<<1 | (in>>(inBits-int(b)))&1
	}
	return out
}

// desSubkeys is the DES key schedule: sixteen 48-bit round keys.
func desSubkeys(key uint64) (k [16]uint64) {
	cd := permute(key, 64, desPC1[:])
	c, d := cd>>28, cd&0x0fffffff
	for i, s := range desShifts {
		c = (c<<s | c>>(28-s)) & 0x0fffffff
		d = (d<<s | d>>(28-s)) & 0x0fffffff
		k[i] = permute(c<<28|d, 56, desPC2[:])
	}
	return k
}

// desEncrypt encrypts one block; saltMask (48 bits, as E's output) marks the E bits that
// crypt(3)'s salt swaps between the two 24-bit halves (zero for plain DES).
func desEncrypt(k *[16]uint64, block uint64, saltMask uint64) uint64 {
	b := permute(block, 64, desIP[:])
	l, r := b>>32, b&0xffffffff
	for i := 0; i < 16; i++ {
		e := permute(r, 32, desE[:])
		if saltMask != 0 {
			// Swap bit j with bit j+24 wherever the salt says so.
			f := ((e >> 24) ^ e) & (saltMask >> 24)
			e ^= f | f<<24
		}
		e ^= k[i]
		var s uint64
		for j := 0; j < 8; j++ {
			six := (e >> (42 - 6*j)) & 0x3f
			row := (six>>4)&2 | six&1
			col := (six >> 1) & 0xf
			s = s<<4 | uint64(desS[j][row*16+col])
		}
		l, r = r, l^permute(s, 32, desP[:])
	}
	return permute(r<<32|l, 64, desFP[:])
}

// cryptAlphabet is crypt(3)'s base-64 alphabet.
const cryptAlphabet = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func cryptIndex(c byte) int {
	switch {
	case c == '.' || c == '/':
		return int(c - '.')
	case '0' <= c && c <= '9':
		return int(c-'0') + 2
	case 'A' <= c && c <= 'Z':
		return int(c-'A') + 12
	case 'a' <= c && c <= 'z':
		return int(c-'a') + 38
	}
	return -1
}

// desCrypt is crypt(3) with a two-character salt from cryptAlphabet: only the first 8 bytes
// of password count, 7 bits each. It returns the 13-character result (salt included).
func desCrypt(password string, salt string) string {
	var key uint64
	for i := 0; i < 8; i++ {
		var c byte
		if i < len(password) {
			c = password[i]
		}
		key = key<<8 | uint64(c<<1)
	}
	s := uint64(cryptIndex(salt[0])) | uint64(cryptIndex(salt[1]))<<6
	// Salt bit i (least significant first) swaps E bits i and i+24 (numbered from 0 at the
	// most significant end), as in every crypt(3) since Version 7 Unix.
	var mask uint64
	for i := 0; i < 12; i++ {
		if s>>i&1 == 1 {
			mask |= 1 << (47 - i)
		}
	}
	k := desSubkeys(key)
	var block uint64
	for range 25 {
		block = desEncrypt(&k, block, mask)
	}
	out := make([]byte, 13)
	out[0], out[1] = salt[0], salt[1]
	for i := 0; i < 11; i++ {
		// 66 bits: the block and two zero bits, six at a time.
		shift := 58 - 6*i
		var v uint64
		if shift >= 0 {
			v = block >> shift
		} else {
			v = block << -shift
		}
		out[2+i] = cryptAlphabet[v&0x3f]
	}
	return string(out)
}

// validCryptHash reports whether s is a 13-character DES crypt(3) result.
func validCryptHash(s string) bool {
	if len(s) != 13 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if cryptIndex(s[i]) < 0 {
			return false
		}
	}
	return true
}
