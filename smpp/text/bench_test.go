package text

import (
	"strings"
	"testing"
)

// benchGSMText is a realistic full-length GSM text of exactly 160 septets:
// mostly ASCII, some accented letters and a few escapes.
func benchGSMText() string {
	var b strings.Builder
	n := 0
	for _, r := range strings.Repeat("Your code is 4711. Gültig für 5 min {€} ", 5) {
		w, _ := SeptetLen(string(r))
		if n+w > 160 {
			break
		}
		b.WriteRune(r)
		n += w
	}
	for ; n < 160; n++ {
		b.WriteByte('.')
	}
	return b.String()
}

func BenchmarkDecodeGSM7_160(b *testing.B) {
	s := benchGSMText()
	sep, err := EncodeGSM7(nil, s)
	if err != nil || len(sep) != 160 {
		b.Fatalf("setup: %d septets, %v", len(sep), err)
	}
	dst := make([]byte, 0, MaxDecodedLen(0x00, len(sep)))
	b.SetBytes(int64(len(sep)))
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = Decode(dst[:0], 0x00, sep)
	}
}

func BenchmarkDecodeGSM7Packed_160(b *testing.B) {
	s := benchGSMText()
	sep, _ := EncodeGSM7(nil, s)
	packed := PackGSM7(nil, sep, 0)
	dst := make([]byte, 0, 3*len(sep))
	b.SetBytes(int64(len(packed)))
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = DecodeGSM7Packed(dst[:0], packed, 0, len(sep))
	}
}

func BenchmarkDecodeUCS2_70(b *testing.B) {
	// 70 UTF-16 units (140 octets): Cyrillic, CJK, ASCII and surrogate pairs.
	var ud []byte
	for _, r := range strings.Repeat("Ваш код 4711 😀 中文短信 ", 4) {
		if next := EncodeUCS2(ud, string(r)); len(next) <= 140 {
			ud = next
		}
	}
	if len(ud) != 140 {
		b.Fatalf("setup: %d octets", len(ud))
	}
	dst := make([]byte, 0, MaxDecodedLen(0x08, len(ud)))
	b.SetBytes(int64(len(ud)))
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = Decode(dst[:0], 0x08, ud)
	}
}

func BenchmarkDecodeLatin1_140(b *testing.B) {
	ud := []byte(strings.Repeat("Caf\xe9 cr\xe8me \xa35 ", 10)[:140])
	dst := make([]byte, 0, MaxDecodedLen(0x03, len(ud)))
	b.SetBytes(int64(len(ud)))
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = Decode(dst[:0], 0x03, ud)
	}
}

func BenchmarkEncodeGSM7(b *testing.B) {
	s := benchGSMText()
	dst := make([]byte, 0, 2*len(s))
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = EncodeGSM7(dst[:0], s)
	}
}

func BenchmarkPackGSM7_160(b *testing.B) {
	sep, _ := EncodeGSM7(nil, strings.Repeat("0123456789", 16))
	dst := make([]byte, 0, 140)
	b.ReportAllocs()
	for b.Loop() {
		dst = PackGSM7(dst[:0], sep, 0)
	}
}

func BenchmarkParseUDH(b *testing.B) {
	ud := []byte{0x0B, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0, 0x00, 0x03, 0x10, 0x05, 0x04, 'x'}
	b.ReportAllocs()
	for b.Loop() {
		ParseUDH(ud)
	}
}
