package counters

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// TestBucketOfMatchesFloorDiv checks the division-free fast path gives the
// same bucket number as floorDiv for clocks in, before and after the head.
func TestBucketOfMatchesFloorDiv(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	widths := []int64{1, 3, 7, int64(time.Second) / 10, int64(time.Hour) / 24, 6e9}
	for _, width := range widths {
		w := &Window{width: width, nb: 10}
		for range 20000 {
			prev := r.Int64N(math.MaxInt64/2) - math.MaxInt64/4
			head := floorDiv(prev, width)
			now := prev + r.Int64N(4*width+1) - 2*width
			if r.IntN(8) == 0 {
				now = r.Int64N(math.MaxInt64/2) - math.MaxInt64/4
			}
			if got, want := w.bucketOf(now, head), floorDiv(now, width); got != want {
				t.Fatalf("width %d head %d now %d: bucketOf %d, floorDiv %d", width, head, now, got, want)
			}
		}
	}
}
