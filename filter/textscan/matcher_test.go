package textscan

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

type occ struct{ index, start, end int }

// naiveMatch is the reference: every occurrence, ordered by end, then by
// length (longest first), reporting the lowest index among duplicates.
func naiveMatch(patterns []string, text []byte, wholeWords bool) []occ {
	first := map[string]int{}
	for i, p := range patterns {
		if _, ok := first[p]; !ok {
			first[p] = i
		}
	}
	var got []occ
	for p, i := range first {
		for s := 0; s+len(p) <= len(text); s++ {
			if string(text[s:s+len(p)]) != p {
				continue
			}
			e := s + len(p)
			if wholeWords && (s > 0 && isAlnum(text[s-1]) || e < len(text) && isAlnum(text[e])) {
				continue
			}
			got = append(got, occ{i, s, e})
		}
	}
	slices.SortFunc(got, func(a, b occ) int {
		if a.end != b.end {
			return a.end - b.end
		}
		return a.start - b.start
	})
	return got
}

func matchAll(m *Matcher, text []byte, wholeWords bool) []occ {
	var got []occ
	m.Match(text, wholeWords, func(i, s, e int) bool {
		got = append(got, occ{i, s, e})
		return true
	})
	return got
}

func checkMatcher(t *testing.T, patterns []string, text []byte) {
	t.Helper()
	m, err := NewMatcher(patterns)
	if err != nil {
		t.Fatal(err)
	}
	for _, ww := range []bool{false, true} {
		want := naiveMatch(patterns, text, ww)
		got := matchAll(m, text, ww)
		if !slices.Equal(got, want) {
			t.Fatalf("patterns %q text %q wholeWords %v:\n got %v\nwant %v", patterns, text, ww, got, want)
		}
		i, s, e := m.First(text, ww)
		if len(want) == 0 {
			if i != -1 {
				t.Fatalf("First = %d,%d,%d want -1", i, s, e)
			}
		} else if (occ{i, s, e}) != want[0] {
			t.Fatalf("First(%q) = %v want %v", text, occ{i, s, e}, want[0])
		}
	}
	if m.delta != nil {
		// The trie walk from word starts against the automaton over every
		// byte (two algorithms over the same table).
		i, s, e := m.firstWhole(text)
		wi, ws, we := m.scan(text, true, nil)
		if i != wi || i >= 0 && (s != ws || e != we) {
			t.Fatalf("firstWhole(%q) = %d,%d,%d; scan %d,%d,%d", text, i, s, e, wi, ws, we)
		}
	}
	// From shared word starts: the same answer as First.
	starts := WordStarts(nil, text)
	if want := naiveWordStarts(text); !slices.Equal(starts, want) {
		t.Fatalf("WordStarts(%q) = %v, want %v", text, starts, want)
	}
	wi, ws, we := m.First(text, true)
	if i, s, e := m.FirstWholeFrom(text, starts); i != wi || i >= 0 && (s != ws || e != we) {
		t.Fatalf("FirstWholeFrom(%q) = %d,%d,%d; First %d,%d,%d", text, i, s, e, wi, ws, we)
	}
}

// naiveWordStarts: the offsets i < len(text) where i == 0 or text[i-1] is
// not an ASCII letter or digit.
func naiveWordStarts(text []byte) []int32 {
	var out []int32
	for i := range text {
		if i == 0 || !isAlnum(text[i-1]) {
			out = append(out, int32(i))
		}
	}
	return out
}

