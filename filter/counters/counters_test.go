package counters

import (
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"
)

const t0 = int64(1_700_000_000) * int64(time.Second)

func at(d time.Duration) int64 { return t0 + int64(d) }

func TestWindow(t *testing.T) {
	w := NewWindow(10*time.Second, 10, Keys(1000)) // 1s buckets
	steps := []struct {
		add  bool
		at   time.Duration
		n    uint32
		want uint32
	}{
		{true, 0, 1, 1},
		{true, 500 * time.Millisecond, 2, 3},
		{true, 1 * time.Second, 1, 4},            // next bucket
		{false, 9*time.Second + 999, 0, 4},       // all buckets still live
		{false, 10 * time.Second, 0, 1},          // bucket 0 (3 events) rolled out
		{true, 10*time.Second + 1, 5, 6},         //
		{false, 11 * time.Second, 0, 5},          // bucket 1 rolled out
		{true, 5 * time.Second, 1, 6},            // lagging clock, still inside: counted
		{true, 0, 7, 6},                          // older than the window: ignored
		{false, 19*time.Second + 999, 0, 5},      // buckets 5 and 10 live
		{false, 20*time.Second + 999, 0, 0},      // everything gone
		{true, 100 * time.Second, 2, 2},          // long gap clears
		{false, 109*time.Second + 999_999, 0, 2}, //
		{false, 110 * time.Second, 0, 0},
	}
	for i, st := range steps {
		var got uint32
		if st.add {
			got = w.Add(1, at(st.at), st.n)
		} else {
			got = w.Count(1, at(st.at))
		}
		if got != st.want {
			t.Fatalf("step %d (add=%v at %v n=%d): got %d, want %d", i, st.add, st.at, st.n, got, st.want)
		}
	}
	if w.Count(2, t0) != 0 || w.Len() != 1 {
		t.Fatalf("Count on an unknown key inserted it: Len %d", w.Len())
	}
	// Saturation.
	w.Add(3, t0, math.MaxUint32)
	if got := w.Add(3, t0, 5); got != math.MaxUint32 {
		t.Fatalf("saturation: %d", got)
	}
}

func TestWindowSingleBucket(t *testing.T) {
	w := NewWindow(time.Second, 0, Keys(10)) // clamped to 1 bucket: a tumbling window
	if w.Add(1, t0, 1) != 1 || w.Add(1, at(999*time.Millisecond), 1) != 2 || w.Add(1, at(time.Second), 1) != 1 {
		t.Fatal("single bucket")
	}
}

func TestDistinctExact(t *testing.T) {
	d := NewDistinct(time.Minute, Keys(100))
	for i := uint64(1); i <= exactMax; i++ {
		if got := d.Add(7, i*1000, t0); got != uint32(i) {
			t.Fatalf("value %d: %d", i, got)
		}
		if got := d.Add(7, 1000, t0); got != uint32(i) { // repeat
			t.Fatalf("repeat after %d: %d", i, got)
		}
	}
	// Other keys are independent.
	if got := d.Add(8, 1000, t0); got != 1 {
		t.Fatalf("other key: %d", got)
	}
	// The window restarts at start+window.
	if got := d.Add(7, 5, at(time.Minute-1)); got != exactMax+1 {
		t.Fatalf("before the window ends: %d", got)
	}
	if got := d.Add(7, 5, at(time.Minute)); got != 1 {
		t.Fatalf("after the window: %d", got)
	}
}

// TestDistinctEstimate checks the sketch: counts never decrease, 10k values
// land within 20% (4.3 standard errors of 4.6%) on every one of 200 keys,
// and the mean absolute error stays near the theoretical
// 4.6%*sqrt(2/pi) = 3.7%.
func TestDistinctEstimate(t *testing.T) {
	d := NewDistinct(time.Hour, Keys(1000))
	const keys, n = 200, 10_000
	var sumAbs, worst float64
	for k := uint64(0); k < keys; k++ {
		prev := uint32(0)
		for v := uint64(0); v < n; v++ {
			got := d.Add(k, k<<32|v, t0)
			if got < prev {
				t.Fatalf("key %d: count fell from %d to %d", k, prev, got)
			}
			prev = got
			if v == 99 || v == 999 { // linear-counting range
				if e := math.Abs(float64(got)-float64(v+1)) / float64(v+1); e > 0.15 {
					t.Errorf("key %d: %d values estimated %d", k, v+1, got)
				}
			}
		}
		// Repeats do not move it.
		if again := d.Add(k, k<<32|5, t0); again != prev {
			t.Errorf("repeat moved the estimate: %d -> %d", prev, again)
		}
		e := math.Abs(float64(prev)-n) / n
		sumAbs += e
		worst = max(worst, e)
	}
	mean := sumAbs / keys
	t.Logf("10k distinct values on %d keys: mean abs error %.2f%%, worst %.2f%%", keys, mean*100, worst*100)
	if worst > 0.20 || mean > 0.05 {
		t.Fatalf("estimate error too large: mean %.3f worst %.3f", mean, worst)
	}
}

