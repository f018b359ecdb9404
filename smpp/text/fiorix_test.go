package text

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/fiorix/go-smpp/smpp/pdu/pdutext"
)

// Cross-check against github.com/fiorix/go-smpp/smpp/pdu/pdutext, the codec
// most Go SMPP clients use, on inputs where it is correct. Discrepancies
// found in v0.0.0-20210403173735-2894b96e70ba, deliberately not copied:
//
//   - GSM7.Encode of a string with a non-GSM rune silently returns the
//     UTF-8 input bytes, which an SMSC then reads as septets. We return
//     *EncodeError wrapping ErrNotGSM7.
//   - GSM7.Decode of input with a septet above 0x7F, a lone trailing ESC or
//     an escape code without extension character returns the raw input
//     bytes (not valid UTF-8, e.g. "\x1b"). We decode per 23.038: space for
//     a lone ESC, the default character for unknown escapes, U+FFFD for
//     octets above 0x7F.
//   - GSM7Packed.Decode guesses whether the eighth septet of every 7-octet
//     block exists by testing the block's last octet for non-zero. So it
//     drops an '@' at any septet index 8k+7 (mid-message too) when the
//     septet before it is < 0x40, and for 8n-1 septets whose last septet is
//     >= 0x40 it appends a spurious '@' made of the padding bits.
//     DecodeGSM7Packed takes the septet count from the caller instead.
//   - GSM7Packed has no fill-bit support, so it cannot decode packed text
//     after a UDH.
func TestCrossCheckFiorix(t *testing.T) {
	strs := []string{
		"", "Hello, world!", "@", "$£¥", "è é ù ì ò Ç Ø ø Å å", "ΔΦΓΛΩΠΨΣΘΞ", "ÆæßÉ ÄÖÑÜ§ ¿äöñüà ¡¤",
		"{braces} [brackets] ~tilde~ |pipe| \\back\\ ^caret^ €uro", "line\nbreak\rcr\fpage",
		"hellohello", "1234567", "12345678", allGSM(),
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for n := 1; n <= 200; n += 7 {
		strs = append(strs, randomGSM(rng, n))
	}
	comparedPacked := 0
	for _, s := range strs {
		ours, err := EncodeGSM7(nil, s)
		if err != nil {
			t.Fatalf("EncodeGSM7(%q): %v", s, err)
		}
		if theirs := pdutext.GSM7(s).Encode(); !bytes.Equal(ours, theirs) && len(s) > 0 {
			t.Errorf("GSM7 encode %q: ours % X, pdutext % X", s, ours, theirs)
		}
		if theirs := pdutext.GSM7(ours).Decode(); string(theirs) != s && len(s) > 0 {
			t.Errorf("GSM7 decode % X: pdutext %q, want %q", ours, theirs, s)
		}
		packed := PackGSM7(nil, ours, 0)
		if theirs := pdutext.GSM7Packed(s).Encode(); !bytes.Equal(packed, theirs) && len(s) > 0 {
			t.Errorf("GSM7 pack %q: ours % X, pdutext % X", s, packed, theirs)
		}
		// Skip inputs where pdutext's septet guess is wrong (see above).
		if !fiorixPackedAmbiguous(ours) {
			comparedPacked++
			if theirs := pdutext.GSM7Packed(packed).Decode(); string(theirs) != s {
				t.Errorf("GSM7 unpack % X: pdutext %q, want %q", packed, theirs, s)
			}
		}

		u := EncodeUCS2(nil, s)
		if theirs := pdutext.UCS2(s).Encode(); !bytes.Equal(u, theirs) && len(s) > 0 {
			t.Errorf("UCS2 encode %q: ours % X, pdutext % X", s, u, theirs)
		}
	}

	if comparedPacked < len(strs)/2 {
		t.Errorf("only %d of %d packed decodes cross-checked", comparedPacked, len(strs))
	}

	// The '@' drop, shown on a concrete input: pdutext loses the final '@'.
	sep, _ := EncodeGSM7(nil, "abcdef1@")
	packed := PackGSM7(nil, sep, 0)
	if ours, _ := DecodeGSM7Packed(nil, packed, 0, len(sep)); string(ours) != "abcdef1@" {
		t.Errorf("DecodeGSM7Packed = %q", ours)
	}
	t.Logf("pdutext.GSM7Packed.Decode(% X) = %q (known bug, want %q)", packed, pdutext.GSM7Packed(packed).Decode(), "abcdef1@")

	// UCS-2 (x/text UTF-16BE underneath), including surrogates and
	// malformed input, where pdutext agrees with us.
	for _, b := range [][]byte{
		{0x00, 0x48, 0x00, 0x69}, {0xD8, 0x3D, 0xDE, 0x00}, {0x04, 0x1F, 0x04, 0x40},
		{0xD8, 0x3D}, {0xDE, 0x00, 0x00, 0x41}, {0x00, 0x41, 0x00}, {0xD8, 0x3D, 0x00, 0x41},
	} {
		ours := DecodeUCS2(nil, b)
		if theirs := pdutext.UCS2(b).Decode(); !bytes.Equal(ours, theirs) {
			t.Errorf("UCS2 decode % X: ours %q, pdutext %q", b, ours, theirs)
		}
	}
	for _, s := range []string{"Привет", "中文", "😀🎉 ok", "\U0010FFFF"} {
		if theirs := pdutext.UCS2(s).Encode(); !bytes.Equal(EncodeUCS2(nil, s), theirs) {
			t.Errorf("UCS2 encode %q differs: % X", s, theirs)
		}
	}
}

// fiorixPackedAmbiguous reports whether pdutext.GSM7Packed.Decode would
// misread the packed form of septets: an '@' at index 8k+7, or 8n-1
// septets (7 padding bits).
func fiorixPackedAmbiguous(septets []byte) bool {
	if len(septets)%8 == 7 {
		return true
	}
	for i := 7; i < len(septets); i += 8 {
		if septets[i] == 0 {
			return true
		}
	}
	return false
}
