package text

import (
	"errors"
	"testing"
)

func TestParseUDH(t *testing.T) {
	for _, tc := range []struct {
		name      string
		ud        []byte
		udhLen    int
		c         Concat
		hasConcat bool
		bad       bool
	}{
		{"concat 8-bit", []byte{0x05, 0x00, 0x03, 0xA7, 0x03, 0x01, 'h', 'i'}, 6, Concat{Ref: 0xA7, Total: 3, Seq: 1}, true, false},
		{"concat 8-bit last part", []byte{0x05, 0x00, 0x03, 0x00, 0x02, 0x02}, 6, Concat{Ref: 0, Total: 2, Seq: 2}, true, false},
		{"concat 16-bit", []byte{0x06, 0x08, 0x04, 0x12, 0x34, 0x02, 0x02, 0x00, 0x41}, 7, Concat{Ref: 0x1234, Total: 2, Seq: 2, Ref16: true}, true, false},
		{"port IE then concat", []byte{0x0B, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0, 0x00, 0x03, 0x10, 0x05, 0x04, 0xFF}, 12, Concat{Ref: 0x10, Total: 5, Seq: 4}, true, false},
		{"concat then national language", []byte{0x08, 0x00, 0x03, 0x01, 0x02, 0x01, 0x24, 0x01, 0x03}, 9, Concat{Ref: 1, Total: 2, Seq: 1}, true, false},
		{"no concat", []byte{0x03, 0x24, 0x01, 0x03, 'x'}, 4, Concat{}, false, false},
		{"empty UDH", []byte{0x00, 'x'}, 1, Concat{}, false, false},
		{"zero-length IE", []byte{0x02, 0x70, 0x00}, 3, Concat{}, false, false},
		{"UDH is whole ud", []byte{0x05, 0x00, 0x03, 0x01, 0x01, 0x01}, 6, Concat{Ref: 1, Total: 1, Seq: 1}, true, false},

		{"empty ud", nil, 0, Concat{}, false, true},
		{"UDHL beyond ud", []byte{0x05, 0x00, 0x03, 0x01, 0x02}, 0, Concat{}, false, true},
		{"UDHL 255", []byte{0xFF, 0x00}, 0, Concat{}, false, true},
		{"IE header truncated", []byte{0x01, 0x00}, 2, Concat{}, false, true},
		{"IE beyond UDH", []byte{0x04, 0x00, 0x03, 0x01, 0x02, 0x01}, 5, Concat{}, false, true},
		{"IE beyond UDH other", []byte{0x03, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0}, 4, Concat{}, false, true},
		{"concat8 length 4", []byte{0x06, 0x00, 0x04, 0x01, 0x02, 0x01, 0x00}, 7, Concat{}, false, true},
		{"concat16 length 3", []byte{0x05, 0x08, 0x03, 0x01, 0x02, 0x01}, 6, Concat{}, false, true},
		{"total zero", []byte{0x05, 0x00, 0x03, 0x01, 0x00, 0x00}, 6, Concat{}, false, true},
		{"seq zero", []byte{0x05, 0x00, 0x03, 0x01, 0x02, 0x00}, 6, Concat{}, false, true},
		{"seq > total", []byte{0x05, 0x00, 0x03, 0x01, 0x02, 0x03}, 6, Concat{}, false, true},
		{"seq > total 16", []byte{0x06, 0x08, 0x04, 0x00, 0x01, 0x02, 0x03}, 7, Concat{}, false, true},
		{"two concat IEs", []byte{0x0A, 0x00, 0x03, 0x01, 0x02, 0x01, 0x00, 0x03, 0x02, 0x02, 0x02}, 11, Concat{}, false, true},
		{"concat8 and concat16", []byte{0x0B, 0x00, 0x03, 0x01, 0x02, 0x01, 0x08, 0x04, 0x00, 0x01, 0x02, 0x02}, 12, Concat{}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, c, has, err := ParseUDH(tc.ud)
			if tc.bad != (err != nil) || (err != nil && !errors.Is(err, ErrBadUDH)) {
				t.Fatalf("err = %v, want bad=%v", err, tc.bad)
			}
			if n != tc.udhLen || c != tc.c || has != tc.hasConcat {
				t.Errorf("got (%d, %+v, %v), want (%d, %+v, %v)", n, c, has, tc.udhLen, tc.c, tc.hasConcat)
			}
		})
	}
}

func TestFillBits(t *testing.T) {
	for udhLen, want := range map[int]int{
		-1: 0, 0: 0, 1: 6, 2: 5, 3: 4, 4: 3, 5: 2, 6: 1, 7: 0, 8: 6, 12: 2, 14: 0, 140: 0,
	} {
		if got := FillBits(udhLen); got != want {
			t.Errorf("FillBits(%d) = %d, want %d", udhLen, got, want)
		}
		// Header plus fill must end on a septet boundary.
		if udhLen > 0 && (udhLen*8+FillBits(udhLen))%7 != 0 {
			t.Errorf("FillBits(%d) does not align", udhLen)
		}
	}
}
