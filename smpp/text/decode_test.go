package text

import (
	"bytes"
	"errors"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

func TestAlphabetOf(t *testing.T) {
	// Expected classification of every octet, as ranges.
	ranges := []struct {
		lo, hi byte
		want   Alphabet
	}{
		{0x00, 0x00, GSM7}, {0x01, 0x01, IA5}, {0x02, 0x02, Binary}, {0x03, 0x03, Latin1},
		{0x04, 0x04, Binary}, {0x05, 0x05, Unknown}, {0x06, 0x06, Cyrillic}, {0x07, 0x07, Hebrew},
		{0x08, 0x08, UCS2}, {0x09, 0x0A, Unknown},
		{0x0B, 0x0C, GSM7}, // reserved (SMPP): TS 23.038 reads reserved codings as GSM 7-bit
		{0x0D, 0x0E, Unknown}, {0x0F, 0x0F, GSM7},
		// general data coding group with message class; 11 is reserved: GSM7
		{0x10, 0x13, GSM7}, {0x14, 0x17, Binary}, {0x18, 0x1B, UCS2}, {0x1C, 0x1F, GSM7},
		// compressed (bit 5): read as the alphabet bits 3..2 name
		{0x20, 0x23, GSM7}, {0x24, 0x27, Binary}, {0x28, 0x2B, UCS2}, {0x2C, 0x33, GSM7},
		{0x34, 0x37, Binary}, {0x38, 0x3B, UCS2}, {0x3C, 0x3F, GSM7},
		// automatic deletion group
		{0x40, 0x43, GSM7}, {0x44, 0x47, Binary}, {0x48, 0x4B, UCS2}, {0x4C, 0x53, GSM7},
		{0x54, 0x57, Binary}, {0x58, 0x5B, UCS2}, {0x5C, 0x63, GSM7},
		{0x64, 0x67, Binary}, {0x68, 0x6B, UCS2}, {0x6C, 0x73, GSM7},
		{0x74, 0x77, Binary}, {0x78, 0x7B, UCS2}, {0x7C, 0x7F, GSM7},
		{0x80, 0xBF, GSM7},                     // reserved groups
		{0xC0, 0xDF, GSM7}, {0xE0, 0xEF, UCS2}, // message waiting
		{0xF0, 0xF3, GSM7}, {0xF4, 0xF7, Binary}, {0xF8, 0xFB, GSM7}, {0xFC, 0xFF, Binary},
	}
	next := 0
	for _, r := range ranges {
		if int(r.lo) != next {
			t.Fatalf("ranges not contiguous at 0x%02X", next)
		}
		for d := int(r.lo); d <= int(r.hi); d++ {
			if got := AlphabetOf(byte(d)); got != r.want {
				t.Errorf("AlphabetOf(0x%02X) = %v, want %v", d, got, r.want)
			}
		}
		next = int(r.hi) + 1
	}
	if next != 256 {
		t.Fatalf("ranges end at 0x%02X", next)
	}
}

func TestAlphabetString(t *testing.T) {
	for a, want := range map[Alphabet]string{
		Unknown: "Unknown", GSM7: "GSM7", IA5: "IA5", Latin1: "Latin1", Binary: "Binary",
		UCS2: "UCS2", Cyrillic: "Cyrillic", Hebrew: "Hebrew", Alphabet(200): "Alphabet(200)",
	} {
		if got := a.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", a, got, want)
		}
		text := a != Unknown && a != Binary && a != Alphabet(200)
		if a.IsText() != text {
			t.Errorf("%v.IsText() = %v", a, !text)
		}
	}
}

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name string
		dcs  byte
		ud   []byte
		want string
		err  error
	}{
		{"gsm7 default", 0x00, []byte{0x48, 0x69, 0x00, 0x1B, 0x65}, "Hi@€", nil},
		{"gsm7 class 1", 0xF1, []byte{0x48, 0x69}, "Hi", nil},
		{"gsm7 general group", 0x11, []byte{0x02}, "$", nil},
		{"gsm7 mwi", 0xC8, []byte{0x5B}, "Ä", nil},
		{"ia5", 0x01, []byte("plain {ascii}~"), "plain {ascii}~", nil},
		{"ia5 high", 0x01, []byte{'a', 0xE9}, "a\uFFFD", nil},
		{"latin1", 0x03, []byte{'c', 'a', 'f', 0xE9, ' ', 0xA3, 0xFF}, "café £ÿ", nil},
		{"ucs2", 0x08, []byte{0x04, 0x1F, 0x04, 0x40, 0x20, 0xAC}, "Пр€", nil},
		{"ucs2 emoji", 0x08, []byte{0xD8, 0x3D, 0xDE, 0x00}, "😀", nil},
		{"ucs2 odd", 0x08, []byte{0x00, 0x41, 0x00}, "A\uFFFD", ErrTruncated},
		{"ucs2 mwi", 0xE0, []byte{0x00, 0x41}, "A", nil},
		{"ucs2 general", 0x18, []byte{0x00, 0x41}, "A", nil},
		{"cyrillic", 0x06, []byte{0xBF, 0xE0, 0xD8, 0xD2, 0xD5, 0xE2, ' ', 0xF0}, "Привет №", nil},
		{"hebrew", 0x07, []byte{0xF9, 0xEC, 0xE5, 0xED, 0xA1}, "שלום\uFFFD", nil},
		{"binary 02", 0x02, []byte{0x00, 0x41}, "", ErrNotText},
		{"binary 04", 0x04, []byte{0x00, 0x41}, "", ErrNotText},
		{"binary F4", 0xF4, []byte{0x00, 0x41}, "", ErrNotText},
		{"jis", 0x05, []byte{0x30, 0x22}, "", ErrNotText},
		{"ksc5601", 0x0E, []byte{0xB0, 0xA1}, "", ErrNotText},
		{"compressed gsm7", 0x30, []byte("JACKPOT"), "JACKPOT", nil},
		{"compressed ucs2", 0x28, []byte{0x00, 0x41}, "A", nil},
		{"compressed binary", 0x24, []byte{0x01}, "", ErrNotText},
		{"reserved smpp 0b", 0x0B, []byte("JACKPOT"), "JACKPOT", nil},
		{"reserved smpp 0c", 0x0C, []byte{0x48, 0x1B, 0x65}, "H€", nil},
		{"reserved smpp 0f", 0x0F, []byte("win"), "win", nil},
		{"reserved charset 1c", 0x1C, []byte("win"), "win", nil},
		{"reserved group 80", 0x80, []byte{0x01}, "£", nil},
		{"reserved group bf", 0xBF, []byte("prize"), "prize", nil},
		{"empty gsm7", 0x00, nil, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode([]byte("x"), tc.dcs, tc.ud)
			if !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
				t.Errorf("err = %v, want %v", err, tc.err)
			}
			if string(got) != "x"+tc.want {
				t.Errorf("got %q, want %q", got, "x"+tc.want)
			}
			if n := MaxDecodedLen(tc.dcs, len(tc.ud)); len(got)-1 > n {
				t.Errorf("output %d bytes exceeds MaxDecodedLen %d", len(got)-1, n)
			}
		})
	}
}