func TestDistinctTransition(t *testing.T) {
	d := NewDistinct(time.Hour, Keys(10))
	for v := uint64(1); v <= 40; v++ {
		got := d.Add(1, v, t0)
		if v <= exactMax && got != uint32(v) {
			t.Fatalf("%d: %d", v, got)
		}
		if v > exactMax && (got < exactMax || got > 50) {
			t.Fatalf("%d values estimated %d", v, got)
		}
	}
}

func TestLimiter(t *testing.T) {
	l := NewLimiter(Keys(100))
	const rate, burst = 10.0, 5 // T = 100ms, tolerance 500ms
	for i := 0; i < burst; i++ {
		if ok, _ := l.Allow(1, t0, rate, burst, 1); !ok {
			t.Fatalf("burst event %d denied", i)
		}
	}
	ok, retry := l.Allow(1, t0, rate, burst, 1)
	if ok || retry != 100*time.Millisecond {
		t.Fatalf("over burst: ok=%v retry=%v", ok, retry)
	}
	// One emission interval later exactly one more conforms.
	if ok, _ := l.Allow(1, at(100*time.Millisecond-1), rate, burst, 1); ok {
		t.Fatal("allowed 1ns early")
	}
	if ok, _ := l.Allow(1, at(100*time.Millisecond), rate, burst, 1); !ok {
		t.Fatal("denied on time")
	}
	if ok, retry := l.Allow(1, at(100*time.Millisecond), rate, burst, 1); ok || retry != 100*time.Millisecond {
		t.Fatalf("second at 100ms: ok=%v retry=%v", ok, retry)
	}
	// Cost n: after idling 1s the bucket is full again; 3 + 2 fit, 1 more does not.
	if ok, _ := l.Allow(1, at(1100*time.Millisecond), rate, burst, 3); !ok {
		t.Fatal("n=3 after idle")
	}
	if ok, _ := l.Allow(1, at(1100*time.Millisecond), rate, burst, 2); !ok {
		t.Fatal("n=2 to fill the burst")
	}
	if ok, retry := l.Allow(1, at(1100*time.Millisecond), rate, burst, 2); ok || retry != 200*time.Millisecond {
		t.Fatalf("n=2 over: ok=%v retry=%v", ok, retry)
	}
	// Never-conforming requests.
	for _, c := range []struct {
		rate  float64
		burst int
		n     int
	}{{0, 5, 1}, {-1, 5, 1}, {math.NaN(), 5, 1}, {10, 5, 6}, {10, 0, 2}} {
		if ok, retry := l.Allow(2, t0, c.rate, c.burst, c.n); ok || retry != -1 {
			t.Errorf("%+v: ok=%v retry=%v", c, ok, retry)
		}
	}
	// n=0 asks without recording; denied requests insert nothing.
	before := l.Len()
	if ok, _ := l.Allow(3, t0, rate, burst, 0); !ok || l.Len() != before {
		t.Fatalf("peek: ok=%v len %d->%d", ok, before, l.Len())
	}
	if ok, _ := l.Allow(4, t0, rate, 1, 2); ok || l.Len() != before {
		t.Fatal("denied request inserted a key")
	}
}

