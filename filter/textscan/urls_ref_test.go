package textscan

import (
	"bufio"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"unicode/utf8"
)

// findURLsReference is findURLs before its reject of one-label hosts
// ("Note:", "10:00", "end."): every candidate went to parseURL. It is the
// oracle of TestFindURLsMatchesReference and FuzzFindURLsReference.
func findURLsReference(text []byte, fn func(u URL) bool) {
	n := len(text)
	for i := 0; i < n; {
		c := text[i]
		if c < utf8.RuneSelf {
			if !isAlnum(c) {
				i++
				continue
			}
		} else {
			r, size := utf8.DecodeRune(text[i:])
			if !isHostRune(r) {
				i += size
				continue
			}
		}
		if !boundaryBefore(text, i) {
			i = skipHostRun(text, i)
			continue
		}
		if c < utf8.RuneSelf {
			j := i + 1
			for j < n && (isAlnum(text[j]) || text[j] == '-') {
				j++
			}
			if j == n || text[j] != '.' && text[j] != ':' && text[j] < utf8.RuneSelf {
				i = j
				continue
			}
		}
		u, ok, next := parseURL(text, i)
		if ok {
			if !fn(u) {
				return
			}
			i = u.End
			continue
		}
		if next <= i {
			next = skipHostRun(text, i)
		}
		i = next
	}
}

func urlsOf(find func([]byte, func(URL) bool), text []byte) []URL {
	var out []URL
	find(text, func(u URL) bool { out = append(out, u); return true })
	return out
}

func checkURLsReference(t *testing.T, text []byte) {
	t.Helper()
	if got, want := urlsOf(findURLs, text), urlsOf(findURLsReference, text); !reflect.DeepEqual(got, want) {
		t.Fatalf("findURLs(%q) = %+v, reference %+v", text, got, want)
	}
}

// findURLs finds what the reference finds in every corpus text and in random
// texts of link-like pieces.
func TestFindURLsMatchesReference(t *testing.T) {
	files, _ := filepath.Glob("../../bench/corpus/*.jsonl")
	texts := 0
	for _, name := range files {
		fh, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var m struct{ Text string }
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			checkURLsReference(t, []byte(m.Text))
			texts++
		}
		fh.Close()
	}
	if texts == 0 {
		t.Fatal("no corpus texts under ../../bench/corpus")
	}
	pieces := []string{"http", "https", "HTTP", "://", ":/", ":", "//", ".", "..", "www", "bit", "ly", "com", "dhl", "de",
		"10", "00", "1.2.3.4", " ", "/", "?", "#", "@", "-", "é", "аб", "[::1]", ")", "(", ",", "x", "Note", "\n"}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 200000 {
		var b []byte
		for range rng.IntN(12) {
			b = append(b, pieces[rng.IntN(len(pieces))]...)
		}
		checkURLsReference(t, b)
	}
	t.Logf("%d corpus texts", texts)
}

func FuzzFindURLsReference(f *testing.F) {
	for _, s := range []string{"Note: 10:00. Track at https://dhl.com/t/1 now.", "a:b x.y:80/p end.", "http//x.com", "HTTPS://A.B"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, text []byte) { checkURLsReference(t, text) })
}