func TestDecodeUCS2(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, ""},
		{"ascii", []byte{0x00, 0x48, 0x00, 0x69}, "Hi"},
		{"nul", []byte{0x00, 0x00}, "\x00"},
		{"bmp", []byte{0x00, 0xE9, 0x03, 0xA9, 0x4E, 0x2D, 0x20, 0xAC, 0xFF, 0xFD}, "éΩ中€\uFFFD"},
		{"emoji", []byte{0xD8, 0x3D, 0xDE, 0x00}, "\U0001F600"},
		{"emoji pair", []byte{0xD8, 0x3D, 0xDE, 0x00, 0xD8, 0x3C, 0xDF, 0x89}, "😀🎉"},
		{"max astral", []byte{0xDB, 0xFF, 0xDF, 0xFF}, "\U0010FFFF"},
		{"min astral", []byte{0xD8, 0x00, 0xDC, 0x00}, "\U00010000"},
		{"lone high at end", []byte{0x00, 0x41, 0xD8, 0x3D}, "A\uFFFD"},
		{"lone high then bmp", []byte{0xD8, 0x3D, 0x00, 0x41}, "\uFFFDA"},
		{"high high low", []byte{0xD8, 0x3D, 0xD8, 0x3D, 0xDE, 0x00}, "\uFFFD😀"},
		{"lone low", []byte{0xDE, 0x00, 0x00, 0x41}, "\uFFFDA"},
		{"reversed pair", []byte{0xDE, 0x00, 0xD8, 0x3D}, "\uFFFD\uFFFD"},
		{"odd", []byte{0x00, 0x41, 0x42}, "A\uFFFD"},
		{"single octet", []byte{0x41}, "\uFFFD"},
		{"high then odd", []byte{0xD8, 0x3D, 0xDE}, "\uFFFD\uFFFD"},
		{"bom kept", []byte{0xFE, 0xFF, 0x00, 0x41}, "\uFEFFA"},
		{"noncharacter", []byte{0xFF, 0xFF}, "\uFFFF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := DecodeUCS2(nil, tc.in)
			if string(got) != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if !utf8.Valid(got) {
				t.Errorf("invalid UTF-8 %q", got)
			}
		})
	}
}