// TestLimiterConformance drives a key far over its rate for 10 simulated
// seconds: exactly burst + rate*10 events get through, evenly spaced.
func TestLimiterConformance(t *testing.T) {
	l := NewLimiter(Keys(10))
	const rate, burst = 50.0, 20
	allowed := 0
	for ms := int64(0); ms < 10_000; ms++ {
		for j := 0; j < 3; j++ {
			if ok, _ := l.Allow(1, t0+ms*int64(time.Millisecond), rate, burst, 1); ok {
				allowed++
			}
		}
	}
	if want := burst + int(rate*10) - 1; allowed < want || allowed > want+1 {
		t.Fatalf("allowed %d, want about %d", allowed, want)
	}
	// Retry-after is exact: waiting it out always conforms.
	now := t0 + 20*int64(time.Second)
	for i := 0; i < 100; i++ {
		ok, retry := l.Allow(2, now, 7, 3, 1)
		if !ok {
			now += int64(retry)
			if ok, _ := l.Allow(2, now, 7, 3, 1); !ok {
				t.Fatalf("denied after waiting retryAfter %v", retry)
			}
		}
	}
}

func TestSequence(t *testing.T) {
	s := NewSequence(time.Minute, Keys(100))
	steps := []struct {
		num  uint64
		at   time.Duration
		want int
	}{
		{4915100001, 0, 1},
		{4915100002, time.Second, 2},
		{4915100003, 2 * time.Second, 3},
		{4915100003, 3 * time.Second, 3},  // repeat: unchanged
		{4915100010, 4 * time.Second, 4},  // +7 is within tolerance 10
		{4915100025, 5 * time.Second, 1},  // +15: restart
		{4915100011, 6 * time.Second, 2},  // near 4915100010, still remembered
		{4915100012, 7 * time.Second, 3},  //
		{4915100013, 68 * time.Second, 1}, // gap > window: restart
		{4915100012, 69 * time.Second, 2}, // downwards counts too
		{1, 70 * time.Second, 1},
		{0, 71 * time.Second, 2}, // no underflow trouble at 0
		{math.MaxUint64, 72 * time.Second, 1},
	}
	for i, st := range steps {
		if got := s.Observe(9, st.num, at(st.at)); got != st.want {
			t.Fatalf("step %d (%d at %v): run %d, want %d", i, st.num, st.at, got, st.want)
		}
	}
	// Interleaved sequences from one key keep the run going.
	q := NewSequenceTolerance(time.Minute, Keys(10), 1)
	run := 0
	for i := uint64(0); i < 10; i++ {
		q.Observe(1, 1000+i, at(time.Duration(2*i)))
		run = q.Observe(1, 9000+i, at(time.Duration(2*i+1)))
	}
	if run != 19 {
		t.Fatalf("interleaved run %d, want 19", run)
	}
}

func TestSeen(t *testing.T) {
	s := NewSeen(Keys(100))
	s.Add(1, t0, time.Minute)
	if !s.Has(1, t0) || !s.Has(1, at(time.Minute-1)) || s.Has(2, t0) {
		t.Fatal("Has")
	}
	if s.Has(1, at(time.Minute)) {
		t.Fatal("not expired at ttl")
	}
	if s.Len() != 0 || s.Stats().Expired != 1 {
		t.Fatalf("expired key not dropped: %+v", s.Stats())
	}
	s.Add(3, t0, time.Minute)
	s.Add(3, at(50*time.Second), time.Minute) // refresh
	if !s.Has(3, at(100*time.Second)) {
		t.Fatal("refresh")
	}
	s.Add(3, t0, 0)
	if s.Has(3, t0) {
		t.Fatal("ttl 0 did not forget")
	}
	s.Add(4, t0, time.Hour)
	if !s.Remove(4) || s.Remove(4) || s.Has(4, t0) {
		t.Fatal("Remove")
	}
}

