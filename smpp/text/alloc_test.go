package text

import (
	"strings"
	"testing"
)

// The hot path decodes into pooled buffers; these guards keep it
// allocation-free.
func TestZeroAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation guards skipped in -short")
	}
	text := strings.Repeat("Hi@€ ÄΩ{x} ", 14)[:150]
	gsm, _ := EncodeGSM7(nil, text)
	packed := PackGSM7(nil, gsm, 1)
	ucs := EncodeUCS2(nil, "Привет 😀 "+strings.Repeat("中", 50))
	latin := []byte(strings.Repeat("caf\xe9 \xa3\xff", 20))
	udh := []byte{0x0B, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0, 0x00, 0x03, 0x10, 0x05, 0x04}

	for _, tc := range []struct {
		name string
		fn   func(dst []byte) []byte
	}{
		{"Decode GSM7", func(dst []byte) []byte { dst, _ = Decode(dst, 0x00, gsm); return dst }},
		{"Decode UCS2", func(dst []byte) []byte { dst, _ = Decode(dst, 0x08, ucs); return dst }},
		{"Decode Latin1", func(dst []byte) []byte { dst, _ = Decode(dst, 0x03, latin); return dst }},
		{"Decode IA5", func(dst []byte) []byte { dst, _ = Decode(dst, 0x01, latin); return dst }},
		{"Decode Cyrillic", func(dst []byte) []byte { dst, _ = Decode(dst, 0x06, latin); return dst }},
		{"Decode binary", func(dst []byte) []byte { dst, _ = Decode(dst, 0x04, latin); return dst }},
		{"DecodeGSM7Packed", func(dst []byte) []byte { dst, _ = DecodeGSM7Packed(dst, packed, 1, len(gsm)); return dst }},
		{"DecodeGSM7Packed truncated", func(dst []byte) []byte { dst, _ = DecodeGSM7Packed(dst, packed, 1, 1000); return dst }},
		{"UnpackGSM7", func(dst []byte) []byte { dst, _ = UnpackGSM7(dst, packed, 1, len(gsm)); return dst }},
		{"EncodeGSM7", func(dst []byte) []byte { dst, _ = EncodeGSM7(dst, text); return dst }},
		{"PackGSM7", func(dst []byte) []byte { return PackGSM7(dst, gsm, 1) }},
		{"EncodeUCS2", func(dst []byte) []byte { return EncodeUCS2(dst, text) }},
		{"EncodeLatin1", func(dst []byte) []byte { dst, _ = EncodeLatin1(dst, "café £ÿ"); return dst }},
		{"ParseUDH", func(dst []byte) []byte { ParseUDH(udh); return dst }},
		{"ParseUDH bad", func(dst []byte) []byte { ParseUDH(udh[:5]); ParseUDH([]byte{0x01, 0x00}); return dst }},
		{"CanGSM7 SeptetLen", func(dst []byte) []byte { CanGSM7(text); SeptetLen(text); return dst }},
	} {
		// Sized exactly by a first run, so the guard also proves no
		// worst-case pre-growing happens.
		need := len(tc.fn(nil))
		buf := make([]byte, 0, need)
		if n := testing.AllocsPerRun(100, func() { tc.fn(buf[:0]) }); n != 0 {
			t.Errorf("%s: %v allocs/op, want 0", tc.name, n)
		}
		// And with a worst-case sized buffer (the indexed fast paths).
		big := make([]byte, 0, 3*need+1024)
		if n := testing.AllocsPerRun(100, func() { tc.fn(big[:0]) }); n != 0 {
			t.Errorf("%s (large dst): %v allocs/op, want 0", tc.name, n)
		}
	}
}
