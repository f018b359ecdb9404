package receipts

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/smsfw/smsfw/filter"
)

// memJournal is a Journal in memory (the store's is tested in store/).
type memJournal struct {
	mu     sync.Mutex
	seq    int64
	chunks []Chunk
	fail   bool
}

func (m *memJournal) AppendChunks(_ context.Context, cs []Chunk) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return errors.New("store down")
	}
	for i := range cs {
		m.seq++
		cs[i].Seq = m.seq
		m.chunks = append(m.chunks, cs[i])
	}
	return nil
}

func (m *memJournal) ChunksAfter(_ context.Context, after int64, limit int) ([]Chunk, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return nil, errors.New("store down")
	}
	var out []Chunk
	for _, c := range m.chunks {
		if c.Seq > after && len(out) < limit {
			out = append(out, c)
		}
	}
	return out, nil
}

func (m *memJournal) DropChunks(_ context.Context, node string, before int64, now time.Time) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := len(m.chunks)
	m.chunks = slices.DeleteFunc(m.chunks, func(c Chunk) bool {
		return c.Node == node && c.Seq < before || !c.Expires().After(now)
	})
	return int64(n - len(m.chunks)), nil
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// node is one smsfw's fake-receipt check over a journal.
type node struct {
	t  *testing.T
	st *State
	d  *Detector
	c  *clock
	m  *Metrics
}

func startNode(t *testing.T, j Journal, name string, c *clock) *node {
	t.Helper()
	return startNodeWith(t, c, JournalOptions{Journal: j, Node: name})
}

// startNodeWith is startNode with more of the journal's options (its
// clock, metrics and manual mode are the test's).
func startNodeWith(t *testing.T, c *clock, o JournalOptions) *node {
	t.Helper()
	st := NewState(10_000)
	m := NewMetrics(nil)
	o.Now, o.Metrics, o.manual = c.now, m, true
	st.Persist(context.Background(), o)
	return &node{t: t, st: st, d: New(st, 0), c: c, m: m} // remember: 72h
}

func (n *node) sync() {
	n.t.Helper()
	if err := n.st.journal.write(context.Background(), false); err != nil {
		n.t.Fatal(err)
	}
	if err := n.st.journal.read(context.Background()); err != nil {
		n.t.Fatal(err)
	}
}

// judge returns what the check finds of a receipt of id for acme.
func (n *node) judge(id string) string {
	var det filter.Detections
	n.d.Detect(&filter.Facts{Direction: "mo", Peer: "acme", Receipt: true, ReceiptID: id}, &det, n.c.now().UnixNano())
	switch {
	case det.Has(Fake):
		return "fake"
	case det.Has(Early):
		return "early"
	}
	return "passed"
}

func TestJournalRestart(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)}
	j := &memJournal{}
	a := startNode(t, j, "", c)
	a.d.Observe("acme", []byte("1001"), c.now().UnixNano())
	a.sync()
	a.d.Observe("acme", []byte("1002"), c.now().UnixNano()) // after the last sync: the stop writes it
	if err := a.st.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}

	t.Run("after a clean stop every id is known and forged ones are refused at once", func(t *testing.T) {
		c.add(time.Minute)
		b := startNode(t, j, "", c)
		for id, want := range map[string]string{"1001": "passed", "1002": "passed", "1003": "fake"} {
			if got := b.judge(id); got != want {
				t.Errorf("receipt %s: %s, want %s", id, got, want)
			}
		}
		b.d.Observe("acme", []byte("2001"), c.now().UnixNano())
		b.sync() // b crashes here: 2002 is accepted and never written
		b.d.Observe("acme", []byte("2002"), c.now().UnixNano())
	})

	t.Run("after a crash unknown ids pass unjudged for the warm-up, then are refused", func(t *testing.T) {
		c.add(time.Minute)
		d := startNode(t, j, "", c)
		for id, want := range map[string]string{"1001": "passed", "2001": "passed", "2002": "passed", "9999": "passed"} {
			if got := d.judge(id); got != want {
				t.Errorf("receipt %s: %s, want %s", id, got, want)
			}
		}
		if got := promtest.ToFloat64(d.m.unverified); got != 2 {
			t.Errorf("unverified %v, want 2", got)
		}
		c.add(defaultWarmUp)
		if got := d.judge("9999"); got != "fake" {
			t.Errorf("after the warm-up: %s, want fake", got)
		}
		if got := d.judge("2001"); got != "passed" {
			t.Errorf("after the warm-up, a written id: %s", got)
		}
	})
}