// TestEvictionOrder uses one shard of 16 keys, where a sweep covers the
// whole shard: expired keys go first, then the least recently used.
func TestEvictionOrder(t *testing.T) {
	s := NewSeen(Keys(16))
	if st := s.Stats(); st.Capacity != 16 {
		t.Fatalf("capacity %d", st.Capacity)
	}
	for k := uint64(0); k < 8; k++ {
		s.Add(k, at(time.Duration(k)), time.Second) // short-lived
	}
	for k := uint64(8); k < 16; k++ {
		s.Add(k, at(time.Duration(k)), time.Hour)
	}
	now := at(2 * time.Second)
	for k := uint64(16); k < 24; k++ {
		s.Add(k, now, time.Hour)
	}
	for k := uint64(8); k < 24; k++ {
		if !s.Has(k, now) {
			t.Fatalf("live key %d evicted while expired ones were there", k)
		}
	}
	if st := s.Stats(); st.Expired != 8 || st.Evictions != 0 || st.Len != 16 {
		t.Fatalf("stats %+v", st)
	}
	// All live now. Touch every key but 11, later: 11 is the LRU victim.
	later := at(3 * time.Second)
	for k := uint64(8); k < 24; k++ {
		if k != 11 {
			s.Has(k, later)
		}
	}
	s.Add(100, later, time.Hour)
	if s.Has(11, later) || !s.Has(100, later) {
		t.Fatal("LRU key not the one evicted")
	}
	if st := s.Stats(); st.Evictions != 1 || st.Len != 16 {
		t.Fatalf("stats %+v", st)
	}
}

// TestBounded drives 20x maxKeys distinct keys through every type: Len never
// exceeds maxKeys and the heap stays flat.
func TestBounded(t *testing.T) {
	const maxKeys = 5000
	w := NewWindow(time.Minute, 10, Keys(maxKeys))
	d := NewDistinct(time.Minute, Keys(maxKeys))
	l := NewLimiter(Keys(maxKeys))
	q := NewSequence(time.Minute, Keys(maxKeys))
	s := NewSeen(Keys(maxKeys))
	lens := func() []int { return []int{w.Len(), d.Len(), l.Len(), q.Len(), s.Len()} }
	for k := uint64(0); k < 20*maxKeys; k++ {
		now := t0 + int64(k) // all live: evictions must pick live keys
		w.Add(k, now, 1)
		d.Add(k, k, now)
		l.Allow(k, now, 1, 1, 1)
		q.Observe(k, k, now)
		s.Add(k, now, time.Hour)
		if k%997 == 0 {
			for i, n := range lens() {
				if n > maxKeys {
					t.Fatalf("type %d holds %d > %d keys", i, n, maxKeys)
				}
			}
		}
	}
	for i, st := range []Stats{w.Stats(), d.Stats(), l.Stats(), q.Stats(), s.Stats()} {
		if st.Len > maxKeys || st.Capacity > maxKeys || st.Capacity < maxKeys*9/10 || st.Evictions == 0 {
			t.Fatalf("type %d: %+v", i, st)
		}
	}
}

// TestMemoryPerKey fills each type to capacity and logs the heap per key
// (run with -v).
func TestMemoryPerKey(t *testing.T) {
	if raceEnabled {
		t.Skip("heap figures are meaningless under -race")
	}
	const maxKeys = 100_000
	measure := func(name string, fill func() any) {
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		x := fill()
		runtime.GC()
		runtime.ReadMemStats(&m1)
		per := float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc)) / maxKeys
		t.Logf("%-9s %6.0f bytes/key at %d keys", name, per, maxKeys)
		if per > 1024 {
			t.Errorf("%s: %.0f bytes/key", name, per)
		}
		runtime.KeepAlive(x)
	}
	measure("Window10", func() any {
		w := NewWindow(time.Minute, 10, Keys(maxKeys))
		for k := uint64(0); k < 2*maxKeys; k++ {
			w.Add(k, t0, 1)
		}
		return w
	})
	measure("Distinct", func() any {
		d := NewDistinct(time.Minute, Keys(maxKeys))
		for k := uint64(0); k < 2*maxKeys; k++ {
			d.Add(k, k, t0)
		}
		return d
	})
	measure("Limiter", func() any {
		l := NewLimiter(Keys(maxKeys))
		for k := uint64(0); k < 2*maxKeys; k++ {
			l.Allow(k, t0, 1, 1, 1)
		}
		return l
	})
	measure("Sequence", func() any {
		q := NewSequence(time.Minute, Keys(maxKeys))
		for k := uint64(0); k < 2*maxKeys; k++ {
			q.Observe(k, k, t0)
		}
		return q
	})
	measure("Seen", func() any {
		s := NewSeen(Keys(maxKeys))
		for k := uint64(0); k < 2*maxKeys; k++ {
			s.Add(k, t0, time.Hour)
		}
		return s
	})
}