func TestMatcherBasic(t *testing.T) {
	checkMatcher(t, []string{"he", "she", "his", "hers"}, []byte("ushers and his shed, he said"))
	checkMatcher(t, []string{"a", "aa", "aaa", "a"}, []byte("aaaa a"))
	checkMatcher(t, []string{"free", "free money", "money"}, []byte("get free money now, freemoney"))
	checkMatcher(t, []string{"win", "winner"}, []byte("winner: you win! winwin"))
	checkMatcher(t, []string{"\x00", "\xff\xfe", "é"}, []byte("\x00a\xff\xfeé"))

	m, _ := NewMatcher([]string{"bank", "bank"})
	if i, s, e := m.First([]byte("my bank"), true); i != 0 || s != 3 || e != 7 {
		t.Errorf("duplicate: got %d %d %d", i, s, e)
	}
	if m.Len() != 2 {
		t.Errorf("Len = %d", m.Len())
	}
	if i, _, _ := m.First([]byte("banking"), true); i != -1 {
		t.Errorf("whole word: banking matched")
	}
	if i, _, _ := m.First([]byte("banking"), false); i != 0 {
		t.Errorf("substring: banking not matched")
	}
	if _, err := NewMatcher([]string{"a", ""}); err == nil {
		t.Error("empty pattern accepted")
	}
	var nilM *Matcher
	if i, _, _ := nilM.First([]byte("x"), false); i != -1 || nilM.Len() != 0 {
		t.Error("nil matcher")
	}
	nilM.Match([]byte("x"), false, func(int, int, int) bool { t.Error("nil matcher matched"); return true })
	empty, err := NewMatcher(nil)
	if err != nil || empty.Len() != 0 {
		t.Fatal(err)
	}
	if i, _, _ := empty.First([]byte("abc"), false); i != -1 {
		t.Error("empty matcher matched")
	}
	// Stop early.
	n := 0
	m2, _ := NewMatcher([]string{"a"})
	m2.Match([]byte("aaaa"), false, func(int, int, int) bool { n++; return n < 2 })
	if n != 2 {
		t.Errorf("Match went on after false: %d", n)
	}
}

func randWord(r *rand.Rand, alphabet string, minLen, maxLen int) string {
	n := minLen + r.IntN(maxLen-minLen+1)
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// withSparse runs f with both the dense and the sparse automaton.
func withSparse(t *testing.T, f func(t *testing.T)) {
	t.Run("dense", f)
	t.Run("sparse", func(t *testing.T) {
		old := maxDenseCells
		maxDenseCells = 0
		defer func() { maxDenseCells = old }()
		f(t)
	})
}

func TestMatcherRandom(t *testing.T) {
	withSparse(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		for iter := 0; iter < 300; iter++ {
			alphabet := "ab c1"[:2+r.IntN(4)]
			pats := make([]string, 1+r.IntN(12))
			for i := range pats {
				pats[i] = randWord(r, alphabet, 1, 5)
			}
			checkMatcher(t, pats, []byte(randWord(r, alphabet, 0, 80)))
		}
		// Many patterns sharing prefixes, with word and non-word bytes
		// (UTF-8 too) at either end: deep tries, failure transitions into
		// them, and whole-word starts inside non-ASCII words.
		for iter := 0; iter < 300; iter++ {
			alphabet := []string{"ab ", "ab c-1", "aé b.", "a\xc3\xa9\xff b"}[r.IntN(4)]
			pats := make([]string, 1+r.IntN(200))
			for i := range pats {
				pats[i] = randWord(r, alphabet, 1, 7)
			}
			checkMatcher(t, pats, []byte(randWord(r, alphabet, 0, 200)))
		}
	})
}

func TestMatcher10k(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	pats := make([]string, 10000)
	for i := range pats {
		pats[i] = randWord(r, "abcdefghijklmnopqrstuvwxyz", 3, 10)
	}
	// Plant some patterns in a text of random words.
	var words []string
	for i := 0; i < 400; i++ {
		if i%7 == 0 {
			words = append(words, pats[r.IntN(len(pats))])
		} else {
			words = append(words, randWord(r, "abcdefghijklmnopqrstuvwxyz", 1, 8))
		}
	}
	text := []byte(strings.Join(words, " "))
	withSparse(t, func(t *testing.T) {
		checkMatcher(t, pats, text)
	})
	m, _ := NewMatcher(pats)
	t.Logf("10k patterns: %d states, %d classes, dense table %d KiB", len(m.out), m.ncls, len(m.delta)*4/1024)
}

func TestMatcherAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	pats := make([]string, 10000)
	for i := range pats {
		pats[i] = randWord(r, "abcdefghijklmnopqrstuvwxyz", 4, 10)
	}
	m, _ := NewMatcher(pats)
	text := []byte(Normalize(nil, []byte(sample160)))
	if a := testing.AllocsPerRun(100, func() { m.First(text, true) }); a != 0 {
		t.Errorf("First allocs = %v", a)
	}
	n := 0
	if a := testing.AllocsPerRun(100, func() {
		m.Match(text, false, func(i, s, e int) bool { n++; return true })
	}); a != 0 {
		t.Errorf("Match allocs = %v", a)
	}
}

func FuzzMatcher(f *testing.F) {
	f.Add("he\x00she\x00hers", []byte("ushers he"), false)
	f.Add("a\x00aa\x00a", []byte("aaa a"), true)
	f.Fuzz(func(t *testing.T, pats string, text []byte, sparse bool) {
		var patterns []string
		for _, p := range strings.Split(pats, "\x00") {
			if p != "" && len(patterns) < 32 {
				if len(p) > 64 {
					p = p[:64] // bounded work per input keeps the fuzzer's runs short
				}
				patterns = append(patterns, p)
			}
		}
		if len(text) > 512 {
			text = text[:512]
		}
		if sparse {
			old := maxDenseCells
			maxDenseCells = 0
			defer func() { maxDenseCells = old }()
		}
		checkMatcher(t, patterns, text)
	})
}

func BenchmarkMatcherFirst10k(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 8))
	pats := make([]string, 10000)
	for i := range pats {
		pats[i] = randWord(r, "abcdefghijklmnopqrstuvwxyz", 4, 12)
	}
	m, err := NewMatcher(pats)
	if err != nil {
		b.Fatal(err)
	}
	text := Normalize(nil, []byte(sample160))
	b.ReportAllocs()
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		m.First(text, true)
	}
}

func BenchmarkMatcherFirst10kSparse(b *testing.B) {
	old := maxDenseCells
	maxDenseCells = 0
	defer func() { maxDenseCells = old }()
	BenchmarkMatcherFirst10k(b)
}

func BenchmarkNewMatcher10k(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 8))
	pats := make([]string, 10000)
	for i := range pats {
		pats[i] = randWord(r, "abcdefghijklmnopqrstuvwxyz", 4, 12)
	}
	b.ReportAllocs()
	for b.Loop() {
		NewMatcher(pats)
	}
}

func TestMatcherConcurrent(t *testing.T) {
	m, err := NewMatcher([]string{"free", "money", "win", "prize"})
	if err != nil {
		t.Fatal(err)
	}
	text := []byte("you win a free prize and money")
	done := make(chan bool)
	for g := 0; g < 8; g++ {
		go func() {
			ok := true
			for i := 0; i < 1000; i++ {
				if idx, _, _ := m.First(text, true); idx != 2 {
					ok = false
				}
			}
			done <- ok
		}()
	}
	for g := 0; g < 8; g++ {
		if !<-done {
			t.Error("concurrent First disagreed")
		}
	}
}

// WordStarts (eight bytes at a time) against the byte-at-a-time
// definition: every byte value at every offset of two words' worth of
// letters and of spaces, and random texts of every length up to 40.
func TestWordStarts(t *testing.T) {
	check := func(text []byte) {
		t.Helper()
		got := WordStarts(nil, text)
		if want := naiveWordStarts(text); !slices.Equal(got, want) {
			t.Fatalf("WordStarts(%q) = %v, want %v", text, got, want)
		}
	}
	for _, fill := range []byte{'a', ' ', '9', 0xC3} {
		for b := range 256 {
			for p := range 17 {
				text := bytes.Repeat([]byte{fill}, 17)
				text[p] = byte(b)
				check(text)
			}
		}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 20_000 {
		text := make([]byte, rng.IntN(41))
		for i := range text {
			text[i] = byte(rng.IntN(256))
			if rng.IntN(2) == 0 {
				text[i] = "aZ09 .-é"[rng.IntN(8)]
			}
		}
		check(text)
	}
	if got := WordStarts(make([]int32, 0, 64), []byte("your code is 1234")); testing.AllocsPerRun(10, func() {
		got = WordStarts(got[:0], []byte("your code is 1234"))
	}) != 0 {
		t.Error("WordStarts allocates with room in dst")
	}
}
