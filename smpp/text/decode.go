// Package smstext converts SMS user data between its on-the-wire character
// codings and UTF-8, for an inline SMPP firewall that must read the text of
// every short message on the hot path.
//
// Decoding appends to a caller-supplied buffer and does not allocate when
// that buffer has capacity (MaxDecodedLen gives a bound), never panics on
// hostile input, and always produces valid UTF-8: undecodable units become
// U+FFFD, so rules see where a payload was corrupt instead of losing it.
//
// The package also parses the concatenation information of a user data
// header (ParseUDH) so that long messages can be reassembled before they
// are judged, and provides the encoders a simulator or receipt generator
// needs.
package text

import "unicode/utf8"

const (
	surrHigh = 0xD800 // first high surrogate
	surrLow  = 0xDC00 // first low surrogate
	surrEnd  = 0xE000 // one past the last low surrogate
)

// Decode appends the UTF-8 text of user data ud, coded per the SMPP
// data_coding value dcs, to dst. ud must not include the UDH (see
// ParseUDH). GSM 7-bit data is expected unpacked, one septet per octet, as
// SMPP carries it; use DecodeGSM7Packed for packed TPDU user data.
//
// For Binary and Unknown alphabets (see AlphabetOf) it returns dst
// unchanged and ErrNotText. Malformed text never fails: invalid units
// decode to U+FFFD and the error is nil, with one exception: UCS-2 data of
// odd length is truncated, so it yields the text decoded so far, a U+FFFD
// for the dangling octet, and ErrTruncated. Callers that only need the text
// may ignore ErrTruncated.
//
// Decode does not allocate when dst has capacity for the result.
func Decode(dst []byte, dcs byte, ud []byte) ([]byte, error) {
	switch AlphabetOf(dcs) {
	case GSM7:
		return DecodeGSM7(dst, ud), nil
	case IA5:
		return DecodeIA5(dst, ud), nil
	case Latin1:
		return DecodeLatin1(dst, ud), nil
	case UCS2:
		dst = DecodeUCS2(dst, ud)
		if len(ud)%2 != 0 {
			return dst, ErrTruncated
		}
		return dst, nil
	case Cyrillic:
		return decodeSingleByte(dst, ud, iso8859_5), nil
	case Hebrew:
		return decodeSingleByte(dst, ud, iso8859_8), nil
	}
	return dst, ErrNotText
}

// DecodeUCS2 appends the UTF-8 text of b, read as UTF-16BE, to dst. SMPP
// data_coding 0x08 is nominally UCS-2, but handsets and SMSCs send emoji
// and other astral characters as surrogate pairs, so a high surrogate
// followed by a low one is combined into one rune. A lone surrogate decodes
// as U+FFFD (and the following unit is decoded on its own), as does a
// trailing odd octet. No byte order mark is interpreted: U+FEFF is
// passed through like any other character, since SMPP fixes big-endian.
func DecodeUCS2(dst []byte, b []byte) []byte {
	i := 0
	for ; i+1 < len(b); i += 2 {
		u := rune(b[i])<<8 | rune(b[i+1])
		switch {
		case u < utf8.RuneSelf:
			dst = append(dst, byte(u))
		case u < surrHigh || u >= surrEnd:
			dst = utf8.AppendRune(dst, u)
		case u < surrLow && i+3 < len(b):
			lo := rune(b[i+2])<<8 | rune(b[i+3])
			if lo >= surrLow && lo < surrEnd {
				dst = utf8.AppendRune(dst, 0x10000+(u-surrHigh)<<10+(lo-surrLow))
				i += 2
			} else {
				dst = utf8.AppendRune(dst, utf8.RuneError)
			}
		default: // lone low surrogate, or high surrogate at the end
			dst = utf8.AppendRune(dst, utf8.RuneError)
		}
	}
	if i < len(b) {
		dst = utf8.AppendRune(dst, utf8.RuneError)
	}
	return dst
}

// DecodeLatin1 appends the UTF-8 text of ISO-8859-1 octets b to dst. Every
// octet is a valid character (0x80..0x9F are the C1 controls).
func DecodeLatin1(dst []byte, b []byte) []byte {
	for _, c := range b {
		if c < utf8.RuneSelf {
			dst = append(dst, c)
		} else {
			dst = append(dst, 0xC0|c>>6, 0x80|c&0x3F)
		}
	}
	return dst
}

// DecodeIA5 appends the UTF-8 text of IA5 (US-ASCII) octets b to dst. IA5
// is a 7-bit code, so octets above 0x7F decode as U+FFFD rather than being
// guessed at as Latin-1 or UTF-8.
func DecodeIA5(dst []byte, b []byte) []byte {
	for _, c := range b {
		if c < utf8.RuneSelf {
			dst = append(dst, c)
		} else {
			dst = utf8.AppendRune(dst, utf8.RuneError)
		}
	}
	return dst
}

func decodeSingleByte(dst []byte, b []byte, conv func(byte) rune) []byte {
	for _, c := range b {
		if c < utf8.RuneSelf {
			dst = append(dst, c)
		} else {
			dst = utf8.AppendRune(dst, conv(c))
		}
	}
	return dst
}

// iso8859_5 maps a high ISO-8859-5 (Cyrillic) octet to its rune. The
// Cyrillic block is contiguous apart from three positions.
func iso8859_5(c byte) rune {
	switch {
	case c <= 0xA0: // C1 controls, NBSP
		return rune(c)
	case c == 0xAD: // soft hyphen
		return 0x00AD
	case c == 0xF0: // numero sign
		return 0x2116
	case c == 0xFD: // section sign
		return 0x00A7
	}
	return rune(c) + (0x0401 - 0xA1)
}

// iso8859_8 maps a high ISO-8859-8 (Hebrew) octet to its rune; unassigned
// positions decode as U+FFFD.
func iso8859_8(c byte) rune {
	switch {
	case c <= 0xA0, c >= 0xA2 && c <= 0xA9, c >= 0xAB && c <= 0xB9, c >= 0xBB && c <= 0xBE:
		return rune(c)
	case c == 0xAA: // multiplication sign
		return 0x00D7
	case c == 0xBA: // division sign
		return 0x00F7
	case c == 0xDF: // double low line
		return 0x2017
	case c >= 0xE0 && c <= 0xFA: // alef..tav
		return rune(c) + (0x05D0 - 0xE0)
	case c == 0xFD: // left-to-right mark
		return 0x200E
	case c == 0xFE: // right-to-left mark
		return 0x200F
	}
	return utf8.RuneError
}