func TestConcurrent(t *testing.T) {
	const G, N = 16, 2000
	w := NewWindow(time.Minute, 10, Keys(1000))
	d := NewDistinct(time.Minute, Keys(1000))
	l := NewLimiter(Keys(1000))
	// Hot keys live in tables without churn, so eviction cannot touch them.
	wHot, dHot, lHot := NewWindow(time.Minute, 10, Keys(10)), NewDistinct(time.Minute, Keys(10)), NewLimiter(Keys(10))
	q := NewSequence(time.Minute, Keys(1000))
	s := NewSeen(Keys(1000))
	var wg sync.WaitGroup
	var allowed [G]int
	for g := 0; g < G; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < N; i++ {
				now := t0 + int64(i)*int64(time.Microsecond)
				k := uint64(i % 3000) // more keys than fit: evictions race too
				wHot.Add(0, t0, 1)    // one hot key, fixed time
				w.Add(k, now, 1)
				w.Count(k, now)
				dHot.Add(0, uint64(g*N+i), now)
				d.Add(k, uint64(g), now)
				if ok, _ := lHot.Allow(0, t0, 1, 100, 1); ok {
					allowed[g]++
				}
				l.Allow(k, now, 1000, 10, 1)
				q.Observe(k, uint64(i), now)
				s.Add(k, now, time.Second)
				s.Has(uint64((i+g)%3000), now)
				_ = w.Stats()
			}
		}(g)
	}
	wg.Wait()
	if got := wHot.Count(0, t0); got != G*N {
		t.Fatalf("hot key counted %d, want %d", got, G*N)
	}
	total := 0
	for _, a := range allowed {
		total += a
	}
	if total != 100 {
		t.Fatalf("limiter let %d through at one instant, want the burst of 100", total)
	}
	if est := dHot.Add(0, 0, t0); math.Abs(float64(est)-G*N)/(G*N) > 0.15 {
		t.Fatalf("distinct estimate %d for %d", est, G*N)
	}
	for _, n := range []int{w.Len(), d.Len(), l.Len(), q.Len(), s.Len()} {
		if n > 1000 {
			t.Fatalf("Len %d > 1000", n)
		}
	}
}

func TestKey(t *testing.T) {
	a := Key([]byte("ab"), []byte("c"))
	if a != Key([]byte("ab"), []byte("c")) {
		t.Fatal("not deterministic")
	}
	distinct := []uint64{
		a, Key([]byte("a"), []byte("bc")), Key([]byte("abc")), Key([]byte("c"), []byte("ab")),
		Key(), Key(nil), Key(nil, nil), KeyString("ab", "c"), KeyUint64(1, 2), KeyUint64(2, 1), KeyUint64(1),
	}
	seen := map[uint64]int{}
	for i, k := range distinct {
		if j, ok := seen[k]; ok && !(i == 7 && j == 0) { // KeyString and Key agree on equal bytes
			t.Errorf("keys %d and %d collide", j, i)
		}
		seen[k] = i
	}
	if KeyString("ab", "c") != a {
		t.Error("KeyString differs from Key on the same bytes")
	}
}

func TestAllocs(t *testing.T) {
	w := NewWindow(time.Minute, 10, Keys(100))
	d := NewDistinct(time.Minute, Keys(100))
	dh := NewDistinct(time.Minute, Keys(100)) // in sketch mode
	l := NewLimiter(Keys(100))
	q := NewSequence(time.Minute, Keys(100))
	s := NewSeen(Keys(100))
	w.Add(1, t0, 1)
	d.Add(1, 1, t0)
	for v := uint64(0); v < 100; v++ {
		dh.Add(1, v, t0)
	}
	l.Allow(1, t0, 1e6, 10, 1)
	q.Observe(1, 1, t0)
	s.Add(1, t0, time.Hour)
	text, sender := []byte("Your code is 1234"), []byte("4915112345678")
	i := int64(0)
	cases := map[string]func(){
		"Window.Add":       func() { i++; w.Add(1, t0+i*int64(time.Second), 1) },
		"Window.Count":     func() { i++; w.Count(1, t0+i) },
		"Distinct.Add":     func() { i++; d.Add(1, uint64(i%20), t0+i) },
		"Distinct.AddHLL":  func() { i++; dh.Add(1, uint64(i), t0+i) },
		"Limiter.Allow":    func() { i++; l.Allow(1, t0+i*int64(time.Millisecond), 1e6, 10, 1) },
		"Sequence.Observe": func() { i++; q.Observe(1, uint64(i), t0+i) },
		"Seen.Add":         func() { i++; s.Add(1, t0+i, time.Hour) },
		"Seen.Has":         func() { i++; s.Has(1, t0+i) },
		"Key":              func() { _ = Key(text, sender) },
		"KeyString":        func() { _ = KeyString("peer", "DE") },
		"KeyUint64":        func() { _ = KeyUint64(7, 4915112345678) },
	}
	for name, f := range cases {
		if n := testing.AllocsPerRun(1000, f); n != 0 {
			t.Errorf("%s: %v allocs per call", name, n)
		}
	}
}

