package numbers

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

func mustSet(t testing.TB, entries []Entry) *PrefixSet {
	t.Helper()
	p, err := NewPrefixSet(entries)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPrefixSetLongestPrefix(t *testing.T) {
	p := mustSet(t, []Entry{
		{"49", 1},
		{"4915", 2},
		{"491511", 3},
		{"+44", 4},
		{"09", 5}, // distinct from "9"
		{"9", 6},
		{"4990010000-4990019999", 7}, // one prefix: 499001
		{"100-250", 8},               // 1, 20..24, 250
		{"4915", 9},                  // later duplicate wins
	})
	tests := []struct {
		in     string
		val    int32
		length int
		ok     bool
	}{
		{"4915112345678", 3, 6, true},
		{"4915212345678", 9, 4, true},
		{"+4915212345678", 9, 4, true},
		{"4930123456", 1, 2, true},
		{"49", 1, 2, true},
		{"4", 0, 0, false},
		{"447400123456", 4, 2, true},
		{"09001", 5, 2, true},
		{"9001", 6, 1, true},
		{"4990010000", 7, 6, true},
		{"4990019999", 7, 6, true},
		{"499001", 7, 6, true},
		{"49900", 1, 2, true},
		{"4990020000", 1, 2, true},
		{"1999", 8, 1, true},
		{"2345", 8, 2, true},
		{"250", 8, 3, true},
		{"251", 0, 0, false},
		{"25", 0, 0, false},
		{"", 0, 0, false},
		{"+", 0, 0, false},
		{"49151x", 0, 0, false},
		{"4915112345678901234567890", 3, 6, true}, // longer than any prefix
		{"4915112345678901234567890x", 0, 0, false},
	}
	for _, tc := range tests {
		v, l, ok := p.Lookup([]byte(tc.in))
		if v != tc.val || l != tc.length || ok != tc.ok {
			t.Errorf("Lookup(%q) = (%d, %d, %v), want (%d, %d, %v)", tc.in, v, l, ok, tc.val, tc.length, tc.ok)
		}
	}
	// 9 direct prefixes + 1 + 7 from the two ranges, minus the duplicate 4915.
	if p.Len() != 14 || p.Entries() != 9 {
		t.Errorf("Len = %d, Entries = %d", p.Len(), p.Entries())
	}
}

func TestPrefixSetErrors(t *testing.T) {
	tests := []struct {
		entries []Entry
		want    string
	}{
		{[]Entry{{"49", 1}, {"", 2}}, "entry 1"},
		{[]Entry{{"4a9", 1}}, "non-digit"},
		{[]Entry{{"49", 1}, {"1", 1}, {"12 3", 1}}, "entry 2"},
		{[]Entry{{"100-99", 1}}, "different lengths"},
		{[]Entry{{"200-100", 1}}, "above its end"},
		{[]Entry{{"100-", 1}}, "range end"},
		{[]Entry{{"-100", 1}}, "empty"},
		{[]Entry{{"1-2-3", 1}}, "non-digit"},
		{[]Entry{{"12345678901234567890", 1}}, "more than 19"},
		{[]Entry{{"+", 1}}, "empty"},
	}
	for _, tc := range tests {
		_, err := NewPrefixSet(tc.entries)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewPrefixSet(%v) error = %v, want it to mention %q", tc.entries, err, tc.want)
		}
	}
	// A nil or empty set is usable.
	var nilSet *PrefixSet
	if _, _, ok := nilSet.Lookup([]byte("1")); ok || nilSet.Len() != 0 {
		t.Error("nil set")
	}
	empty := mustSet(t, nil)
	if _, _, ok := empty.Lookup([]byte("1")); ok || empty.Len() != 0 {
		t.Error("empty set")
	}
}

// naiveCover is the minimal prefix cover of from..to (length digits)
// computed from its definition: a prefix q belongs to it when the block of
// numbers starting with q lies inside the range and the block of q's parent
// does not (every one-digit block whose block lies inside belongs, since the
// empty prefix is not stored). It enumerates every block that overlaps the
// range at every length: small ranges only.
func naiveCover(from, to uint64, length int) []string {
	var out []string
	inside := func(q uint64, ql int) bool {
		w := pow10[length-ql]
		return q*w >= from && (q+1)*w-1 <= to
	}
	for ql := 1; ql <= length; ql++ {
		// Only blocks overlapping the range can lie inside it.
		w := pow10[length-ql]
		for q := from / w; q <= to/w; q++ {
			if !inside(q, ql) {
				continue
			}
			if ql > 1 && inside(q/10, ql-1) {
				continue
			}
			out = append(out, fmt.Sprintf("%0*d", ql, q))
		}
	}
	return out
}

