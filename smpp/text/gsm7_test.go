package text

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// gsmRows is the 23.038 default alphabet written out row by row,
// independently of the table in gsm7.go. '\x1b' marks the escape position.
var gsmRows = [8]string{
	"@£$¥èéùìòÇ\nØø\rÅå",
	"Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ",
	" !\"#¤%&'()*+,-./",
	"0123456789:;<=>?",
	"¡ABCDEFGHIJKLMNO",
	"PQRSTUVWXYZÄÖÑÜ§",
	"¿abcdefghijklmno",
	"pqrstuvwxyzäöñüà",
}

// gsmExtWant is the basic extension table: code after 0x1B -> character.
var gsmExtWant = map[byte]rune{
	0x0A: '\f', 0x14: '^', 0x28: '{', 0x29: '}', 0x2F: '\\',
	0x3C: '[', 0x3D: '~', 0x3E: ']', 0x40: '|', 0x65: '€',
}

func TestGSM7DefaultTable(t *testing.T) {
	code := 0
	for _, row := range gsmRows {
		runes := []rune(row)
		if len(runes) != 16 {
			t.Fatalf("row %q has %d runes", row, len(runes))
		}
		for _, r := range runes {
			c := byte(code)
			code++
			if c == esc {
				continue
			}
			if got := string(DecodeGSM7(nil, []byte{c})); got != string(r) {
				t.Errorf("decode 0x%02X = %q, want %q", c, got, r)
			}
			enc, err := EncodeGSM7(nil, string(r))
			if err != nil || !bytes.Equal(enc, []byte{c}) {
				t.Errorf("encode %q = % X, %v; want %02X", r, enc, err, c)
			}
		}
	}
}

// TestGSM7CodePoints pins characters whose Unicode identity is easy to get
// wrong (look-alikes such as OHM SIGN for Ω or INCREMENT for Δ).
func TestGSM7CodePoints(t *testing.T) {
	for _, tc := range []struct {
		septet byte
		r      rune
	}{
		{0x00, 0x0040}, {0x01, 0x00A3}, {0x02, 0x0024}, {0x03, 0x00A5},
		{0x04, 0x00E8}, {0x09, 0x00C7}, {0x10, 0x0394}, {0x11, 0x005F},
		{0x12, 0x03A6}, {0x13, 0x0393}, {0x14, 0x039B}, {0x15, 0x03A9},
		{0x16, 0x03A0}, {0x17, 0x03A8}, {0x18, 0x03A3}, {0x19, 0x0398},
		{0x1A, 0x039E}, {0x1E, 0x00DF}, {0x24, 0x00A4}, {0x40, 0x00A1},
		{0x5B, 0x00C4}, {0x5F, 0x00A7}, {0x60, 0x00BF}, {0x7F, 0x00E0},
	} {
		if got := DecodeGSM7(nil, []byte{tc.septet}); string(got) != string(tc.r) {
			t.Errorf("0x%02X = %q, want U+%04X", tc.septet, got, tc.r)
		}
	}
	for _, r := range []rune{0x2126 /* OHM SIGN */, 0x2206 /* INCREMENT */, 'ç', 'á', '`', 'Ã', 0x20AD} {
		if CanGSM7(string(r)) {
			t.Errorf("CanGSM7(U+%04X) = true", r)
		}
	}
}

func TestGSM7ExtensionTable(t *testing.T) {
	for c := range byte(128) {
		got := string(DecodeGSM7(nil, []byte{esc, c}))
		want := string(DecodeGSM7(nil, []byte{c})) // 23.038: show the default char
		if r, ok := gsmExtWant[c]; ok {
			want = string(r)
		}
		if c == esc {
			want = " "
		}
		if got != want {
			t.Errorf("decode 1B %02X = %q, want %q", c, got, want)
		}
	}
	for c, r := range gsmExtWant {
		enc, err := EncodeGSM7(nil, string(r))
		if err != nil || !bytes.Equal(enc, []byte{esc, c}) {
			t.Errorf("encode %q = % X, %v; want 1B %02X", r, enc, err, c)
		}
	}
}