// TestBytesBudget drives 2,000,000 distinct live keys through a table of
// each type sized Bytes(32 MiB): the table evicts, its estimate stays within
// the budget, and the heap it really holds (after a GC) stays within the
// budget plus a quarter.
func TestBytesBudget(t *testing.T) {
	if raceEnabled {
		t.Skip("heap figures are meaningless under -race")
	}
	const budget, keys = 32 << 20, 2_000_000
	for _, tc := range []struct {
		name string
		make func() Table
		add  func(x Table, k uint64, now int64)
	}{
		{"Window10", func() Table { return NewWindow(time.Minute, 10, Bytes(budget)) },
			func(x Table, k uint64, now int64) { x.(*Window).Add(k, now, 1) }},
		{"Distinct", func() Table { return NewDistinct(time.Minute, Bytes(budget)) },
			func(x Table, k uint64, now int64) { x.(*Distinct).Add(k, k, now) }},
		{"Limiter", func() Table { return NewLimiter(Bytes(budget)) },
			func(x Table, k uint64, now int64) { x.(*Limiter).Allow(k, now, 1, 1, 1) }},
		{"Sequence", func() Table { return NewSequence(time.Minute, Bytes(budget)) },
			func(x Table, k uint64, now int64) { x.(*Sequence).Observe(k, k, now) }},
		{"Seen", func() Table { return NewSeen(Bytes(budget)) },
			func(x Table, k uint64, now int64) { x.(*Seen).Add(k, now, time.Hour) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m0, m1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&m0)
			x := tc.make()
			for k := uint64(0); k < keys; k++ {
				tc.add(x, k, t0+int64(k)) // all live: room comes from evictions
			}
			runtime.GC()
			runtime.ReadMemStats(&m1)
			heap := int64(m1.HeapAlloc) - int64(m0.HeapAlloc)
			st := x.Stats()
			t.Logf("%d keys held (%d bytes/key estimated), %d evicted; estimate %d MiB, heap %d MiB, budget %d MiB",
				st.Len, st.KeyBytes, st.Evictions, st.Bytes()>>20, heap>>20, budget>>20)
			// Every key is held or counted as evicted (the Limiter's
			// buckets can overflow before the table is full).
			if st.MaxBytes() > budget || st.Bytes() > budget || uint64(st.Len)+st.Evictions+st.Expired != keys {
				t.Fatalf("stats %+v", st)
			}
			if heap > budget+budget/4 {
				t.Fatalf("heap grew %d bytes for a budget of %d", heap, budget)
			}
			runtime.KeepAlive(x)
		})
	}
}

// limModel is the Limiter's GCRA over a map: no capacity, no eviction.
type limModel map[uint64]int64

func (m limModel) allow(key uint64, now int64, rate float64, burst, n int) (bool, time.Duration) {
	if !(rate > 0) {
		return false, -1
	}
	burst = max(burst, 1)
	if n > burst {
		return false, -1
	}
	T := 1e9 / rate
	tat := max(m[key], now)
	newTAT := tat + span(T*float64(n))
	if over := newTAT - now - span(T*float64(burst)); over > 0 {
		return false, time.Duration(over)
	}
	if n > 0 {
		m[key] = newTAT
	}
	return true, 0
}

// resync sets key's model state from the table's: a request of cost 0
// whose tolerance is 0 is refused for exactly as long as the TAT is ahead.
func (m limModel) resync(l *Limiter, key uint64, now int64) {
	delete(m, key)
	if ok, ahead := l.Allow(key, now, 1e18, 1, 0); !ok {
		m[key] = now + int64(ahead)
	}
}

