package text

import (
	"encoding/binary"
	"slices"
	"unicode/utf8"
)

// esc is the GSM 03.38 escape to the extension table.
const esc = 0x1B

// gsmDefault is the GSM 7-bit default alphabet of 3GPP TS 23.038 clause
// 6.2.1, indexed by septet. 0x1B is the escape code; it holds the space a
// receiver displays when it cannot interpret the escape.
var gsmDefault = [128]rune{
	'@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å',
	'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', ' ', 'Æ', 'æ', 'ß', 'É',
	' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/',
	'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?',
	'¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
	'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§',
	'¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
	'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à',
}

// gsmExt is the basic extension table (23.038 clause 6.2.1.1), reached by
// the septet pair 0x1B, code. Zero marks codes without an extension
// character. 0x0D (CR2) and 0x1B (SS2) are reserved and left zero.
var gsmExt = [128]rune{
	0x0A: '\f', // page break
	0x14: '^',
	0x28: '{',
	0x29: '}',
	0x2F: '\\',
	0x3C: '[',
	0x3D: '~',
	0x3E: ']',
	0x40: '|',
	0x65: '€',
}

// Decoding tables indexed by the full octet so that unpacked input needs no
// separate range check: octets above 0x7F map to U+FFFD.
var (
	decBase [256]rune // septet not preceded by ESC
	decExt  [256]rune // septet preceded by ESC
	// decASCII is decBase[c] when that is an ASCII byte and c is not ESC,
	// else 0 (no septet decodes to NUL).
	decASCII [256]byte
)

// Encoding tables. An entry is encSingle|septet, encEscape|code, or 0 when the
// rune is not representable. Every GSM character is below U+0100 except ten
// Greek capitals in U+0393..U+03A9 and '€', so two small arrays and one
// special case replace a map and keep lookups allocation- and hash-free.
const (
	encSingle = 0x100
	encEscape = 0x200

	greekLo = 0x393 // Γ
	greekHi = 0x3A9 // Ω
)

var (
	encLatin [256]uint16
	encGreek [greekHi - greekLo + 1]uint16
)

func init() {
	for c := range 256 {
		decBase[c], decExt[c] = utf8.RuneError, utf8.RuneError
		if c >= 128 {
			continue
		}
		decBase[c] = gsmDefault[c]
		if c != esc && gsmDefault[c] < utf8.RuneSelf {
			decASCII[c] = byte(gsmDefault[c])
		}
		switch {
		case gsmExt[c] != 0:
			decExt[c] = gsmExt[c]
		case c == esc:
			// 23.038: ESC in the extension table escapes to a further
			// table not yet defined; the receiver displays a space.
			decExt[c] = ' '
		default:
			// 23.038: a code with no extension character is displayed as
			// the default-alphabet character of the same code.
			decExt[c] = gsmDefault[c]
		}
	}
	for c, r := range gsmDefault {
		if c != esc {
			setEnc(r, uint16(encSingle|c))
		}
	}
	for c, r := range gsmExt {
		if r != 0 {
			setEnc(r, uint16(encEscape|c))
		}
	}
}

func setEnc(r rune, code uint16) {
	switch {
	case r < 0x100:
		encLatin[r] = code
	case r >= greekLo && r <= greekHi:
		encGreek[r-greekLo] = code
	case r == '€':
		// handled in gsmCode
	default:
		panic("smstext: GSM table rune outside lookup ranges")
	}
}

// gsmCode returns the encoding table entry for r (0 if not representable).
func gsmCode(r rune) uint16 {
	switch {
	case uint32(r) < 0x100:
		return encLatin[r]
	case r >= greekLo && r <= greekHi:
		return encGreek[r-greekLo]
	case r == '€':
		return encEscape | 0x65
	}
	return 0
}

func appendRune(dst []byte, r rune) []byte {
	if r < utf8.RuneSelf {
		return append(dst, byte(r))
	}
	return utf8.AppendRune(dst, r)
}

