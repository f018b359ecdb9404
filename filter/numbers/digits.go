package numbers

import (
	"encoding/binary"
	"strconv"
)

// DigitValue is strconv.ParseUint(s, 10, 64) without the error value: s of
// decimal digits only, below 2^64. 8 to 16 digits (nearly every phone
// number) are read as two overlapping 8-byte words, without a loop.
func DigitValue(s string) (uint64, bool) {
	const zeros = 0x3030303030303030 // "00000000"
	switch {
	case len(s) == 8:
		return eightDigits(load8(s))
	case len(s) > 8 && len(s) <= 16:
		// The head's k digits, shifted to the word's last k bytes behind
		// '0's, and the last eight digits.
		k := uint(len(s) - 8)
		hi, ok := eightDigits(load8(s)<<(8*(8-k)) | zeros>>(8*k))
		lo, ok2 := eightDigits(load8(s[len(s)-8:]))
		return hi*100_000_000 + lo, ok && ok2
	case s == "" || len(s) > 19: // 19 digits never overflow
		n, err := strconv.ParseUint(s, 10, 64)
		return n, err == nil
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i] - '0'
		if c > 9 {
			return 0, false
		}
		n = n*10 + uint64(c)
	}
	return n, true
}

// load8 is s's first eight bytes, little-endian (s[0] in the low byte).
func load8(s string) uint64 {
	_ = s[7] // one bounds check; the compiler merges the loads into one
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

const ones = 0x0101010101010101

// isEightDigits reports whether the eight bytes of x are all '0'-'9'.
func isEightDigits(x uint64) bool {
	// Every byte's high nibble is 3, and adding 6 keeps it 3: '0'..'9'.
	return x&(0xF0*ones) == 0x30*ones && (x+0x06*ones)&(0xF0*ones) == 0x30*ones
}

// eightDigits reads eight ASCII digits loaded little-endian (the first
// digit in the low byte) as their decimal value, false if any byte is not
// '0'-'9' (SWAR: no loop, three multiplications).
func eightDigits(x uint64) (uint64, bool) {
	if !isEightDigits(x) {
		return 0, false
	}
	return eightValue(x), true
}

// eightValue is eightDigits for eight bytes known to be digits.
func eightValue(x uint64) uint64 {
	x -= 0x30 * ones
	x = (x*10 + x>>8) & 0x00FF00FF00FF00FF   // pairs of digits, 0..99 each
	x = (x*100 + x>>16) & 0x0000FFFF0000FFFF // groups of four, 0..9999 each
	return (x*10000 + x>>32) & 0xFFFFFFFF    // all eight
}

// digitsValue is DigitValue for s known to be 1..19 digits (normalize
// checked them).
func digitsValue(s string) uint64 {
	if len(s) >= 8 && len(s) <= 16 {
		const zeros = 0x3030303030303030
		k := uint(len(s) - 8)
		return eightValue(load8(s)<<(8*(8-k))|zeros>>(8*k))*100_000_000 + eightValue(load8(s[len(s)-8:]))
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		n = n*10 + uint64(s[i]-'0')
	}
	return n
}

// allDigits reports whether every byte of b is '0'-'9': 8 to 16 bytes
// (phone numbers) as two overlapping words, more a word at a time.
func allDigits(b []byte) bool {
	n := len(b)
	switch {
	case n >= 8 && n <= 16:
		return isEightDigits(binary.LittleEndian.Uint64(b)) && isEightDigits(binary.LittleEndian.Uint64(b[n-8:]))
	case n > 16:
		for i := 0; i < n-8; i += 8 {
			if !isEightDigits(binary.LittleEndian.Uint64(b[i:])) {
				return false
			}
		}
		return isEightDigits(binary.LittleEndian.Uint64(b[n-8:]))
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