// TestLimiterMatchesModel drives random Allow, Refund and Raise calls over
// keys that fit (no eviction may happen) and compares every answer with
// the map model; then, in a table far too small, checks that every key is
// held or counted as evicted, and that an evicted key only ever gets more
// budget (it is forgotten), never less.
func TestLimiterMatchesModel(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct {
		name    string
		maxKeys int
		keys    uint64
	}{{"fits", 100_000, 2_000}, {"tiny", 1, 3}, {"one-bucket", 4, 4}, {"evicting", 64, 5_000}} {
		t.Run(tc.name, func(t *testing.T) {
			l, m := NewLimiter(Keys(tc.maxKeys)), limModel{}
			now := t0
			for step := range 200_000 {
				now += int64(r.IntN(3_000_000))
				key := r.Uint64N(tc.keys) * 0x2545F4914F6CDD1D
				rate, burst, n := float64(1+r.IntN(200)), 1+r.IntN(8), r.IntN(4)
				switch r.IntN(10) {
				case 0:
					l.Refund(key, now, rate, n)
					if tat, ok := m[key]; ok && n > 0 {
						m[key] = max(tat-span(1e9/rate*float64(n)), now)
					}
					continue
				case 1:
					tat := now + int64(r.IntN(int(time.Second)))
					l.Raise(key, now, tat)
					if tat > now {
						m[key] = max(m[key], tat)
					}
					continue
				}
				ok, retry := l.Allow(key, now, rate, burst, n)
				evicted := l.Stats().Evictions
				wantOK, wantRetry := m.allow(key, now, rate, burst, n)
				if evicted == 0 && (ok != wantOK || retry != wantRetry) {
					t.Fatalf("step %d key %x: (%v, %v), model (%v, %v)", step, key, ok, retry, wantOK, wantRetry)
				}
				if ok != wantOK || retry != wantRetry {
					// The key was evicted: forgotten, so it may only get
					// more budget, never less; resync the model.
					if wantOK && !ok || !ok && !wantOK && retry > wantRetry {
						t.Fatalf("step %d key %x: (%v, %v), stricter than the model (%v, %v)", step, key, ok, retry, wantOK, wantRetry)
					}
					m.resync(l, key, now)
				}
				if st := l.Stats(); st.Len > st.Capacity || st.Capacity > tc.maxKeys {
					t.Fatalf("step %d: %+v", step, st)
				}
			}
			if st := l.Stats(); (st.Evictions == 0) != (tc.keys <= uint64(tc.maxKeys)) {
				t.Fatalf("evictions: %+v", st)
			}
		})
	}
}

// TestLimiterEviction: one bucket of 4; idle keys are reused first
// (Expired), then the live key with the earliest TAT goes (Evictions).
func TestLimiterEviction(t *testing.T) {
	l := NewLimiter(Keys(4))
	if st := l.Stats(); st.Capacity != 4 {
		t.Fatalf("capacity %d", st.Capacity)
	}
	const rate = 1.0 // T = 1s; burst 10
	for k := uint64(1); k <= 4; k++ {
		l.Allow(k, t0, rate, 10, int(k)) // key k owes k seconds
	}
	// At t0+1.5s key 1 is idle: key 5 takes its slot.
	now := at(1500 * time.Millisecond)
	l.Allow(5, now, rate, 10, 9) // owes until t0+10.5s
	if st := l.Stats(); st.Expired != 1 || st.Evictions != 0 || st.Len != 4 {
		t.Fatalf("stats %+v", st)
	}
	// All live: key 6 evicts key 2 (TAT t0+2s, the earliest).
	l.Allow(6, now, rate, 10, 10)
	if st := l.Stats(); st.Evictions != 1 || st.Len != 4 {
		t.Fatalf("stats %+v", st)
	}
	for _, c := range []struct {
		k    uint64
		want bool
	}{{3, false}, {4, false}, {5, false}, {6, false}, {2, true}} { // refusals insert nothing
		k, want := c.k, c.want
		// A held key with debt refuses a full burst; an evicted one is new.
		if ok, _ := l.Allow(k, now, rate, 10, 10); ok != want {
			t.Errorf("key %d: full burst allowed %v, want %v", k, ok, want)
		}
	}
}
