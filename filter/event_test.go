package filter

import (
	"sync"
	"testing"
	"time"
)

func TestNewEventID(t *testing.T) {
	const goroutines, each = 4, 5000 // more than 1024 per millisecond: borrows ahead
	ids := make(chan int64, goroutines*each)
	var wg sync.WaitGroup
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := int64(0)
			for range each {
				id := NewEventID()
				if id <= last {
					t.Errorf("id %d after %d: not increasing", id, last)
					return
				}
				last = id
				ids <- id
			}
		}()
	}
	wg.Wait()
	close(ids)
	seen := map[int64]bool{}
	for id := range ids {
		if seen[id] {
			t.Fatalf("duplicate id %d", id)
		}
		seen[id] = true
	}
	id := NewEventID()
	ms := id >> (eventNodeBits + eventSeqBits)
	if d := time.Since(time.UnixMilli(ms)); d < -time.Second || d > time.Second {
		t.Fatalf("id %d carries time %v, %v from now", id, time.UnixMilli(ms), d)
	}
	if node := id >> eventSeqBits & (1<<eventNodeBits - 1); node != eventNode {
		t.Fatalf("node %d, want %d", node, eventNode)
	}
}