// utf16BE is a reference encoder built on unicode/utf16.
func utf16BE(s string) []byte {
	var out []byte
	for _, u := range utf16.Encode([]rune(s)) {
		out = append(out, byte(u>>8), byte(u))
	}
	return out
}

func TestEncodeUCS2(t *testing.T) {
	for _, s := range []string{"", "Hi", "Привет, мир", "中文短信", "€100", "😀 emoji 🎉", "\U00010000\U0010FFFF", "\x00", "bad\xffutf8", allGSM()} {
		got := EncodeUCS2([]byte{0xAA}, s)
		if want := utf16BE(s); !bytes.Equal(got[1:], want) {
			t.Errorf("EncodeUCS2(%q) = % X, want % X", s, got[1:], want)
		}
		if back := DecodeUCS2(nil, got[1:]); string(back) != string([]rune(s)) {
			t.Errorf("round trip %q -> %q", s, back)
		}
	}
	if got := EncodeUCS2(nil, "😀"); !bytes.Equal(got, []byte{0xD8, 0x3D, 0xDE, 0x00}) {
		t.Errorf("U+1F600 = % X", got)
	}
}

func TestLatin1(t *testing.T) {
	for b := range 256 {
		got := DecodeLatin1(nil, []byte{byte(b)})
		if string(got) != string(rune(b)) {
			t.Errorf("DecodeLatin1(0x%02X) = %q", b, got)
		}
		enc, err := EncodeLatin1(nil, string(got))
		if err != nil || !bytes.Equal(enc, []byte{byte(b)}) {
			t.Errorf("EncodeLatin1(%q) = % X, %v", got, enc, err)
		}
	}
	upper := "ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖ×ØÙÚÛÜÝÞßàáâãäåæçèéêëìíîïðñòóôõö÷øùúûüýþÿ"
	enc, err := EncodeLatin1(nil, upper)
	if err != nil || len(enc) != 64 || enc[0] != 0xC0 || enc[63] != 0xFF {
		t.Fatalf("EncodeLatin1 upper range: % X, %v", enc, err)
	}
	if back := DecodeLatin1(nil, enc); string(back) != upper {
		t.Fatalf("round trip %q", back)
	}
	for _, tc := range []struct {
		in  string
		r   rune
		off int
	}{{"price €5", '€', 6}, {"Ā", 'Ā', 0}, {"ok\xff", utf8.RuneError, 2}} {
		got, err := EncodeLatin1([]byte("x"), tc.in)
		var ee *EncodeError
		if !errors.Is(err, ErrNotLatin1) || !errors.As(err, &ee) || ee.Rune != tc.r || ee.Offset != tc.off || ee.Alphabet != Latin1 || string(got) != "x" {
			t.Errorf("EncodeLatin1(%q) = %q, %v", tc.in, got, err)
		}
	}
}