func decomposeStrings(from, to uint64, length int) []string {
	var out []string
	decompose(from, to, length, func(v uint64, l int) { out = append(out, fmt.Sprintf("%0*d", l, v)) })
	return out
}

func TestDecomposeAgainstBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 1000; iter++ {
		length := 1 + rng.IntN(4)
		a, b := rng.Uint64N(pow10[length]), rng.Uint64N(pow10[length])
		if a > b {
			a, b = b, a
		}
		if iter == 0 {
			a, b = 0, pow10[length]-1
		}
		got := decomposeStrings(a, b, length)
		want := naiveCover(a, b, length)
		gotSet := map[string]bool{}
		for _, s := range got {
			gotSet[s] = true
		}
		if len(got) != len(want) || len(gotSet) != len(got) {
			t.Fatalf("%d-%d (len %d): got %v, want %v", a, b, length, got, want)
		}
		for _, s := range want {
			if !gotSet[s] {
				t.Fatalf("%d-%d (len %d): got %v, want %v", a, b, length, got, want)
			}
		}
		// Exact coverage: every number of that length matches iff it is in range.
		for x := uint64(0); x < pow10[length]; x++ {
			xs := fmt.Sprintf("%0*d", length, x)
			n := 0
			for _, s := range got {
				if strings.HasPrefix(xs, s) {
					n++
				}
			}
			in := x >= a && x <= b
			if (in && n != 1) || (!in && n != 0) {
				t.Fatalf("%d-%d: %s covered %d times", a, b, xs, n)
			}
		}
	}
}

// TestDecomposeLong checks long (up to 19-digit) random ranges structurally:
// the blocks are ascending, contiguous, exactly span from..to, are aligned,
// and each is maximal (its parent block leaves the range).
func TestDecomposeLong(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for iter := 0; iter < 2000; iter++ {
		length := 1 + rng.IntN(MaxPrefixLen)
		a, b := rng.Uint64N(pow10[length]), rng.Uint64N(pow10[length])
		if a > b {
			a, b = b, a
		}
		if iter%7 == 0 { // share a long common prefix: the interesting case
			b = a + rng.Uint64N(1000)
			if b >= pow10[length] {
				b = pow10[length] - 1
			}
		}
		next := a
		count := 0
		n := decompose(a, b, length, func(v uint64, l int) {
			count++
			w := pow10[length-l]
			lo, hi := v*w, v*w+w-1
			if lo != next {
				t.Fatalf("%d-%d: block %d/%d starts at %d, want %d", a, b, v, l, lo, next)
			}
			if l > 1 {
				pw := w * 10
				plo := lo / pw * pw
				if plo >= a && plo+pw-1 <= b {
					t.Fatalf("%d-%d: block %d/%d not maximal", a, b, v, l)
				}
			}
			next = hi + 1
		})
		if next != b+1 || n != count || n > 18*length+10 {
			t.Fatalf("%d-%d: ends at %d, n=%d count=%d", a, b, next, n, count)
		}
	}
}

// naiveSet is the reference model: prefixes expanded with naiveCover into a
// map (later entries win), looked up by scanning every key.
type naiveSet map[string]int32

func newNaiveSet(entries []Entry) naiveSet {
	m := naiveSet{}
	for _, e := range entries {
		a, b, isRange := strings.Cut(e.Prefix, "-")
		a = strings.TrimPrefix(a, "+")
		if !isRange {
			m[a] = e.Value
			continue
		}
		from, _ := strconv.ParseUint(a, 10, 64)
		to, _ := strconv.ParseUint(strings.TrimPrefix(b, "+"), 10, 64)
		for _, s := range naiveCover(from, to, len(a)) {
			m[s] = e.Value
		}
	}
	return m
}

func (m naiveSet) lookup(q string) (int32, int, bool) {
	q = strings.TrimPrefix(q, "+")
	for _, c := range []byte(q) {
		if c < '0' || c > '9' {
			return 0, 0, false
		}
	}
	best, bestLen, ok := int32(0), 0, false
	for k, v := range m {
		if len(k) > bestLen && strings.HasPrefix(q, k) {
			best, bestLen, ok = v, len(k), true
		}
	}
	return best, bestLen, ok
}

func TestPrefixSetAgainstNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	digits := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('0' + rng.IntN(3)) // few digits: many overlaps
		}
		return string(b)
	}
	for iter := 0; iter < 300; iter++ {
		var entries []Entry
		for i := rng.IntN(30); i >= 0; i-- {
			l := 1 + rng.IntN(5)
			if rng.IntN(3) == 0 {
				a, b := digits(l), digits(l)
				if a > b {
					a, b = b, a
				}
				entries = append(entries, Entry{a + "-" + b, int32(i)})
			} else {
				entries = append(entries, Entry{digits(l), int32(i)})
			}
		}
		p := mustSet(t, entries)
		m := newNaiveSet(entries)
		if p.Len() != len(m) {
			t.Fatalf("Len %d, naive %d (%v)", p.Len(), len(m), entries)
		}
		for j := 0; j < 200; j++ {
			q := digits(rng.IntN(8))
			v, l, ok := p.Lookup([]byte(q))
			nv, nl, nok := m.lookup(q)
			if v != nv || l != nl || ok != nok {
				t.Fatalf("Lookup(%q) = %d,%d,%v; naive %d,%d,%v; entries %v", q, v, l, ok, nv, nl, nok, entries)
			}
		}
	}
}

func FuzzPrefixSet(f *testing.F) {
	f.Add([]byte("49\x014915\x02100-250\x03"), []byte("4915123"))
	f.Add([]byte("0-9\x01"), []byte("5"))
	f.Add([]byte("+44\x0109\x02"), []byte("+0912"))
	f.Fuzz(func(t *testing.T, spec, query []byte) {
		// spec: entries separated by bytes < 0x20 (the byte is the value).
		var entries []Entry
		start := 0
		for i, c := range spec {
			if c < 0x20 {
				entries = append(entries, Entry{string(spec[start:i]), int32(c)})
				start = i + 1
			}
		}
		if len(entries) > 64 {
			entries = entries[:64]
		}
		// Keep ranges small enough for the naive expansion.
		for _, e := range entries {
			if a, _, isRange := strings.Cut(e.Prefix, "-"); isRange && len(strings.TrimPrefix(a, "+")) > 4 {
				return
			}
		}
		p, err := NewPrefixSet(entries)
		if err != nil {
			return // invalid specs only need to be rejected without panicking
		}
		m := newNaiveSet(entries)
		if p.Len() != len(m) {
			t.Fatalf("Len %d, naive %d", p.Len(), len(m))
		}
		v, l, ok := p.Lookup(query)
		nv, nl, nok := m.lookup(string(query))
		if v != nv || l != nl || ok != nok {
			t.Fatalf("Lookup(%q) = %d,%d,%v; naive %d,%d,%v; entries %q", query, v, l, ok, nv, nl, nok, entries)
		}
	})
}

// TestPrefixSetClustered checks the stem choice on clustered data (short
// prefixes that many long ones extend, as premium ranges and blocklists do)
// against the naive model.
func TestPrefixSetClustered(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	entries := []Entry{{"49", 1}, {"4915", 2}, {"49151", 3}, {"4990010000-4990019999", 4}, {"44", 5}}
	for i := 0; i < 3000; i++ {
		var q string
		switch rng.IntN(3) {
		case 0:
			q = fmt.Sprintf("4915%07d", rng.IntN(10_000_000)) // same 4- and 5-digit stems
		case 1:
			q = fmt.Sprintf("49151%03d", rng.IntN(1000))
		default:
			q = fmt.Sprintf("%d", 100_000_000+rng.IntN(900_000_000))
		}
		entries = append(entries, Entry{q, int32(i + 10)})
	}
	p := mustSet(t, entries)
	if p.StemLen() <= 5 {
		t.Errorf("stem %d groups a clustered length", p.StemLen())
	}
	m := newNaiveSet(entries)
	if p.Len() != len(m) {
		t.Fatalf("Len %d, naive %d", p.Len(), len(m))
	}
	for i := 0; i < 3000; i++ {
		var q string
		if i%2 == 0 {
			q = entries[rng.IntN(len(entries))].Prefix + fmt.Sprint(rng.IntN(100))
			if strings.Contains(q, "-") {
				q = "4990015555"
			}
		} else {
			q = fmt.Sprintf("49151%06d", rng.IntN(1_000_000))
		}
		v, l, ok := p.Lookup([]byte(q))
		nv, nl, nok := m.lookup(q)
		if v != nv || l != nl || ok != nok {
			t.Fatalf("Lookup(%q) = %d,%d,%v; naive %d,%d,%v", q, v, l, ok, nv, nl, nok)
		}
	}
	// Random long prefixes group at their shortest length.
	if r := mustSet(t, randomEntries(10_000, 1)); r.StemLen() != 8 {
		t.Errorf("random 8-12 digit prefixes: stem %d, want 8", r.StemLen())
	}
}

