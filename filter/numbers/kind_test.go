package numbers

import (
	"math/rand/v2"
	"testing"
)

func TestKindOf(t *testing.T) {
	tests := []struct {
		ton  byte
		addr string
		want Kind
	}{
		{0, "", Empty},
		{5, "", Empty},
		{5, "ACME", Alphanumeric},
		{5, "12345", Alphanumeric}, // TON 5 wins over digits
		{0, "ACME", Alphanumeric},
		{1, "Bank2Go", Alphanumeric},
		{0, "My Shop", Alphanumeric},
		{0, "Caf\xc3\xa9", Alphanumeric}, // UTF-8 letter
		{0, "Info-24", Alphanumeric},
		{0, "12345", ShortCode},
		{2, "123", ShortCode},
		{0, "12345678", ShortCode},
		{0, "123456789", Number},
		{2, "015112345678", Number},
		{1, "4915112345678", Number},
		{1, "112", Number}, // international wins over length
		{0, "+112", Number},
		{0, "+4915112345678", Number},
		{0, "12", Invalid},
		{2, "1", Invalid},
		{1, "1", Number},
		{0, "+", Invalid},
		{1, "+", Invalid},
		{0, "123-456", Invalid},
		{0, "+49 151", Invalid},
		{0, "12\x00", Invalid},
		{5, "AC\nME", Invalid},
		{0, "123456789012345678901", Invalid}, // 21 digits
		{1, "12345678901234567890", Number},   // 20 digits
		{0, "++49", Invalid},
		{0, "...", Invalid},
	}
	for _, tc := range tests {
		if got := KindOf(tc.ton, []byte(tc.addr)); got != tc.want {
			t.Errorf("KindOf(%d, %q) = %v, want %v", tc.ton, tc.addr, got, tc.want)
		}
	}
	if Kind(99).String() != "kind(?)" || ShortCode.String() != "shortcode" {
		t.Error("Kind.String")
	}
}

func TestKindOfAllocs(t *testing.T) {
	addr := []byte("4915112345678")
	if n := testing.AllocsPerRun(100, func() { KindOf(1, addr) }); n != 0 {
		t.Fatalf("%v allocs", n)
	}
}

func BenchmarkKindOf(b *testing.B) {
	addr := []byte("4915112345678")
	b.ReportAllocs()
	for b.Loop() {
		KindOf(1, addr)
	}
}

// kindOfRef is KindOf's scan as it was before the byte-class table: one
// switch a byte, the oracle of TestKindOfMatchesRef and FuzzKindOf.
func kindOfRef(ton byte, addr []byte) Kind {
	if len(addr) == 0 {
		return Empty
	}
	letter, other := false, false
	for _, c := range addr {
		switch {
		case c >= '0' && c <= '9':
		case c < 0x20 || c == 0x7f:
			return Invalid
		case c >= 0x80 || (c|0x20 >= 'a' && c|0x20 <= 'z'):
			letter = true
		default:
			other = true
		}
	}
	if letter || ton == TONAlphanumeric {
		return Alphanumeric
	}
	intl := ton == TONInternational
	digits := addr
	if digits[0] == '+' {
		intl = true
		digits = digits[1:]
		other = false
		for _, c := range digits {
			if c < '0' || c > '9' {
				other = true
				break
			}
		}
	}
	return digitsKind(len(digits), intl, other) // the length rules, unchanged
}

func TestKindOfMatchesRef(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const special = "+0123456789 -.aZ\x00\x1f\x7f\x80\xff"
	for i := range 200000 {
		b := make([]byte, rng.IntN(24))
		for j := range b {
			switch {
			case j == 0 && rng.IntN(4) == 0:
				b[j] = '+'
			case rng.IntN(10) == 0:
				b[j] = special[rng.IntN(len(special))]
			case rng.IntN(50) == 0:
				b[j] = byte(rng.IntN(256))
			default:
				b[j] = '0' + byte(rng.IntN(10))
			}
		}
		ton := byte(i % 7)
		if got, want := KindOf(ton, b), kindOfRef(ton, b); got != want {
			t.Fatalf("KindOf(%d, %q) = %v, reference %v", ton, b, got, want)
		}
	}
	for c := range 256 {
		for _, addr := range [][]byte{{byte(c)}, {'+', byte(c)}, {'1', '2', '3', byte(c)}, []byte("+4915112345" + string(rune(c)))} {
			for ton := range byte(7) {
				if got, want := KindOf(ton, addr), kindOfRef(ton, addr); got != want {
					t.Fatalf("KindOf(%d, %q) = %v, reference %v", ton, addr, got, want)
				}
			}
		}
	}
}

func FuzzKindOf(f *testing.F) {
	for _, s := range []string{"", "+", "ACME", "+4915112345678", "12345", "12\x00", "++49"} {
		f.Add(byte(1), []byte(s))
	}
	f.Fuzz(func(t *testing.T, ton byte, addr []byte) {
		if got, want := KindOf(ton, addr), kindOfRef(ton, addr); got != want {
			t.Fatalf("KindOf(%d, %q) = %v, reference %v", ton, addr, got, want)
		}
	})
}
