package textscan

import (
	"bufio"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// checkOneLabelHost: wherever findURLs' reject fires (an ASCII label at a
// word boundary, ended by a '.' or ':' that oneLabelHost accepts), parseURL
// fails there and resumes at the end of the label, so findURLs skipping it
// finds the same links as calling parseURL.
func checkOneLabelHost(t *testing.T, text []byte) (fired int) {
	t.Helper()
	for i := range text {
		if !isAlnum(text[i]) || !boundaryBefore(text, i) {
			continue
		}
		j := i + 1
		for j < len(text) && (isAlnum(text[j]) || text[j] == '-') {
			j++
		}
		if j == len(text) || !oneLabelHost(text, j) {
			continue
		}
		fired++
		if _, ok, next := parseURL(text, i); ok || next != j {
			t.Fatalf("%q at %d: parseURL ok %v, resumes at %d; the reject resumes at %d", text, i, ok, next, j)
		}
	}
	return fired
}

// oneLabelHost holds in every corpus text and in random texts of link-like
// pieces.
func TestOneLabelHostMatchesParseURL(t *testing.T) {
	files, _ := filepath.Glob("../../bench/corpus/*.jsonl")
	texts, fired := 0, 0
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
			fired += checkOneLabelHost(t, []byte(m.Text))
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
		fired += checkOneLabelHost(t, b)
	}
	if fired == 0 {
		t.Fatal("the reject never fired")
	}
	t.Logf("%d corpus texts, %d rejects checked", texts, fired)
}

func FuzzOneLabelHost(f *testing.F) {
	for _, s := range []string{"Note: 10:00. Track at https://dhl.com/t/1 now.", "a:b x.y:80/p end.", "http//x.com", "HTTPS://A.B"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, text []byte) { checkOneLabelHost(t, text) })
}
