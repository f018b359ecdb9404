package counters

import (
	"sync/atomic"
	"testing"
	"time"
)

// goroutineSeed gives each parallel benchmark goroutine its own 1024 keys
// (key bits 32+) and clock: the benchmarks measure shard and lock overhead
// across cores, not two cores fighting over the same entries.
var goroutineSeed atomic.Int64

// Hot-path benchmarks on existing keys. Keys cycle through 1024 to touch
// more than one shard and cache line, like real traffic.

const benchKeys = 1024

func BenchmarkWindowAdd(b *testing.B) {
	w := NewWindow(time.Minute, 10, Keys(100_000))
	for k := uint64(0); k < benchKeys; k++ {
		w.Add(k, t0, 1)
	}
	b.ReportAllocs()
	i := int64(0)
	for b.Loop() {
		i++
		w.Add(uint64(i)&(benchKeys-1), t0+i*1000, 1)
	}
}

func BenchmarkWindowCount(b *testing.B) {
	w := NewWindow(time.Minute, 10, Keys(100_000))
	for k := uint64(0); k < benchKeys; k++ {
		w.Add(k, t0, 1)
	}
	b.ReportAllocs()
	i := int64(0)
	for b.Loop() {
		i++
		w.Count(uint64(i)&(benchKeys-1), t0+i*1000)
	}
}

func BenchmarkWindowAddParallel(b *testing.B) {
	w := NewWindow(time.Minute, 10, Keys(100_000))
	for k := uint64(0); k < benchKeys; k++ {
		w.Add(k, t0, 1)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := goroutineSeed.Add(1) << 20
		for pb.Next() {
			i++
			w.Add(uint64(i)&(benchKeys-1)|uint64(i>>20)<<32, t0+(i&0xFFFFF)*1000, 1)
		}
	})
}

func BenchmarkDistinctAddExact(b *testing.B) {
	d := NewDistinct(time.Hour, Keys(100_000))
	b.ReportAllocs()
	i := uint64(0)
	for b.Loop() {
		i++
		d.Add(i&(benchKeys-1), i>>10&15, t0) // 16 values a key: exact mode
	}
}

func BenchmarkDistinctAddSketch(b *testing.B) {
	d := NewDistinct(time.Hour, Keys(100_000))
	for k := uint64(0); k < benchKeys; k++ {
		for v := uint64(0); v < 100; v++ {
			d.Add(k, v, t0)
		}
	}
	b.ReportAllocs()
	i := uint64(0)
	for b.Loop() {
		i++
		d.Add(i&(benchKeys-1), i, t0)
	}
}

func BenchmarkLimiterAllow(b *testing.B) {
	l := NewLimiter(Keys(100_000))
	for k := uint64(0); k < benchKeys; k++ {
		l.Allow(k, t0, 100, 10, 1)
	}
	b.ReportAllocs()
	i := int64(0)
	for b.Loop() {
		i++
		l.Allow(uint64(i)&(benchKeys-1), t0+i*1000, 100, 10, 1)
	}
}

func BenchmarkLimiterAllowParallel(b *testing.B) {
	l := NewLimiter(Keys(100_000))
	for k := uint64(0); k < benchKeys; k++ {
		l.Allow(k, t0, 100, 10, 1)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := goroutineSeed.Add(1) << 20
		for pb.Next() {
			i++
			l.Allow(uint64(i)&(benchKeys-1)|uint64(i>>20)<<32, t0+(i&0xFFFFF)*1000, 100, 10, 1)
		}
	})
}

func BenchmarkSequenceObserve(b *testing.B) {
	q := NewSequence(time.Minute, Keys(100_000))
	for k := uint64(0); k < benchKeys; k++ {
		q.Observe(k, 4915100000, t0)
	}
	b.ReportAllocs()
	i := int64(0)
	for b.Loop() {
		i++
		q.Observe(uint64(i)&(benchKeys-1), 4915100000+uint64(i>>10), t0+i)
	}
}

func BenchmarkSeenAdd(b *testing.B) {
	s := NewSeen(Keys(100_000))
	for k := uint64(0); k < benchKeys; k++ {
		s.Add(k, t0, time.Hour)
	}
	b.ReportAllocs()
	i := int64(0)
	for b.Loop() {
		i++
		s.Add(uint64(i)&(benchKeys-1), t0+i, time.Hour)
	}
}

func BenchmarkSeenHas(b *testing.B) {
	s := NewSeen(Keys(100_000))
	for k := uint64(0); k < benchKeys; k++ {
		s.Add(k, t0, time.Hour)
	}
	b.ReportAllocs()
	i := int64(0)
	for b.Loop() {
		i++
		s.Has(uint64(i)&(benchKeys-1), t0+i)
	}
}

// BenchmarkSeenChurn inserts new keys into a full table: every call evicts.
func BenchmarkSeenChurn(b *testing.B) {
	s := NewSeen(Keys(10_000))
	b.ReportAllocs()
	i := int64(0)
	for b.Loop() {
		i++
		s.Add(uint64(i), t0+i, time.Hour)
	}
}

func BenchmarkKey(b *testing.B) {
	text := []byte("Your verification code is 123456. Do not share it.")
	sender := []byte("4915112345678")
	b.ReportAllocs()
	for b.Loop() {
		_ = Key(text, sender)
	}
}

func BenchmarkKeyUint64(b *testing.B) {
	b.ReportAllocs()
	i := uint64(0)
	for b.Loop() {
		i++
		_ = KeyUint64(7, i)
	}
}

// BenchmarkLimiterAllowNew is the rate limit per destination under a flood
// of ever-new destinations: every call a key never seen, in a table sized
// as the default policy's rate_limits budget (51 MiB). Keys expire 10 ms
// after their event ("expiring"), or live an hour ("live": the table fills
// and evicts).
func BenchmarkLimiterAllowNew(b *testing.B) {
	for _, tc := range []struct {
		name string
		rate float64
	}{{"expiring", 100}, {"live", 1.0 / 3600}} {
		b.Run(tc.name, func(b *testing.B) {
			l := NewLimiter(Bytes(51 << 20))
			k := uint64(0)
			for range 2_000_000 { // steady state: a full table (or as full as the keys' lives make it)
				k++
				l.Allow(KeyUint64(k), t0+int64(k)*1000, tc.rate, 1, 1)
			}
			b.ReportAllocs()
			for b.Loop() {
				k++
				l.Allow(KeyUint64(k), t0+int64(k)*1000, tc.rate, 1, 1)
			}
		})
	}
}
