package text

import "strconv"

// Alphabet is the character repertoire a data_coding value selects. The
// firewall needs it to decide whether a short message can be rendered as
// text for content rules at all, and how.
type Alphabet uint8

// Alphabets. The zero value is Unknown so that an uninitialised Alphabet
// never claims to be text.
const (
	Unknown  Alphabet = iota // national set this package does not decode (JIS, Kanji, KS C 5601, ...)
	GSM7                     // GSM 03.38 default alphabet (unpacked septets in SMPP)
	IA5                      // IA5 / US-ASCII, 7-bit
	Latin1                   // ISO-8859-1
	Binary                   // 8-bit data, not text
	UCS2                     // UCS-2, decoded as UTF-16BE
	Cyrillic                 // ISO-8859-5 (SMPP data_coding 0x06)
	Hebrew                   // ISO-8859-8 (SMPP data_coding 0x07)
)

var alphabetNames = [...]string{
	Unknown:  "Unknown",
	GSM7:     "GSM7",
	IA5:      "IA5",
	Latin1:   "Latin1",
	Binary:   "Binary",
	UCS2:     "UCS2",
	Cyrillic: "Cyrillic",
	Hebrew:   "Hebrew",
}

// String returns a short stable name, suitable for logs and metric labels.
func (a Alphabet) String() string {
	if int(a) < len(alphabetNames) {
		return alphabetNames[a]
	}
	return "Alphabet(" + strconv.Itoa(int(a)) + ")"
}

// IsText reports whether Decode can render user data of this alphabet.
func (a Alphabet) IsText() bool {
	return a != Unknown && a != Binary && int(a) < len(alphabetNames)
}

// smppAlphabet maps the SMPP-specific data_coding values 0x00..0x0F, which
// override the 3GPP TS 23.038 general data coding group in that range.
var smppAlphabet = [16]Alphabet{
	0x00: GSM7,     // SMSC default alphabet; we assume GSM 03.38
	0x01: IA5,      // IA5 (CCITT T.50) / ASCII (ANSI X3.4)
	0x02: Binary,   // octet unspecified (8-bit binary)
	0x03: Latin1,   // ISO-8859-1
	0x04: Binary,   // octet unspecified (8-bit binary)
	0x05: Unknown,  // JIS (X 0208-1990)
	0x06: Cyrillic, // ISO-8859-5
	0x07: Hebrew,   // Latin/Hebrew ISO-8859-8
	0x08: UCS2,     // UCS2 (ISO/IEC-10646)
	0x09: Unknown,  // pictogram encoding
	0x0A: Unknown,  // ISO-2022-JP (music codes)
	0x0B: GSM7,     // reserved: read as the default alphabet (see AlphabetOf)
	0x0C: GSM7,     // reserved
	0x0D: Unknown,  // extended Kanji JIS (X 0212-1990)
	0x0E: Unknown,  // KS C 5601
	0x0F: GSM7,     // reserved
}

// AlphabetOf classifies an SMPP data_coding octet, which for values from
// 0x10 up is a 3GPP TS 23.038 Data Coding Scheme, the way a handset reads
// it. TS 23.038 clause 4: "Any reserved codings shall be assumed to be the
// GSM 7 bit default alphabet (the same as codepoint 00000000) by a
// receiving entity", so every reserved value is GSM7, not Unknown: a
// firewall that skipped them would let through text the handset shows.
//
//	0x00-0x0F  SMPP table (see smppAlphabet); 0x0B, 0x0C and 0x0F are
//	           reserved (GSM7); JIS, pictogram, ISO-2022-JP, Kanji and
//	           KS C 5601 are national sets this package does not decode
//	           (Unknown)
//	0x10-0x7F  general data coding (00xxxxxx) and automatic deletion
//	           (01xxxxxx) groups: bits 3..2 give 00 GSM7, 01 Binary,
//	           10 UCS2, 11 reserved (GSM7). Bit 5 (compressed, TS 23.042)
//	           is ignored: no SMSC or handset in use implements that
//	           compression, so the octets are read as the alphabet the
//	           bits name and the bit cannot hide text from inspection
//	0x80-0xBF  reserved coding groups: GSM7
//	0xC0-0xDF  message waiting indication, discard/store: GSM7
//	0xE0-0xEF  message waiting indication, store: UCS2
//	0xF0-0xFF  data coding/message class: bit 2 clear GSM7, set Binary
//	           (bit 3 is reserved and ignored)
//
// Message class, waiting-indication and auto-deletion bits are ignored:
// they do not change how the text reads. Relaying never depends on this:
// the bytes go on as they came.
func AlphabetOf(dcs byte) Alphabet {
	switch {
	case dcs < 0x10:
		return smppAlphabet[dcs]
	case dcs < 0x80:
		switch (dcs >> 2) & 3 {
		case 1:
			return Binary
		case 2:
			return UCS2
		}
		return GSM7 // 00, and 11 (reserved)
	case dcs < 0xC0:
		return GSM7 // reserved coding groups
	case dcs < 0xE0:
		return GSM7
	case dcs < 0xF0:
		return UCS2
	case dcs&0x04 != 0:
		return Binary
	default:
		return GSM7
	}
}

// Reserved reports whether dcs is a reserved data_coding value (SMPP 0x0B,
// 0x0C, 0x0F; TS 23.038 character set 11 and coding groups 1000..1011),
// which AlphabetOf reads as GSM7.
func Reserved(dcs byte) bool {
	switch {
	case dcs < 0x10:
		return dcs == 0x0B || dcs == 0x0C || dcs == 0x0F
	case dcs < 0x80:
		return (dcs>>2)&3 == 3
	}
	return dcs < 0xC0
}

// MaxDecodedLen returns an upper bound on the number of UTF-8 bytes Decode
// appends for n octets of user data coded per dcs, so that callers can size
// pooled buffers once and keep decoding allocation-free. It is 0 for
// alphabets that are not text. For DecodeGSM7Packed the bound is
// 3*nSeptets.
func MaxDecodedLen(dcs byte, n int) int {
	if n <= 0 {
		return 0
	}
	switch AlphabetOf(dcs) {
	case GSM7, IA5, Cyrillic, Hebrew:
		// Widest outputs: '€' (1 escaped septet pair), U+FFFD, U+2116: 3 bytes.
		return 3 * n
	case Latin1:
		return 2 * n
	case UCS2:
		// A BMP unit is at most 3 bytes; a surrogate pair is 4 bytes from 4
		// octets; a trailing odd octet becomes U+FFFD.
		return 3 * ((n + 1) / 2)
	}
	return 0
}