func TestJournalCompaction(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)}
	j := &memJournal{}
	a := startNode(t, j, "a", c)
	for i := range 50 {
		a.d.Observe("acme", []byte{'1', byte('0' + i%10), byte('0' + i/10)}, c.now().UnixNano())
		a.sync()
		c.add(time.Second)
	}
	before := len(j.chunks)
	if err := a.st.journal.write(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if len(j.chunks) >= before || len(j.chunks) == 0 {
		t.Fatalf("compaction left %d chunks of %d", len(j.chunks), before)
	}
	b := startNode(t, j, "b", c)
	for i := range 50 {
		if got := b.judge(string([]byte{'1', byte('0' + i%10), byte('0' + i/10)})); got != "passed" {
			t.Fatalf("id %d after compaction: %s", i, got)
		}
	}
	// Generations older than remember expire from the journal.
	c.add(100 * time.Hour) // past remember (72h) and the chunks' margin
	a.sync()
	if _, err := j.DropChunks(context.Background(), "a", 0, c.now()); err != nil {
		t.Fatal(err)
	}
	for _, ch := range j.chunks {
		if ch.Kind == ChunkFull {
			t.Fatalf("an expired generation's chunk stayed: %+v", ch.Epoch)
		}
	}
}

func TestJournalTwoNodes(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)}
	j := &memJournal{}
	a, b := startNode(t, j, "a", c), startNode(t, j, "b", c)
	a.sync()
	b.sync()
	// A message accepted on a; its receipt comes on b before a wrote it.
	a.d.Observe("acme", []byte("5001"), c.now().UnixNano())
	if got := b.judge("5001"); got != "early" {
		t.Fatalf("a receipt before the id reached b: %s, want early (retried)", got)
	}
	c.add(100 * time.Millisecond)
	a.sync()
	b.sync()
	if got := b.judge("5001"); got != "passed" {
		t.Fatalf("the retry once b learnt the id: %s", got)
	}
	// A forged id: early while a may still hold it, fake once a's ids are
	// known up to after it was first seen.
	if got := b.judge("6666"); got != "early" {
		t.Fatalf("forged id, first: %s", got)
	}
	c.add(500 * time.Millisecond)
	a.sync()
	b.sync()
	if got := b.judge("6666"); got != "early" {
		t.Fatalf("forged id within the clock slack: %s", got)
	}
	c.add(clockSlack)
	a.sync()
	b.sync()
	if got := b.judge("6666"); got != "fake" {
		t.Fatalf("forged id once settled: %s", got)
	}
	// b does not echo a's ids back into the journal.
	n := 0
	for _, ch := range j.chunks {
		if ch.Node == "b" {
			n += len(ch.Words)
		}
	}
	if n != 0 {
		t.Fatalf("b wrote %d bytes of words it only learnt", n)
	}
	// A node that stopped cleanly is not waited for; a silent one only
	// until it is stale.
	if err := a.st.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	b.sync()
	if got := b.judge("7777"); got != "fake" {
		t.Fatalf("forged id with a stopped: %s", got)
	}
	a2 := startNode(t, j, "a", c)
	a2.sync()
	b.sync()
	if got := b.judge("8888"); got != "early" {
		t.Fatalf("forged id with a back: %s", got)
	}
	c.add(staleAfter + time.Second) // a2 went silent (crashed)
	b.sync()
	if got := b.judge("8888"); got != "fake" {
		t.Fatalf("forged id with a silent: %s", got)
	}
	// An hour later b's compaction drops a's chunks: b's own full chunks
	// hold a's ids, which a node starting then still knows.
	c.add(goneAfter)
	if err := b.st.journal.write(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	for _, ch := range j.chunks {
		if ch.Node != "b" {
			t.Fatalf("a chunk of a gone node stayed: %+v", ch)
		}
	}
	if got := startNode(t, j, "c", c).judge("5001"); got != "passed" {
		t.Fatalf("a's id after its chunks went: %s", got)
	}
}

