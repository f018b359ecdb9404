package numbers

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

// DigitValue must answer as strconv.ParseUint(s, 10, 64), its oracle.
func TestDigitValueMatchesParseUint(t *testing.T) {
	cases := []string{"", "0", "00", "4915123456789", "18446744073709551615", "18446744073709551616",
		"99999999999999999999", "000000000000000000001", "+491512", "49 151", "1_000", "-1", "12a", "١٢٣"}
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "0123456789+ -_a9"
	for range 100000 {
		b := make([]byte, rng.IntN(23))
		for i := range b {
			if rng.IntN(20) == 0 {
				b[i] = alphabet[rng.IntN(len(alphabet))]
			} else {
				b[i] = '0' + byte(rng.IntN(10))
			}
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		want, err := strconv.ParseUint(s, 10, 64)
		got, ok := DigitValue(s)
		if ok != (err == nil) || ok && got != want {
			t.Fatalf("DigitValue(%q) = %d, %v; ParseUint: %d, %v", s, got, ok, want, err)
		}
	}
}

var digitSink uint64

func BenchmarkDigitValue(b *testing.B) {
	for b.Loop() {
		n, _ := DigitValue("4915123456789")
		digitSink += n
	}
}

func BenchmarkParseUint(b *testing.B) {
	for b.Loop() {
		n, _ := strconv.ParseUint("4915123456789", 10, 64)
		digitSink += n
	}
}

func FuzzDigitValue(f *testing.F) {
	for _, s := range []string{"", "4915123456789", "12345678", "1234567/", "1234567:", "18446744073709551615", "18446744073709551616", "0000000000000000001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := strconv.ParseUint(s, 10, 64)
		got, ok := DigitValue(s)
		if ok != (err == nil) || ok && got != want {
			t.Fatalf("DigitValue(%q) = %d, %v; ParseUint: %d, %v", s, got, ok, want, err)
		}
	})
}

// allDigits agrees with a byte loop at every length and every position of
// a non-digit.
func TestAllDigits(t *testing.T) {
	ref := func(b []byte) bool {
		for _, c := range b {
			if c < '0' || c > '9' {
				return false
			}
		}
		return true
	}
	for n := 0; n <= 40; n++ {
		b := make([]byte, n)
		for i := range b {
			b[i] = '0' + byte(i%10)
		}
		if !allDigits(b) {
			t.Fatalf("allDigits(%q) = false", b)
		}
		for i := range b {
			for _, c := range []byte{'/', ':', 0, 0xb0, 0x39 + 0x80, '0' - 16, ' ', '+'} {
				old := b[i]
				b[i] = c
				if got := allDigits(b); got != ref(b) {
					t.Fatalf("allDigits(%q) = %v", b, got)
				}
				b[i] = old
			}
		}
	}
}

// digitsValue (no checks) agrees with DigitValue on digit strings of every
// length it is given (1..19).
func TestDigitsValue(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 20000 {
		b := make([]byte, 1+rng.IntN(19))
		for i := range b {
			b[i] = '0' + byte(rng.IntN(10))
		}
		want, ok := DigitValue(string(b))
		if got := digitsValue(string(b)); !ok || got != want {
			t.Fatalf("digitsValue(%q) = %d, DigitValue %d, %v", b, got, want, ok)
		}
	}
}
