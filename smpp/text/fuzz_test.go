package text

import (
	"bytes"
	"errors"
	"testing"
	"unicode/utf8"
)

// maxFuzzLen bounds fuzz inputs. User data is usually at most 140 octets;
// 512 still spans several 128-septet chunks of DecodeGSM7Packed, and larger
// inputs only make minimisation crawl without adding coverage.
const maxFuzzLen = 512

// Run a fuzzer with, for example:
//
//	go test -run='^$' -fuzz='^FuzzDecode$' -fuzztime=20s ./smpp/text/

func FuzzDecode(f *testing.F) {
	f.Add(byte(0x00), []byte("Hello\x1b\x65\x1b"))
	f.Add(byte(0x08), []byte{0xD8, 0x3D, 0xDE, 0x00, 0xDC})
	f.Add(byte(0x03), []byte{0xE9, 0xFF})
	f.Add(byte(0x01), []byte{0x41, 0x80})
	f.Add(byte(0x06), []byte{0xF0, 0xBF})
	f.Add(byte(0x07), []byte{0xA1, 0xE0})
	f.Add(byte(0xF4), []byte{0x00})
	f.Fuzz(func(t *testing.T, dcs byte, ud []byte) {
		ud = ud[:min(len(ud), maxFuzzLen)]
		prefix := []byte("p")
		got, err := Decode(prefix, dcs, ud)
		if !bytes.HasPrefix(got, prefix) {
			t.Fatalf("dst prefix lost: %q", got)
		}
		out := got[len(prefix):]
		if !utf8.Valid(out) {
			t.Fatalf("invalid UTF-8 %q", out)
		}
		if len(out) > MaxDecodedLen(dcs, len(ud)) {
			t.Fatalf("%d bytes > MaxDecodedLen %d", len(out), MaxDecodedLen(dcs, len(ud)))
		}
		// A worst-case sized dst (indexed fast paths) gives the same result.
		big, err2 := Decode(make([]byte, 0, MaxDecodedLen(dcs, len(ud))), dcs, ud)
		if !bytes.Equal(big, out) || err2 != err {
			t.Fatalf("sized dst: %q, %v; appended: %q, %v", big, err2, out, err)
		}
		a := AlphabetOf(dcs)
		switch {
		case !a.IsText():
			if !errors.Is(err, ErrNotText) || len(out) != 0 {
				t.Fatalf("%v: %q, %v", a, out, err)
			}
		case a == UCS2 && len(ud)%2 == 1:
			if !errors.Is(err, ErrTruncated) {
				t.Fatalf("odd UCS2: %v", err)
			}
		case err != nil:
			t.Fatalf("%v: unexpected error %v", a, err)
		}
		// Text that decoded cleanly re-encodes to the same bytes.
		switch a {
		case UCS2:
			if len(ud)%2 == 0 && !bytes.ContainsRune(out, utf8.RuneError) {
				if re := EncodeUCS2(nil, string(out)); !bytes.Equal(re, ud) {
					t.Fatalf("UCS2 re-encode % X, want % X", re, ud)
				}
			}
		case Latin1:
			if re, err := EncodeLatin1(nil, string(out)); err != nil || !bytes.Equal(re, ud) {
				t.Fatalf("Latin1 re-encode % X, %v", re, err)
			}
		case GSM7:
			// Decoding is a projection: decode(encode(decode(x))) ==
			// decode(x) whenever decode(x) is encodable.
			if re, err := EncodeGSM7(nil, string(out)); err == nil {
				if again := DecodeGSM7(nil, re); !bytes.Equal(again, out) {
					t.Fatalf("GSM7 not idempotent: %q -> %q", out, again)
				}
			} else if !bytes.ContainsRune(out, utf8.RuneError) {
				t.Fatalf("GSM7 output %q not re-encodable: %v", out, err)
			}
		}
	})
}

func FuzzDecodeGSM7Packed(f *testing.F) {
	f.Add([]byte{0xE8, 0x32, 0x9B, 0xFD, 0x46, 0x97, 0xD9, 0xEC, 0x37}, 0, 10)
	f.Add([]byte{0x82, 0x1B}, 1, 2)
	f.Add([]byte{}, 6, -1)
	f.Add([]byte{0xFF, 0xFF, 0xFF}, 3, 100)
	f.Fuzz(func(t *testing.T, packed []byte, fill, n int) {
		packed = packed[:min(len(packed), maxFuzzLen)]
		got, err := DecodeGSM7Packed(nil, packed, fill, n)
		if big, err2 := DecodeGSM7Packed(make([]byte, 0, 3*(8*len(packed)/7+1)), packed, fill, n); !bytes.Equal(big, got) || err2 != err {
			t.Fatalf("sized dst: %q, %v; appended: %q, %v", big, err2, got, err)
		}
		if fill < 0 || fill > 6 {
			if !errors.Is(err, ErrFillBits) || len(got) != 0 {
				t.Fatalf("fill %d: %q, %v", fill, got, err)
			}
			return
		}
		if !utf8.Valid(got) {
			t.Fatalf("invalid UTF-8 %q", got)
		}
		avail := max(0, (8*len(packed)-fill)/7)
		if (err != nil) != (n > avail) || (err != nil && !errors.Is(err, ErrTruncated)) {
			t.Fatalf("n=%d avail=%d: err %v", n, avail, err)
		}
		// Same result as unpacking then decoding.
		sep, err2 := UnpackGSM7(nil, packed, fill, n)
		if err2 != err {
			t.Fatalf("UnpackGSM7 err %v, DecodeGSM7Packed err %v", err2, err)
		}
		if want := min(avail, n); n >= 0 && len(sep) != want {
			t.Fatalf("unpacked %d septets, want %d", len(sep), want)
		}
		if want := DecodeGSM7(nil, sep); !bytes.Equal(got, want) {
			t.Fatalf("packed decode %q != unpacked decode %q", got, want)
		}
		if len(got) > 3*len(sep) {
			t.Fatalf("%d bytes for %d septets", len(got), len(sep))
		}
		// Repacking reproduces every bit the septets came from.
		re := PackGSM7(nil, sep, fill)
		for i := range len(sep) * 7 {
			pos := fill + i
			if re[pos/8]>>(pos%8)&1 != packed[pos/8]>>(pos%8)&1 {
				t.Fatalf("repack differs at bit %d: % X vs % X", pos, re, packed)
			}
		}
	})
}