// DecodeGSM7 appends to dst the UTF-8 text of GSM 03.38 septets in unpacked
// form, one septet per octet, as SMPP carries data_coding 0x00. It never
// fails; malformed input is rendered the way a handset would show it,
// because the firewall must judge what the recipient will read:
//
//   - 0x1B x decodes to the extension character x. If x has none, the
//     default-alphabet character for x is produced (23.038 clause 6.2.1.1),
//     except 0x1B 0x1B (escape to an undefined further table), which is a
//     space.
//   - A trailing lone 0x1B decodes as a space (U+0020), as 23.038 asks of a
//     receiver that cannot interpret the escape. (Unicode's GSM0338 mapping
//     uses NBSP instead; a plain space is what filters expect.)
//   - An octet above 0x7F is not a septet and decodes as U+FFFD rather than
//     being masked to 7 bits: masking would invent a plausible character
//     out of a corrupt or mislabelled payload.
//
// 0x09 decodes as 'Ç' (U+00C7) per the 23.038 table.
//
// It does not allocate when dst has capacity for the result; see
// MaxDecodedLen.
func DecodeGSM7(dst []byte, septets []byte) []byte {
	dst, escaped := decodeSeptets(dst, septets, false)
	if escaped {
		dst = append(dst, ' ')
	}
	return dst
}

// decodeSeptets decodes unpacked septets; escaped says whether the septet
// before them was an unconsumed ESC, and the result whether the last one
// is. When dst has room for the worst case (3 bytes per septet) it writes
// by index, which is about 40% faster than appending byte by byte.
func decodeSeptets(dst []byte, septets []byte, escaped bool) ([]byte, bool) {
	n := len(dst)
	if cap(dst)-n < 3*len(septets) {
		for _, c := range septets {
			switch {
			case escaped:
				dst = appendRune(dst, decExt[c])
				escaped = false
			case c == esc:
				escaped = true
			default:
				dst = appendRune(dst, decBase[c])
			}
		}
		return dst, escaped
	}
	out := dst[n : n+3*len(septets)]
	i := 0
	for k := 0; k < len(septets); k++ {
		if !escaped {
			// Runs of septets that decode to one ASCII byte (letters,
			// digits, space, most punctuation: the bulk of a text) go
			// through a byte table, eight at a time while no byte of
			// the eight is 0 (not ASCII), then one at a time.
			for ; k+8 <= len(septets); k += 8 {
				s := septets[k : k+8 : k+8]
				w := uint64(decASCII[s[0]]) | uint64(decASCII[s[1]])<<8 | uint64(decASCII[s[2]])<<16 |
					uint64(decASCII[s[3]])<<24 | uint64(decASCII[s[4]])<<32 | uint64(decASCII[s[5]])<<40 |
					uint64(decASCII[s[6]])<<48 | uint64(decASCII[s[7]])<<56
				if (w-0x0101010101010101)&^w&0x8080808080808080 != 0 {
					break
				}
				binary.LittleEndian.PutUint64(out[i:], w)
				i += 8
			}
			if k == len(septets) {
				return dst[:n+i], false
			}
		}
		c := septets[k]
		if !escaped {
			for b := decASCII[c]; b != 0; b = decASCII[c] {
				out[i] = b
				i++
				if k++; k == len(septets) {
					return dst[:n+i], false
				}
				c = septets[k]
			}
		}
		var r rune
		switch {
		case escaped:
			r = decExt[c]
			escaped = false
		case c == esc:
			escaped = true
			continue
		default:
			r = decBase[c]
		}
		if r < utf8.RuneSelf {
			out[i] = byte(r)
			i++
		} else {
			i += utf8.EncodeRune(out[i:], r)
		}
	}
	return dst[:n+i], escaped
}

// DecodeGSM7Packed appends to dst the UTF-8 text of nSeptets septets packed
// seven bits each, least significant bit first (23.038 clause 6.1.2.1), as
// they appear in a TPDU or in SMPP payloads from SMSCs that pass packed data
// through. fillBits (0..6) is the number of padding bits that precede the
// first septet when a UDH comes first; use FillBits(udhLen) and pass the
// octets after the UDH.
//
// A negative nSeptets decodes every complete septet in packed. Since the
// octet count alone cannot tell 7 zero padding bits from a final '@',
// that mode may yield a trailing '@'; pass the real septet count (UDL minus
// the UDH septets) when it is known.
//
// If packed holds fewer than nSeptets septets, the septets present are
// decoded and ErrTruncated is returned. A fillBits outside 0..6 returns dst
// unchanged and ErrFillBits. Escape handling is that of DecodeGSM7.
func DecodeGSM7Packed(dst []byte, packed []byte, fillBits int, nSeptets int) ([]byte, error) {
	n, err := packedCount(packed, fillBits, nSeptets)
	if err == ErrFillBits {
		return dst, err
	}
	// Unpack in stack-sized chunks and decode each, carrying the escape
	// state across chunk boundaries.
	var chunk [128]byte
	escaped := false
	for done := 0; done < n; {
		k := min(n-done, len(chunk))
		unpack(chunk[:k], packed, fillBits+7*done)
		dst, escaped = decodeSeptets(dst, chunk[:k], escaped)
		done += k
	}
	if escaped {
		dst = append(dst, ' ')
	}
	return dst, err
}