func TestPrefixSetLookupAllocs(t *testing.T) {
	p := mustSet(t, []Entry{{"49", 1}, {"4915", 2}, {"4990010000-4990019999", 3}})
	q := []byte("+4915112345678")
	if n := testing.AllocsPerRun(1000, func() { p.Lookup(q) }); n != 0 {
		t.Fatalf("%v allocs", n)
	}
}

// randomEntries makes n random prefixes of 8..12 digits.
func randomEntries(n int, seed uint64) []Entry {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	out := make([]Entry, n)
	buf := make([]byte, 0, 12)
	for i := range out {
		l := 8 + rng.IntN(5)
		buf = buf[:0]
		for j := 0; j < l; j++ {
			buf = append(buf, byte('0'+rng.IntN(10)))
		}
		out[i] = Entry{string(buf), int32(i)}
	}
	return out
}

func rssKiB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			v, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return v
		}
	}
	return -1
}

// TestPrefixSetMillion builds 1M random 8-12 digit prefixes, checks a
// sample, and logs build time, heap and RSS (run with -v to see them).
func TestPrefixSetMillion(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("slow; skipped with -short and -race")
	}
	entries := randomEntries(1_000_000, 7)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	rssBefore := rssKiB()
	start := time.Now()
	p := mustSet(t, entries)
	build := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	rssAfter := rssKiB()
	t.Logf("1M entries: build %v, stem %d, %d distinct prefixes, table %.1f MiB, heap +%.1f MiB (live), total allocated during build %.1f MiB, RSS %d -> %d MiB",
		build, p.StemLen(), p.Len(), float64(p.MemoryBytes())/(1<<20),
		float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20),
		float64(after.TotalAlloc-before.TotalAlloc)/(1<<20), rssBefore>>10, rssAfter>>10)
	if p.MemoryBytes() > 100<<20 {
		t.Errorf("table %d bytes > 100 MiB", p.MemoryBytes())
	}
	last := map[string]int32{}
	for _, e := range entries {
		last[e.Prefix] = e.Value
	}
	for i := 0; i < len(entries); i += 997 {
		e := entries[i]
		q := []byte(e.Prefix + "0000")
		v, l, ok := p.Lookup(q)
		// A longer entry may extend this one; the answer is at least this long.
		if !ok || l < len(e.Prefix) {
			t.Fatalf("Lookup(%s) = %d,%d,%v", q, v, l, ok)
		}
		if l == len(e.Prefix) && v != last[e.Prefix] {
			t.Fatalf("Lookup(%s) = %d, want %d", q, v, last[e.Prefix])
		}
	}
	runtime.KeepAlive(entries)
}

var sink int32

func benchmarkMillion(b *testing.B, hit bool) {
	entries := randomEntries(1_000_000, 7)
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	p := mustSet(b, entries)
	runtime.GC()
	runtime.ReadMemStats(&m1)
	heap := float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc)) / (1 << 20)
	rss := float64(rssKiB()) / 1024
	rng := rand.New(rand.NewPCG(9, 9))
	queries := make([][]byte, 1<<16)
	for i := range queries {
		var q string
		if hit {
			q = entries[rng.IntN(len(entries))].Prefix + "123"
		} else {
			q = fmt.Sprintf("%013d", rng.Uint64N(1e13))
		}
		queries[i] = []byte(q)
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		v, _, _ := p.Lookup(queries[i&(len(queries)-1)])
		sink += v
		i++
	}
	b.ReportMetric(heap, "heapMiB")
	b.ReportMetric(rss, "rssMiB")
}

// BenchmarkPrefixSet1MHit looks up random numbers that extend a stored
// prefix; BenchmarkPrefixSet1MRandom looks up random 13-digit numbers (most
// miss after probing every length 8..12).
func BenchmarkPrefixSet1MHit(b *testing.B)    { benchmarkMillion(b, true) }
func BenchmarkPrefixSet1MRandom(b *testing.B) { benchmarkMillion(b, false) }

func BenchmarkPrefixSetBuild1M(b *testing.B) {
	entries := randomEntries(1_000_000, 7)
	b.ReportAllocs()
	for b.Loop() {
		mustSet(b, entries)
	}
}

func BenchmarkPrefixSetSmall(b *testing.B) {
	p := mustSet(b, []Entry{{"49", 1}, {"4915", 2}, {"44", 3}, {"4990010000-4990019999", 4}, {"449", 5}})
	q := []byte("4915112345678")
	b.ReportAllocs()
	for b.Loop() {
		v, _, _ := p.Lookup(q)
		sink += v
	}
}