func TestIA5(t *testing.T) {
	for b := range 256 {
		got := DecodeIA5(nil, []byte{byte(b)})
		want := string(rune(b))
		if b >= 0x80 {
			want = "\uFFFD"
		}
		if string(got) != want {
			t.Errorf("DecodeIA5(0x%02X) = %q, want %q", b, got, want)
		}
	}
}

// TestSingleByteCharsets checks the hand-written ISO-8859-5/-8 mappings
// against golang.org/x/text for every octet. x/text decodes 0x80..0x9F as
// U+FFFD; we follow the Unicode mapping tables (8859-5.TXT, 8859-8.TXT) and
// Latin-1, which map them to the C1 controls U+0080..U+009F.
func TestSingleByteCharsets(t *testing.T) {
	for _, tc := range []struct {
		dcs byte
		cm  *charmap.Charmap
	}{{0x06, charmap.ISO8859_5}, {0x07, charmap.ISO8859_8}} {
		for b := range 256 {
			got, err := Decode(nil, tc.dcs, []byte{byte(b)})
			want := string(tc.cm.DecodeByte(byte(b)))
			if b >= 0x80 && b < 0xA0 {
				want = string(rune(b))
			}
			if err != nil || string(got) != want {
				t.Errorf("%v 0x%02X = %q, %v; want %q", tc.cm, b, got, err, want)
			}
		}
	}
}

func TestMaxDecodedLen(t *testing.T) {
	// Worst cases per alphabet must fit the bound exactly or below.
	worst := map[byte][]byte{
		0x00: bytes.Repeat([]byte{0x80}, 10),       // U+FFFD each
		0x01: bytes.Repeat([]byte{0xFF}, 10),       // U+FFFD each
		0x03: bytes.Repeat([]byte{0xFF}, 10),       // 2 bytes each
		0x06: bytes.Repeat([]byte{0xF0}, 10),       // U+2116
		0x07: bytes.Repeat([]byte{0xFD}, 10),       // U+200E
		0x08: bytes.Repeat([]byte{0xDC, 0x00}, 5),  // lone low surrogates
		0x18: []byte{0xD8, 0x00, 0xDC, 0x00, 0xDC}, // pair + odd octet
	}
	for dcs, ud := range worst {
		got, _ := Decode(nil, dcs, ud)
		if n := MaxDecodedLen(dcs, len(ud)); len(got) > n {
			t.Errorf("dcs 0x%02X: %d bytes > bound %d", dcs, len(got), n)
		}
	}
	for _, dcs := range []byte{0x02, 0x04, 0x05, 0x0E, 0xF4} {
		if n := MaxDecodedLen(dcs, 10); n != 0 {
			t.Errorf("MaxDecodedLen(0x%02X) = %d", dcs, n)
		}
	}
	if MaxDecodedLen(0x00, -1) != 0 || MaxDecodedLen(0x08, 0) != 0 {
		t.Error("non-positive length")
	}
	if got := MaxDecodedLen(0x08, 3); got != 6 {
		t.Errorf("MaxDecodedLen(UCS2, 3) = %d, want 6", got)
	}
}

func TestReserved(t *testing.T) {
	var n int
	for d := 0; d < 256; d++ {
		dcs := byte(d)
		if !Reserved(dcs) {
			continue
		}
		n++
		if AlphabetOf(dcs) != GSM7 {
			t.Errorf("reserved 0x%02X reads as %v, want GSM7", dcs, AlphabetOf(dcs))
		}
	}
	// 0x0B 0x0C 0x0F, charset 11 in the 00xx/01xx groups from 0x10 (4 in
	// each of 7 blocks of 16), the 64 values of the groups 1000..1011.
	if n != 3+28+64 {
		t.Errorf("%d reserved values, want %d", n, 3+28+64)
	}
	for _, dcs := range []byte{0x00, 0x08, 0x0D, 0x10, 0x30, 0xC0, 0xF0} {
		if Reserved(dcs) {
			t.Errorf("0x%02X is not reserved", dcs)
		}
	}
}