func TestDecodeGSM7(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, ""},
		{"ascii", []byte("Hello"), "Hello"},
		{"at dollar", []byte{0x00, 0x02, 0x01, 0x03}, "@$£¥"},
		{"euro", []byte{0x31, 0x30, 0x1B, 0x65}, "10€"},
		{"all ext", []byte{0x1B, 0x0A, 0x1B, 0x14, 0x1B, 0x28, 0x1B, 0x29, 0x1B, 0x2F, 0x1B, 0x3C, 0x1B, 0x3D, 0x1B, 0x3E, 0x1B, 0x40, 0x1B, 0x65}, "\f^{}\\[~]|€"},
		{"trailing esc", []byte{'A', 0x1B}, "A "},
		{"lone esc", []byte{0x1B}, " "},
		{"esc esc", []byte{0x1B, 0x1B}, " "},
		{"esc esc char", []byte{0x1B, 0x1B, 'A'}, " A"},
		{"esc esc esc", []byte{0x1B, 0x1B, 0x1B}, "  "},
		{"unknown escape", []byte{0x1B, 'A', 0x1B, 0x00}, "A@"},
		{"escaped CR2", []byte{0x1B, 0x0D}, "\r"},
		{"high octet", []byte{'a', 0x80, 'b', 0xFF}, "a\uFFFDb\uFFFD"},
		{"escaped high octet", []byte{0x1B, 0xE5, 'x'}, "\uFFFDx"},
		{"greek", []byte{0x10, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1A}, "ΔΦΓΛΩΠΨΣΘΞ"},
		{"german", []byte{0x5B, 0x5C, 0x5E, 0x7B, 0x7C, 0x7E, 0x1E}, "ÄÖÜäöüß"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefix := []byte("pre:")
			got := DecodeGSM7(append([]byte(nil), prefix...), tc.in)
			if string(got) != "pre:"+tc.want {
				t.Errorf("got %q, want %q", got, "pre:"+tc.want)
			}
		})
	}
}

func TestEncodeGSM7(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []byte
		badRune rune
		badOff  int
	}{
		{"", []byte{}, 0, 0},
		{"@", []byte{0x00}, 0, 0},
		{"$", []byte{0x02}, 0, 0},
		{"è", []byte{0x04}, 0, 0},
		{"Ä ß", []byte{0x5B, 0x20, 0x1E}, 0, 0},
		{"[€]", []byte{0x1B, 0x3C, 0x1B, 0x65, 0x1B, 0x3E}, 0, 0},
		{"a\fb", []byte{0x61, 0x1B, 0x0A, 0x62}, 0, 0},
		{"ok 😀", nil, '😀', 3},
		{"é`", nil, '`', 2},
		{"ç", nil, 'ç', 0},
		{"ab\xff", nil, utf8.RuneError, 2},
		{"\uFFFD", nil, utf8.RuneError, 0},
	} {
		dst := []byte("x")
		got, err := EncodeGSM7(dst, tc.in)
		if tc.badRune != 0 {
			var ee *EncodeError
			if !errors.Is(err, ErrNotGSM7) || !errors.As(err, &ee) {
				t.Errorf("%q: err = %v, want *EncodeError wrapping ErrNotGSM7", tc.in, err)
				continue
			}
			if ee.Rune != tc.badRune || ee.Offset != tc.badOff || ee.Alphabet != GSM7 {
				t.Errorf("%q: error %+v, want rune %q at %d", tc.in, *ee, tc.badRune, tc.badOff)
			}
			if string(got) != "x" {
				t.Errorf("%q: dst modified on error: %q", tc.in, got)
			}
			if CanGSM7(tc.in) {
				t.Errorf("CanGSM7(%q) = true", tc.in)
			}
			if _, ok := SeptetLen(tc.in); ok {
				t.Errorf("SeptetLen(%q) ok", tc.in)
			}
			continue
		}
		if err != nil || !bytes.Equal(got[1:], tc.want) {
			t.Errorf("%q: got % X, %v; want % X", tc.in, got[1:], err, tc.want)
		}
		if n, ok := SeptetLen(tc.in); !ok || n != len(tc.want) {
			t.Errorf("SeptetLen(%q) = %d, %v; want %d", tc.in, n, ok, len(tc.want))
		}
		if !CanGSM7(tc.in) {
			t.Errorf("CanGSM7(%q) = false", tc.in)
		}
		if back := DecodeGSM7(nil, tc.want); string(back) != tc.in {
			t.Errorf("round trip %q -> %q", tc.in, back)
		}
	}
	if err := (&EncodeError{Alphabet: GSM7, Rune: '😀', Offset: 3}).Error(); !strings.Contains(err, "'😀' at offset 3") {
		t.Errorf("Error() = %q", err)
	}
}

