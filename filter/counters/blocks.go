package counters

import "time"

// BlockSize is how many consecutive numbers make one block: 4915112345600
// to 4915112345699.
const BlockSize = 100

// Blocks finds consecutive numbers acting together: SIM farms and number
// ranges bought in bulk send one text from neighbouring numbers. For each
// key (a text, a text and a destination) it counts the distinct numbers in
// each block of BlockSize; a block reaching the threshold is remembered as
// flagged for the window, and so are the numbers of the blocks beside it
// from their first message: a farm of 200 consecutive SIMs lets through the
// first few of its first block, not the first few of every block.
type Blocks struct {
	counts  *Distinct
	flagged *Seen
	window  time.Duration
}

// NewBlocks returns Blocks counting over window; lim is shared by the counts
// and the flagged blocks.
func NewBlocks(window time.Duration, lim Limit) *Blocks {
	half := lim
	half.keys /= 2
	half.bytes /= 2
	return &Blocks{counts: NewDistinct(window, half), flagged: NewSeen(half), window: window}
}

// Add records number for key at now and returns the distinct numbers of
// its block for key so far and whether the block is flagged: at least
// threshold numbers, or a flagged block beside it.
func (b *Blocks) Add(key, number uint64, threshold int, now int64) (n int, flagged bool) {
	block := number / BlockSize
	n = int(b.counts.Add(KeyUint64(key, block), number, now))
	if n >= threshold {
		b.flagged.Add(KeyUint64(key, block), now, b.window)
		return n, true
	}
	for _, near := range [3]uint64{block, block - 1, block + 1} {
		if b.flagged.Has(KeyUint64(key, near), now) {
			return n, true
		}
	}
	return n, false
}

// Tables lists the two tables for metrics.
func (b *Blocks) Tables(prefix string) []Named {
	return []Named{{Name: prefix + "_counts", Table: b.counts}, {Name: prefix + "_flagged", Table: b.flagged}}
}
