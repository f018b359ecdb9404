package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/smsfw/smsfw/bench/corpus"
)

// The committed corpora are what the generator writes (deterministic), so
// nobody tunes on a hand-edited file.
func TestCommittedFilesAreGenerated(t *testing.T) {
	check := func(name string, data []byte) {
		old, err := os.ReadFile(filepath.Join("..", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(old, data) {
			t.Errorf("bench/corpus/%s differs from what the generator writes: go run ./bench/corpus/gen", name)
		}
	}
	check("operator.yaml", operatorFragment())
	for _, v := range variants {
		var buf bytes.Buffer
		if err := corpus.Write(&buf, generate(v)); err != nil {
			t.Fatal(err)
		}
		check(v.file, buf.Bytes())
	}
}

// The held-out corpus uses pools the tuning corpus never sees.
func TestHeldoutPools(t *testing.T) {
	texts := map[string]bool{}
	for _, m := range generate(variants[0]) {
		texts[m.Text] = true
		if m.Scenario == "lookalike-senders" && !contains(lookalikesTuning, m.Sender) {
			t.Errorf("tuning lookalike %q is not from the tuning pool", m.Sender)
		}
	}
	seen := 0
	for _, m := range generate(variants[1]) {
		if contains(commonHeldout, m.Text) || contains(newYearHeldout, m.Text) {
			seen++
			if texts[m.Text] {
				t.Errorf("held-out phrase %q is in the tuning corpus", m.Text)
			}
		}
	}
	if seen == 0 {
		t.Error("the held-out corpus has none of its own phrases")
	}
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}