// allGSM is every representable character once.
func allGSM() string {
	var b strings.Builder
	for _, row := range gsmRows {
		b.WriteString(strings.ReplaceAll(row, "\x1b", ""))
	}
	for _, r := range gsmExtWant {
		b.WriteRune(r)
	}
	return b.String()
}

// randomGSM returns n random representable runes.
func randomGSM(rng *rand.Rand, n int) string {
	pool := []rune(allGSM())
	var b strings.Builder
	for range n {
		b.WriteRune(pool[rng.IntN(len(pool))])
	}
	return b.String()
}

func TestRoundTripGSM7(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n <= 200; n++ {
		s := randomGSM(rng, n)
		enc, err := EncodeGSM7(nil, s)
		if err != nil {
			t.Fatalf("encode %q: %v", s, err)
		}
		if sl, ok := SeptetLen(s); !ok || sl != len(enc) {
			t.Fatalf("SeptetLen = %d, %v; want %d", sl, ok, len(enc))
		}
		if got := DecodeGSM7(nil, enc); string(got) != s {
			t.Fatalf("round trip %q -> %q", s, got)
		}
	}
	s := allGSM()
	enc, _ := EncodeGSM7(nil, s)
	if got := DecodeGSM7(nil, enc); string(got) != s {
		t.Fatalf("round trip all: %q", got)
	}
}

// refPack packs septets bit by bit, as a reference independent of
// PackGSM7's accumulator.
func refPack(septets []byte, fill int) []byte {
	if len(septets) == 0 {
		return []byte{}
	}
	nbits := fill + 7*len(septets)
	out := make([]byte, (nbits+7)/8)
	for i, s := range septets {
		for j := range 7 {
			if s>>j&1 != 0 {
				pos := fill + 7*i + j
				out[pos/8] |= 1 << (pos % 8)
			}
		}
	}
	return out
}

func TestPackVectors(t *testing.T) {
	for _, tc := range []struct {
		text   string
		fill   int
		packed []byte
	}{
		{"hellohello", 0, []byte{0xE8, 0x32, 0x9B, 0xFD, 0x46, 0x97, 0xD9, 0xEC, 0x37}},
		{"hello", 0, []byte{0xE8, 0x32, 0x9B, 0xFD, 0x06}},
		{"", 0, []byte{}},
		{"", 3, []byte{}},
		{"@", 0, []byte{0x00}},
		{"A", 1, []byte{0x82}},
		{"A", 6, []byte{0x40, 0x10}},
		// 8 septets fill exactly 7 octets.
		{"12345678", 0, []byte{0x31, 0xD9, 0x8C, 0x56, 0xB3, 0xDD, 0x70}},
	} {
		sep, _ := EncodeGSM7(nil, tc.text)
		got := PackGSM7(nil, sep, tc.fill)
		if !bytes.Equal(got, tc.packed) {
			t.Errorf("pack %q fill %d = % X, want % X", tc.text, tc.fill, got, tc.packed)
		}
		dec, err := DecodeGSM7Packed(nil, tc.packed, tc.fill, len(sep))
		if err != nil || string(dec) != tc.text {
			t.Errorf("unpack % X = %q, %v; want %q", tc.packed, dec, err, tc.text)
		}
	}

	// A full single-part message: 160 septets in 140 octets.
	s := strings.Repeat("0123456789", 16)
	sep, _ := EncodeGSM7(nil, s)
	packed := PackGSM7(nil, sep, 0)
	if len(packed) != 140 {
		t.Fatalf("160 septets packed to %d octets, want 140", len(packed))
	}
	if dec, err := DecodeGSM7Packed(nil, packed, 0, 160); err != nil || string(dec) != s {
		t.Fatalf("decode 160: %q, %v", dec, err)
	}
	// 153 septets after a 6-octet concatenation UDH: 1 fill bit, 134 octets,
	// 140 with the UDH.
	sep = sep[:153]
	if fb := FillBits(6); fb != 1 {
		t.Fatalf("FillBits(6) = %d", fb)
	}
	if n := len(PackGSM7(nil, sep, 1)); n != 134 {
		t.Fatalf("153 septets with 1 fill bit packed to %d octets, want 134", n)
	}
}

func TestPackRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for n := 0; n <= 200; n++ {
		septets := make([]byte, n)
		for i := range septets {
			septets[i] = byte(rng.IntN(128))
		}
		for fill := 0; fill <= 6; fill++ {
			packed := PackGSM7([]byte{0xAA}, septets, fill)[1:]
			if want := refPack(septets, fill); !bytes.Equal(packed, want) {
				t.Fatalf("n=%d fill=%d: pack % X, want % X", n, fill, packed, want)
			}
			un, err := UnpackGSM7(nil, packed, fill, n)
			if err != nil || !bytes.Equal(un, septets) {
				t.Fatalf("n=%d fill=%d: unpack % X, %v", n, fill, un, err)
			}
			dec, err := DecodeGSM7Packed([]byte("p"), packed, fill, n)
			if want := DecodeGSM7([]byte("p"), septets); err != nil || !bytes.Equal(dec, want) {
				t.Fatalf("n=%d fill=%d: decode %q, %v; want %q", n, fill, dec, err, want)
			}
			// Derived count: every complete septet, which includes one
			// zero septet ('@') when 7 or more padding bits remain.
			all, err := UnpackGSM7(nil, packed, fill, -1)
			want := septets
			if 8*len(packed)-fill-7*n >= 7 {
				want = append(append([]byte(nil), septets...), 0)
			}
			if err != nil || !bytes.Equal(all, want) {
				t.Fatalf("n=%d fill=%d: unpack(-1) % X, %v; want % X", n, fill, all, err, want)
			}
		}
	}
}

func TestDecodeGSM7PackedErrors(t *testing.T) {
	packed := PackGSM7(nil, []byte("abcdefgh"), 0) // 7 octets
	for _, fill := range []int{-1, 7, 100} {
		got, err := DecodeGSM7Packed([]byte("x"), packed, fill, 8)
		if !errors.Is(err, ErrFillBits) || string(got) != "x" {
			t.Errorf("fill %d: %q, %v", fill, got, err)
		}
		if _, err := UnpackGSM7(nil, packed, fill, 8); !errors.Is(err, ErrFillBits) {
			t.Errorf("unpack fill %d: %v", fill, err)
		}
	}
	got, err := DecodeGSM7Packed(nil, packed, 0, 9)
	if !errors.Is(err, ErrTruncated) || string(got) != "abcdefgh" {
		t.Errorf("truncated: %q, %v", got, err)
	}
	got, err = DecodeGSM7Packed(nil, packed, 1, 8) // only 7 septets fit
	if !errors.Is(err, ErrTruncated) || len([]rune(string(got))) != 7 {
		t.Errorf("truncated by fill: %q, %v", got, err)
	}
	got, err = DecodeGSM7Packed(nil, nil, 6, 1)
	if !errors.Is(err, ErrTruncated) || len(got) != 0 {
		t.Errorf("empty: %q, %v", got, err)
	}
	if got, err := DecodeGSM7Packed(nil, nil, 6, -1); err != nil || len(got) != 0 {
		t.Errorf("empty derived: %q, %v", got, err)
	}
	// Escape split over the truncation point still yields valid text.
	esc2 := PackGSM7(nil, []byte{'a', esc}, 0)
	if got, err := DecodeGSM7Packed(nil, esc2, 0, 3); !errors.Is(err, ErrTruncated) || string(got) != "a " {
		t.Errorf("split escape: %q, %v", got, err)
	}
	for _, fill := range []int{-1, 7} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("PackGSM7 fill %d did not panic", fill)
				}
			}()
			PackGSM7(nil, []byte{1}, fill)
		}()
	}
	// Septets above 0x7F are masked when packing.
	if got := PackGSM7(nil, []byte{0xC1}, 0); !bytes.Equal(got, []byte{0x41}) {
		t.Errorf("masking: % X", got)
	}
}

