package text

// EncodeUCS2 appends s as UTF-16BE to dst, the form SMPP data_coding 0x08
// carries in practice: runes above U+FFFF become surrogate pairs. Invalid
// UTF-8 in s is encoded as U+FFFD, one per invalid byte.
func EncodeUCS2(dst []byte, s string) []byte {
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			hi, lo := surrHigh+(r>>10), surrLow+(r&0x3FF)
			dst = append(dst, byte(hi>>8), byte(hi), byte(lo>>8), byte(lo))
		} else {
			dst = append(dst, byte(r>>8), byte(r))
		}
	}
	return dst
}

// EncodeLatin1 appends s as ISO-8859-1 to dst. If s holds a rune above
// U+00FF (or invalid UTF-8) it returns dst unchanged and an *EncodeError
// wrapping ErrNotLatin1.
func EncodeLatin1(dst []byte, s string) ([]byte, error) {
	n0 := len(dst)
	for i, r := range s {
		if r > 0xFF { // includes U+FFFD from invalid UTF-8
			return dst[:n0], &EncodeError{Alphabet: Latin1, Rune: r, Offset: i}
		}
		dst = append(dst, byte(r))
	}
	return dst, nil
}
