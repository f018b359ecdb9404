package textscan

import (
	"math/rand/v2"
	"testing"
)

func naiveDistance(a, b []byte) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b      string
		max, want int
	}{
		{"", "", 3, 0},
		{"abc", "", 3, 3},
		{"", "abcd", 3, 4},
		{"kitten", "sitting", 5, 3},
		{"kitten", "sitting", 2, 3},
		{"paypal", "paypa1", 2, 1},
		{"paypal", "paypal", 0, 0},
		{"paypal", "pay", 1, 2},
		{"flaw", "lawn", -1, 2},
		{"abcdefghij", "jihgfedcba", -1, 10},
	} {
		if got := Distance([]byte(tc.a), []byte(tc.b), tc.max); got != tc.want {
			t.Errorf("Distance(%q, %q, %d) = %d, want %d", tc.a, tc.b, tc.max, got, tc.want)
		}
	}
}

func TestDistanceRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for iter := 0; iter < 20000; iter++ {
		alphabet := "abcd"[:1+r.IntN(4)]
		a := []byte(randWord(r, alphabet, 0, 70))
		b := []byte(randWord(r, alphabet, 0, 70))
		if r.IntN(3) == 0 && len(a) > 0 { // near-duplicates
			b = append([]byte(nil), a...)
			for k := r.IntN(4); k > 0; k-- {
				b[r.IntN(len(b))] = alphabet[r.IntN(len(alphabet))]
			}
		}
		ta, tb := a[:min(len(a), 64)], b[:min(len(b), 64)]
		want := naiveDistance(ta, tb)
		if got := Distance(a, b, -1); got != want {
			t.Fatalf("Distance(%q, %q) = %d, want %d", a, b, got, want)
		}
		mx := r.IntN(10)
		wantB := min(want, mx+1)
		if got := Distance(a, b, mx); got != wantB {
			t.Fatalf("Distance(%q, %q, %d) = %d, want %d", a, b, mx, got, wantB)
		}
	}
}

func TestDistanceAllocs(t *testing.T) {
	a, b := []byte("PAYPAL-SECURE-ACCOUNT-VERIFICATION-SERVICE-1234567890-abcdefghijk"), []byte("paypal secure account verification service")
	if n := testing.AllocsPerRun(100, func() { Distance(a, b, 100) }); n != 0 {
		t.Errorf("Distance allocs = %v", n)
	}
}

func BenchmarkDistance(b *testing.B) {
	x, y := []byte("paypalsecure"), []byte("paypa1secvre")
	b.ReportAllocs()
	for b.Loop() {
		Distance(x, y, 3)
	}
}

func BenchmarkDistance64(b *testing.B) {
	x := []byte("the quick brown fox jumps over the lazy dog and keeps on running!")
	y := []byte("the quick brown fix jumped over a lazy dog and kept on running!!")
	b.ReportAllocs()
	for b.Loop() {
		Distance(x, y, -1)
	}
}
