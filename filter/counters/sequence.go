package counters

import "time"

// DefaultTolerance is the largest step between destination numbers that
// NewSequence still calls sequential.
const DefaultTolerance = 10

// seqRecent is how many recent numbers a key remembers.
const seqRecent = 4

// Sequence detects runs of sequential destination numbers per key (number
// pumping / IRSF: 4915100001, 4915100002, ...). Each key remembers its last
// 4 numbers. An observation extends the run when it lies within
// +-tolerance of one of them (so two interleaved sequences, or a shuffled
// block, still count), repeats leave the run unchanged, anything else
// restarts it at 1, and so does a gap longer than the window since the
// key's previous observation.
type Sequence struct {
	t      table[seqState]
	window int64
	tol    uint64
}

type seqState struct {
	recent [seqRecent]uint64
	last   int64
	run    int32
	cnt    uint8 // valid entries in recent
	pos    uint8 // next slot to overwrite
}

// NewSequence returns a Sequence with DefaultTolerance holding at most lim
// (SequenceKeyBytes per key).
func NewSequence(window time.Duration, lim Limit) *Sequence {
	return NewSequenceTolerance(window, lim, DefaultTolerance)
}

// NewSequenceTolerance returns a Sequence that calls two numbers sequential
// when they differ by at most tolerance (at least 1).
func NewSequenceTolerance(window time.Duration, lim Limit, tolerance uint64) *Sequence {
	s := &Sequence{window: max(int64(window), 1), tol: max(tolerance, 1)}
	s.t.init(lim, 0)
	return s
}

// Observe records number for key at now and returns the length of the
// current sequential run, this number included (1 for a number unrelated to
// the recent ones). Zero allocations once the key exists.
func (q *Sequence) Observe(key uint64, number uint64, now int64) (run int) {
	s := q.t.shardFor(key)
	s.mu.Lock()
	i := s.find(key)
	if i < 0 {
		i = q.t.insert(s, key, now)
	}
	e := &s.ents[i]
	st := &e.p
	if st.cnt == 0 || now-st.last > q.window {
		*st = seqState{run: 1, cnt: 1, pos: 1 % seqRecent}
		st.recent[0] = number
	} else {
		near, dup := false, false
		for _, r := range st.recent[:st.cnt] {
			d := number - r
			if r > number {
				d = r - number
			}
			if d == 0 {
				dup = true
			} else if d <= q.tol {
				near = true
			}
		}
		if !dup {
			if near {
				st.run++
			} else {
				st.run = 1
			}
			st.recent[st.pos] = number
			st.pos = (st.pos + 1) % seqRecent
			st.cnt = min(st.cnt+1, seqRecent)
		}
	}
	st.last = now
	e.used = now
	e.exp = now + q.window
	run = int(st.run)
	s.mu.Unlock()
	return run
}

// Len returns the number of keys held.
func (q *Sequence) Len() int { return q.t.len() }

// Stats returns counters for metrics.
func (q *Sequence) Stats() Stats { return q.t.stats() }
