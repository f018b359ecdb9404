package proxy

// table holds a leg's requests awaiting a response, keyed by the sequence
// number it allocates itself. Sequence numbers are chosen so that each maps
// to a free slot of a power-of-two ring: lookups are an index and a compare,
// with no hashing and no allocation. The caller holds the leg's lock.
type table[T any] struct {
	slots []slot[T]
	mask  uint32
	next  uint32
	n     int
}

type slot[T any] struct {
	seq  uint32
	used bool
	v    T
}

// newTable sizes the ring for window in-flight requests plus local ones.
func newTable[T any](window int) *table[T] {
	size := 16
	for size < 4*window {
		size <<= 1
	}
	return &table[T]{slots: make([]slot[T], size), mask: uint32(size - 1)}
}

// put stores v under a new sequence number in 1..0x7FFFFFFF; false when the
// ring is full (more in flight than the window allows: a bug or a flood).
func (t *table[T]) put(v T) (uint32, bool) {
	for range t.slots {
		t.next++
		if t.next > 0x7FFFFFFF {
			t.next = 1
		}
		s := &t.slots[t.next&t.mask]
		if !s.used {
			*s = slot[T]{seq: t.next, used: true, v: v}
			t.n++
			return t.next, true
		}
	}
	return 0, false
}

// take removes and returns the entry for seq.
func (t *table[T]) take(seq uint32) (T, bool) {
	s := &t.slots[seq&t.mask]
	if !s.used || s.seq != seq {
		var zero T
		return zero, false
	}
	v := s.v
	*s = slot[T]{}
	t.n--
	return v, true
}

// drain removes every entry for which keep returns false, calling out for each.
func (t *table[T]) drain(remove func(v *T) bool, out func(seq uint32, v T)) {
	for i := range t.slots {
		s := &t.slots[i]
		if s.used && remove(&s.v) {
			out(s.seq, s.v)
			*s = slot[T]{}
			t.n--
		}
	}
}

// len returns the number of entries.
func (t *table[T]) len() int { return t.n }