func FuzzParseUDH(f *testing.F) {
	f.Add([]byte{0x05, 0x00, 0x03, 0xA7, 0x03, 0x01, 'h'})
	f.Add([]byte{0x06, 0x08, 0x04, 0x12, 0x34, 0x02, 0x02})
	f.Add([]byte{0x0B, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0, 0x00, 0x03, 0x10, 0x05, 0x04})
	f.Add([]byte{0x01, 0x00})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, ud []byte) {
		ud = ud[:min(len(ud), maxFuzzLen)]
		n, c, has, err := ParseUDH(ud)
		if n < 0 || n > len(ud) {
			t.Fatalf("udhLen %d out of range for %d octets", n, len(ud))
		}
		if n > 0 && n != int(ud[0])+1 {
			t.Fatalf("udhLen %d, UDHL %d", n, ud[0])
		}
		if err != nil {
			if !errors.Is(err, ErrBadUDH) || has || c != (Concat{}) {
				t.Fatalf("error %v with concat %v %+v", err, has, c)
			}
			return
		}
		if n == 0 {
			t.Fatal("success with udhLen 0")
		}
		if has {
			if c.Total == 0 || c.Seq == 0 || c.Seq > c.Total || (!c.Ref16 && c.Ref > 0xFF) {
				t.Fatalf("invalid concat accepted: %+v", c)
			}
		} else if c != (Concat{}) {
			t.Fatalf("concat %+v without hasConcat", c)
		}
		// The header ends where ParseUDH says: appending text changes nothing.
		n2, c2, has2, err2 := ParseUDH(append(append([]byte(nil), ud[:n]...), "text"...))
		if n2 != n || c2 != c || has2 != has || err2 != nil {
			t.Fatalf("result depends on data after the UDH")
		}
	})
}

func FuzzRoundTripGSM7(f *testing.F) {
	f.Add("hellohello", 0)
	f.Add("{€} [x] @$ ΔΩ ß", 1)
	f.Add("naïve 😀", 3)
	f.Add("\x1b\xff", 6)
	f.Fuzz(func(t *testing.T, s string, fill int) {
		s = s[:min(len(s), maxFuzzLen)]
		fill = ((fill % 7) + 7) % 7
		enc, err := EncodeGSM7([]byte("x"), s)
		n, ok := SeptetLen(s)
		if CanGSM7(s) != (err == nil) || ok != (err == nil) {
			t.Fatalf("CanGSM7/SeptetLen disagree with EncodeGSM7 (%v)", err)
		}
		if err != nil {
			var ee *EncodeError
			if !errors.As(err, &ee) || !errors.Is(err, ErrNotGSM7) || string(enc) != "x" {
				t.Fatalf("bad error %v / dst %q", err, enc)
			}
			if r, _ := utf8.DecodeRuneInString(s[ee.Offset:]); r != ee.Rune {
				t.Fatalf("error rune %q, input has %q at %d", ee.Rune, r, ee.Offset)
			}
			if CanGSM7(s[:ee.Offset]) == false {
				t.Fatalf("prefix before offending rune not encodable")
			}
			return
		}
		enc = enc[1:]
		if n != len(enc) {
			t.Fatalf("SeptetLen %d, encoded %d", n, len(enc))
		}
		if dec := DecodeGSM7(nil, enc); string(dec) != s {
			t.Fatalf("unpacked round trip %q -> %q", s, dec)
		}
		packed := PackGSM7(nil, enc, fill)
		if want := (fill + 7*len(enc) + 7) / 8; len(enc) > 0 && len(packed) != want {
			t.Fatalf("packed %d octets, want %d", len(packed), want)
		}
		if dec, err := DecodeGSM7Packed(nil, packed, fill, len(enc)); err != nil || string(dec) != s {
			t.Fatalf("packed round trip %q -> %q, %v", s, dec, err)
		}
		if u := DecodeUCS2(nil, EncodeUCS2(nil, s)); string(u) != s {
			t.Fatalf("UCS2 round trip %q -> %q", s, u)
		}
	})
}