// unpack fills out with the septets starting at bit offset bit of packed,
// which must hold them all.
func unpack(out []byte, packed []byte, bit int) {
	if len(out) == 0 {
		return
	}
	p := bit >> 3
	acc, nb := uint(packed[p])>>(bit&7), 8-(bit&7)
	p++
	for j := range out {
		if nb < 7 {
			acc |= uint(packed[p]) << nb
			p++
			nb += 8
		}
		out[j] = byte(acc & 0x7F)
		acc >>= 7
		nb -= 7
	}
}

// UnpackGSM7 appends the nSeptets septets packed in packed to dst, one per
// octet, so that packed user data can be handed to code that expects the
// SMPP (unpacked) form. Arguments and errors are as for DecodeGSM7Packed.
func UnpackGSM7(dst []byte, packed []byte, fillBits int, nSeptets int) ([]byte, error) {
	n, err := packedCount(packed, fillBits, nSeptets)
	if err == ErrFillBits {
		return dst, err
	}
	dst = slices.Grow(dst, n)
	unpack(dst[len(dst):len(dst)+n], packed, fillBits)
	return dst[:len(dst)+n], err
}

// packedCount validates fillBits and returns how many septets to decode.
func packedCount(packed []byte, fillBits, nSeptets int) (int, error) {
	if fillBits < 0 || fillBits > 6 {
		return 0, ErrFillBits
	}
	avail := 0
	if bits := len(packed) * 8; bits > fillBits {
		avail = (bits - fillBits) / 7
	}
	switch {
	case nSeptets < 0:
		return avail, nil
	case nSeptets > avail:
		return avail, ErrTruncated
	}
	return nSeptets, nil
}

// EncodeGSM7 appends the unpacked GSM 03.38 septets of s to dst, one per
// octet, using the 0x1B escape for extension-table characters. The mapping
// is exact: no transliteration (for example 'ç' is not folded to 'Ç' at
// 0x09), so Decode(EncodeGSM7(s)) == s whenever it succeeds.
//
// If s holds a rune outside the default alphabet and basic extension table
// (including invalid UTF-8), EncodeGSM7 returns dst unchanged and an
// *EncodeError wrapping ErrNotGSM7 that names the rune and its offset.
// It does not allocate when dst has capacity for the result; see SeptetLen.
func EncodeGSM7(dst []byte, s string) ([]byte, error) {
	n0 := len(dst)
	for i, r := range s {
		code := gsmCode(r)
		switch {
		case code&encSingle != 0:
			dst = append(dst, byte(code))
		case code&encEscape != 0:
			dst = append(dst, esc, byte(code))
		default:
			return dst[:n0], &EncodeError{Alphabet: GSM7, Rune: r, Offset: i}
		}
	}
	return dst, nil
}

// CanGSM7 reports whether every rune of s is representable in the GSM 7-bit
// default alphabet or its basic extension table, that is whether EncodeGSM7
// would succeed. Senders use it to choose between data_coding 0x00 and 0x08.
func CanGSM7(s string) bool {
	for _, r := range s {
		if gsmCode(r) == 0 {
			return false
		}
	}
	return true
}

// SeptetLen returns the number of septets EncodeGSM7 would produce for s
// (extension characters count two), which is what the 160/153-septet
// segment limits apply to, and whether s is representable at all.
func SeptetLen(s string) (n int, ok bool) {
	for _, r := range s {
		code := gsmCode(r)
		switch {
		case code&encSingle != 0:
			n++
		case code&encEscape != 0:
			n += 2
		default:
			return n, false
		}
	}
	return n, true
}
