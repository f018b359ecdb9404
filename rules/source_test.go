package rules

import (
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"time"

	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/smsfw/smsfw/internal/testutil"
)

const listPolicy = `version: 1
default: allow
lists:
  bad: {type: keywords, file: bad.txt}
rules:
  - {id: bad-word, when: 'contains_any(msg.text_norm, "bad")', action: block}
`

// A policy read from an fs.FS (the embedded default policy) resolves its
// list files inside the same FS.
func TestEngineFromFS(t *testing.T) {
	fsys := fstest.MapFS{
		"policies/p.yaml":  {Data: []byte(listPolicy)},
		"policies/bad.txt": {Data: []byte("# words\nfree money\n")},
	}
	e, err := NewEngineSource(FSSource(fsys, "policies/p.yaml"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if l := e.Snapshot().Lists["bad"]; l == nil || l.Len() != 1 {
		t.Fatalf("list %+v", l)
	}
	_, err = ParseSource(FSSource(fstest.MapFS{"p.yaml": {Data: []byte(listPolicy)}}, "p.yaml"))
	if err == nil || !strings.Contains(err.Error(), `p.yaml:4: list "bad":`) {
		t.Fatalf("missing list file: %v", err)
	}
}

// An edit to a list file alone reloads the policy; a broken list file is
// refused with its own file:line and the previous policy stays.
func TestListFileEditsReload(t *testing.T) {
	dir := t.TempDir()
	policy := filepath.Join(dir, "p.yaml")
	list := filepath.Join(dir, "bad.txt")
	// Written aside and renamed, as editors and config management do: the
	// watcher never sees a half-written (empty, hence valid) file.
	write := func(name, s string) { testutil.ReplaceFile(t, name, s) }
	write(policy, listPolicy)
	write(list, "free money\n")
	e, err := NewEngine(policy, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// What the program's watcher does on each tick (internal/app).
	poll := func() {
		if e.Changed() {
			_ = e.Reload()
		}
	}
	first := e.Snapshot()
	if e.Changed() {
		t.Fatal("changed before any edit")
	}
	write(list, "free money\nclaim your prize\n")
	testutil.Eventually(t, 5*time.Second, "the list edit reloaded", func() bool {
		poll()
		s := e.Snapshot()
		return s != first && s.Lists["bad"].Len() == 2
	})
	second := e.Snapshot()
	write(list, "free money\n\n   \n!!!\n") // "!!!" normalizes to nothing: refused
	testutil.Eventually(t, 5*time.Second, "the broken list refused", func() bool { poll(); return reloadFailures(e) == 1 })
	if e.Snapshot() != second {
		t.Fatal("a broken list file replaced the policy")
	}
	if e.Changed() {
		t.Fatal("a file that stays broken is reported again")
	}
	write(list, "free money\nclaim your prize\nwin big\n")
	testutil.Eventually(t, 5*time.Second, "the mended list reloaded", func() bool { poll(); return e.Snapshot().Lists["bad"].Len() == 3 })
}

func reloadFailures(e *Engine) float64 {
	return promtest.ToFloat64(e.m.reloads.WithLabelValues("failure"))
}