// TestDecodeGSM7Paths checks that the indexed fast path (dst with room for
// 3 bytes per septet) and the appending path agree, and that packed
// decoding carries an escape across its internal chunk boundary.
func TestDecodeGSM7Paths(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for n := range 300 {
		septets := make([]byte, n)
		for i := range septets {
			switch rng.IntN(8) {
			case 0:
				septets[i] = esc
			case 1:
				septets[i] = byte(rng.IntN(256))
			default:
				septets[i] = byte(rng.IntN(128))
			}
		}
		slow := DecodeGSM7([]byte("p"), septets)
		fast := DecodeGSM7(append(make([]byte, 0, 1+3*n), 'p'), septets)
		if !bytes.Equal(slow, fast) {
			t.Fatalf("paths differ for % X:\n%q\n%q", septets, slow, fast)
		}
		if !utf8.Valid(fast) {
			t.Fatalf("invalid UTF-8 %q", fast)
		}
	}
	// Every pair of octets, alone, after an ESC and inside ASCII runs (at
	// either end and across the middle of the fast path's eight-septet
	// words): its byte table ends and resumes its runs at each of them.
	run := []byte("abcdefghijklmnopqrstuv")
	for a := range 256 {
		for b := range 256 {
			for _, septets := range [][]byte{{byte(a), byte(b)}, {esc, byte(a), byte(b)},
				{'x', 'y', byte(a), byte(b), 'z'}, {'x', byte(a), esc, byte(b), 'z'},
				append([]byte{byte(a), byte(b)}, run...), append(slices.Clone(run[:6]), byte(a), byte(b)),
				append(append(slices.Clone(run[:7]), byte(a), byte(b)), run[7:]...),
				append(slices.Clone(run), byte(a), esc, byte(b))} {
				slow := DecodeGSM7([]byte("p"), septets)
				fast := DecodeGSM7(append(make([]byte, 0, 1+3*len(septets)), 'p'), septets)
				if !bytes.Equal(slow, fast) {
					t.Fatalf("paths differ for % X:\n%q\n%q", septets, slow, fast)
				}
			}
		}
	}
	for _, at := range []int{126, 127, 128, 255, 256} {
		septets := bytes.Repeat([]byte{'a'}, 300)
		septets[at], septets[at+1] = esc, 0x65
		want := strings.Repeat("a", at) + "€" + strings.Repeat("a", 300-at-2)
		packed := PackGSM7(nil, septets, 3)
		for _, dst := range [][]byte{nil, make([]byte, 0, 900)} {
			got, err := DecodeGSM7Packed(dst, packed, 3, len(septets))
			if err != nil || string(got) != want {
				t.Fatalf("escape at %d: %q, %v", at, got, err)
			}
		}
	}
	// A trailing ESC at a chunk boundary of a truncated packed message.
	septets := append(bytes.Repeat([]byte{'a'}, 127), esc)
	got, err := DecodeGSM7Packed(nil, PackGSM7(nil, septets, 0), 0, 128)
	if err != nil || string(got) != strings.Repeat("a", 127)+" " {
		t.Fatalf("trailing escape: %q, %v", got, err)
	}
}