// A node that starts while another is alone: the other has not read its
// first chunk when a receipt of the new node's first message reaches it.
func TestJournalNewNode(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)}
	j := &memJournal{}
	a := startNode(t, j, "a", c)
	a.sync()
	c.add(time.Millisecond)
	n := startNode(t, j, "n", c)
	n.d.Observe("acme", []byte("9001"), c.now().UnixNano())
	c.add(time.Millisecond)
	if got := a.judge("9001"); got != "early" {
		t.Fatalf("a receipt of the new node's id before a read the journal again: %s, want early", got)
	}
	if got := a.judge("6666"); got != "early" {
		t.Fatalf("a forged id before a read the journal again: %s, want early", got)
	}
	c.add(100 * time.Millisecond)
	n.sync()
	a.sync()
	if got := a.judge("9001"); got != "passed" {
		t.Fatalf("the retry once a learnt the id: %s", got)
	}
	c.add(clockSlack + time.Second)
	n.sync()
	a.sync()
	if got := a.judge("6666"); got != "fake" {
		t.Fatalf("forged id once settled: %s", got)
	}
	// With the journal unreadable for staleAfter, a does not wait for it.
	j.mu.Lock()
	j.fail = true
	j.mu.Unlock()
	c.add(staleAfter + time.Second)
	if got := a.judge("6667"); got != "fake" {
		t.Fatalf("forged id with the journal unreadable: %s", got)
	}
}

func TestJournalStoreDown(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)}
	j := &memJournal{fail: true}
	st := NewState(10_000)
	m := NewMetrics(nil)
	st.Persist(context.Background(), JournalOptions{Journal: j, Now: c.now, Metrics: m, manual: true})
	d := New(st, time.Hour)
	d.Observe("acme", []byte("42"), c.now().UnixNano())
	if err := st.journal.write(context.Background(), false); err == nil {
		t.Fatal("write to a failed store: no error")
	}
	if !st.warming(c.now().UnixNano(), defaultWarmUp) {
		t.Fatal("a start whose load failed does not warm up")
	}
	// The words not written are written whole once the store is back.
	j.fail = false
	if err := st.journal.write(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if err := st.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	n := startNode(t, j, "", c)
	if got := n.judge("42"); got != "passed" {
		t.Fatalf("id accepted while the store was down: %s", got)
	}
	// The warm-up is in the journal: a clean restart within it warms up
	// too (the ids lost while the store was down are still unknown).
	if got := n.judge("43"); got != "passed" {
		t.Fatalf("forged id within the warm-up, after a clean restart: %s", got)
	}
	c.add(defaultWarmUp)
	if got := n.judge("43"); got != "fake" {
		t.Fatalf("forged id after the warm-up: %s", got)
	}
}

// An upgrade from a version without the journal: the store held events,
// the journal is empty. The first node warms up, and so does every node
// that starts while the warm-up lasts, across compactions.
func TestJournalUpgrade(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)}
	start := func(j Journal, name string, used bool) *node {
		return startNodeWith(t, c, JournalOptions{Journal: j, Node: name, Used: used, WarmUp: defaultWarmUp})
	}
	if got := start(&memJournal{}, "a", false).judge("1"); got != "fake" {
		t.Fatalf("a first start on a new store: %s, want fake (no warm-up)", got)
	}
	j := &memJournal{}
	a := start(j, "a", true)
	if got := a.judge("1"); got != "passed" {
		t.Fatalf("the first start after an upgrade: %s, want passed (warm-up)", got)
	}
	c.add(11 * time.Minute)
	if err := a.st.journal.write(context.Background(), true); err != nil { // a compaction drops a's older chunks
		t.Fatal(err)
	}
	b := start(j, "b", true)
	b.sync()
	a.sync()
	c.add(clockSlack + time.Second)
	a.sync()
	b.sync()
	if got := b.judge("2"); got != "passed" {
		t.Fatalf("a node started within the warm-up, after a compaction: %s, want passed", got)
	}
	c.add(defaultWarmUp)
	a.sync()
	b.sync()
	if got := b.judge("3"); got != "early" {
		t.Fatalf("after the warm-up, first: %s, want early", got)
	}
	c.add(clockSlack + time.Second)
	a.sync()
	b.sync()
	if got := b.judge("3"); got != "fake" {
		t.Fatalf("after the warm-up: %s, want fake", got)
	}
	// A node starting after the warm-up does not warm up.
	if got := start(j, "c", true).judge("4"); got == "passed" {
		t.Fatalf("a node started after the warm-up: %s", got)
	}
	// Compactions after the warm-up do not write it again.
	a.d.Observe("acme", []byte("10"), c.now().UnixNano())
	c.add(time.Second)
	if err := a.st.journal.write(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	for _, ch := range j.chunks {
		if ch.Kind == ChunkWarmUp && ch.Node == "a" {
			t.Fatalf("a's warm-up chunk after the warm-up and a compaction: %+v", ch)
		}
	}
}
