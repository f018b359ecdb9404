package pumping

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

// parseDigits must answer as strconv.ParseUint(s, 10, 64), its oracle.
func TestParseDigitsMatchesParseUint(t *testing.T) {
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
		got, ok := parseDigits(s)
		if ok != (err == nil) || ok && got != want {
			t.Fatalf("parseDigits(%q) = %d, %v; ParseUint: %d, %v", s, got, ok, want, err)
		}
	}
}

// regionKey must keep distinct region codes distinct.
func TestRegionKeyDistinct(t *testing.T) {
	seen := map[uint64]string{}
	for _, r := range []string{"", "D", "DE", "DE\x00", "ED", "001", "01", "1", "GB", "ZZ", "longregion", "longregion2"} {
		k := regionKey(r)
		if o, dup := seen[k]; dup {
			t.Fatalf("regionKey(%q) == regionKey(%q)", r, o)
		}
		seen[k] = r
	}
}

var sink uint64

func BenchmarkParseDigits(b *testing.B) {
	for b.Loop() {
		n, _ := parseDigits("4915123456789")
		sink += n
	}
}

func BenchmarkParseUint(b *testing.B) {
	for b.Loop() {
		n, _ := strconv.ParseUint("4915123456789", 10, 64)
		sink += n
	}
}

func FuzzParseDigits(f *testing.F) {
	for _, s := range []string{"", "4915123456789", "12345678", "1234567/", "1234567:", "18446744073709551615", "18446744073709551616", "0000000000000000001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := strconv.ParseUint(s, 10, 64)
		got, ok := parseDigits(s)
		if ok != (err == nil) || ok && got != want {
			t.Fatalf("parseDigits(%q) = %d, %v; ParseUint: %d, %v", s, got, ok, want, err)
		}
	})
}
