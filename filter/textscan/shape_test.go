package textscan

import (
	"strings"
	"testing"
)

func TestShapeOf(t *testing.T) {
	for _, tc := range []struct {
		text string
		want Shape
	}{
		{"", Shape{}},
		{"on my way", Shape{Words: 3, Letters: 7}},
		{"Your code is 482913. Do not share it.", Shape{Words: 8, Letters: 22, Codes: 1}},
		{"Your code is 482 913", Shape{Words: 5, Letters: 10, Codes: 1}},
		{"Call +49 151 2345 6789 now", Shape{Words: 6, Letters: 7, Phones: 1}},
		{"Call 0151-23456789", Shape{Words: 3, Letters: 4, Phones: 1}},
		{"meeting at 3pm, room 12", Shape{Words: 5, Letters: 15}},
		{"Ваш код: 4821", Shape{Words: 3, Letters: 6, Codes: 1}},
		{"您的验证码是482913", Shape{Words: 1, Letters: 6, Codes: 1}},
		{"write to anna@example.com", Shape{Words: 5, Letters: 21, Emails: 1}},
		{"Happy New Year!! 🎉🎉", Shape{Words: 3, Letters: 12}},
		{"2024 and 2025", Shape{Words: 3, Letters: 3, Codes: 2}},
		{"gagnez 296.07 EUR par jour", Shape{Words: 6, Letters: 16, Money: 1}},
		{"prize of €97,45!", Shape{Words: 4, Letters: 7, Money: 1}},
		{"euro trip", Shape{Words: 2, Letters: 8}},
		{"schreib mir bitte auf WhatsApp", Shape{Words: 5, Letters: 26, Handoffs: 1}},
		{"Europe 2025", Shape{Words: 2, Letters: 6, Codes: 1}},
	} {
		if got := ShapeOf([]byte(tc.text)); got != tc.want {
			t.Errorf("%q: %+v, want %+v", tc.text, got, tc.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { ShapeOf([]byte("Your code is 482913. Do not share it.")) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

func FuzzShapeOf(f *testing.F) {
	f.Add([]byte("Call +49 151 2345 6789 now, code 4821"))
	f.Add([]byte("x@12eur 4abc 12 345-678 €5 WhatsApp.dollars"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := ShapeOf(b)
		if ref := shapeOfRef(b); s != ref {
			t.Fatalf("%q: %+v, the reference %+v", b, s, ref)
		}
		if s.Words < 0 || s.Letters > len(b) || s.Codes+s.Phones > len(b) {
			t.Fatalf("%+v for %d bytes", s, len(b))
		}
	})
}

// The first-letter table rejects no word of the lists, in any case.
func TestMaybeShapeWord(t *testing.T) {
	for _, list := range [][]string{currencyWords, handoffWords} {
		for _, w := range list {
			for _, v := range []string{w, strings.ToUpper(w), strings.ToUpper(w[:1]) + w[1:]} {
				if !maybeShapeWord([]byte(v)) {
					t.Errorf("%q rejected", v)
				}
			}
		}
	}
}

// TestShapeOfMatchesRef compares ShapeOf with its reference on texts of
// every kind the tests know.
func TestShapeOfMatchesRef(t *testing.T) {
	texts := []string{sample160, "x@12eur 4abc 12 345-678 €5 WhatsApp.dollars", "Call +49 151 2345 6789 now, code 4821",
		"Your verification code is 482913. Do not share it.", "ab@cd 12.50 EUR, 10:00-14:00 (030) 1234-5678 tl5 Rs.500",
		"Ваш код 4821, ₽500 — viber/Telegram; 中文123abc", "1a2b3c4d 0000 99999999 123456789012345 1234567890123456",
		"EXTRAORDINARYdollars verylongwordwithoutend WHATSAPPtelegram Über€ abcdefgh12345678 ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
	for _, s := range texts {
		for cut := 0; cut <= len(s); cut++ {
			for _, b := range [][]byte{[]byte(s[cut:]), []byte(s[:cut])} { // runs cut at either end
				if got, want := ShapeOf(b), shapeOfRef(b); got != want {
					t.Fatalf("%q: %+v, the reference %+v", b, got, want)
				}
			}
		}
	}
}

func BenchmarkShapeOf(b *testing.B) {
	for _, tt := range []struct{ name, text string }{{"otp", "Your verification code is 482913. Do not share it."}, {"160", sample160}} {
		in := []byte(tt.text)
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				ShapeOf(in)
			}
		})
		b.Run(tt.name+"-ref", func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				shapeOfRef(in)
			}
		})
	}
}
