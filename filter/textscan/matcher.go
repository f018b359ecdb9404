package textscan

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"slices"
)

// Matcher finds many byte patterns in one pass: an Aho-Corasick automaton
// over bytes. It is immutable once built and safe for concurrent use.
//
// It is written here rather than taken from a library because the firewall
// needs (1) zero allocations per scan on the allow path — the common Go
// implementations return a []Match slice per call — and (2) whole-word
// semantics (an occurrence not preceded or followed by an ASCII letter or
// digit) checked per occurrence among overlapping ones, which they lack; a
// leftmost-longest library match that fails the word test would hide a
// shorter or later occurrence that passes.
//
// Small automata (states × byte classes ≤ 4 Mi cells, e.g. 10,000 keywords
// of ordinary length) use a dense transition table over byte equivalence
// classes: one table load per text byte. Larger ones use sorted edge lists
// with failure links. The dense table numbers its states breadth first, so
// the shallow states a scan spends most steps in share a few cache lines
// (the table is megabytes; the rest of an inspection evicts it between
// messages), and a state's depth is a range of numbers: First with
// wholeWords walks the trie from each word start instead of running the
// automaton over every byte (see firstWhole).
type Matcher struct {
	n    int // patterns given, duplicates included
	ncls int32
	cls  [256]uint16 // byte -> equivalence class (0: in no pattern)

	// Dense automaton: delta[s*ncls+class] is the next state s' premultiplied
	// by ncls, with edgeBit set when s' is a trie child of s (a goto edge,
	// not a failure transition), stored complemented (^) when s' has an
	// output.
	delta []int32

	// Sparse automaton: edges of state s are edgeByte/edgeNext[edgeOff[s]:
	// edgeOff[s+1]], sorted by byte; root is the full root row.
	edgeOff  []int32
	edgeByte []byte
	edgeNext []int32
	fail     []int32
	root     [256]int32

	out  []int32 // per state: index of the pattern spelled by the state, -1
	dict []int32 // per state: nearest state on the failure chain with out >= 0, -1
	plen []int32 // per pattern index: its length
}

// maxDenseCells bounds the dense table (int32 cells); a variable for tests.
var maxDenseCells = 1 << 22

// edgeBit marks a dense transition that is a trie edge. A premultiplied
// state is below maxDenseCells (at most edgeBit-1, see NewMatcher), so the
// bit is free.
const edgeBit = 1 << 30

// NewMatcher builds a matcher for the patterns, matched byte for byte (give
// it Normalize'd patterns and text for case- and look-alike-insensitive
// keyword search). An empty pattern is an error. Duplicates are fine: an
// occurrence reports the lowest index of its pattern.
func NewMatcher(patterns []string) (*Matcher, error) {
	m := &Matcher{n: len(patterns), plen: make([]int32, len(patterns))}
	type edge struct {
		from int32
		c    byte
		to   int32
	}
	next := map[uint64]int32{} // from<<8|c -> to
	var edges []edge
	m.out = []int32{-1}
	used := [256]bool{}
	for i, p := range patterns {
		if p == "" {
			return nil, fmt.Errorf("textscan: pattern %d is empty", i)
		}
		m.plen[i] = int32(len(p))
		s := int32(0)
		for j := 0; j < len(p); j++ {
			c := p[j]
			used[c] = true
			k := uint64(s)<<8 | uint64(c)
			t, ok := next[k]
			if !ok {
				t = int32(len(m.out))
				if t < 0 || int64(t) >= 1<<31-1 {
					return nil, errors.New("textscan: too many patterns")
				}
				m.out = append(m.out, -1)
				next[k] = t
				edges = append(edges, edge{s, c, t})
			}
			s = t
		}
		if m.out[s] < 0 {
			m.out[s] = int32(i)
		}
	}
	nstates := len(m.out)

	// Edge lists sorted by (from, byte).
	slices.SortFunc(edges, func(a, b edge) int {
		if a.from != b.from {
			return int(a.from - b.from)
		}
		return int(a.c) - int(b.c)
	})
	m.edgeOff = make([]int32, nstates+1)
	m.edgeByte = make([]byte, len(edges))
	m.edgeNext = make([]int32, len(edges))
	for i, e := range edges {
		m.edgeOff[e.from+1]++
		m.edgeByte[i] = e.c
		m.edgeNext[i] = e.to
	}
	for s := 1; s <= nstates; s++ {
		m.edgeOff[s] += m.edgeOff[s-1]
	}

	// Failure and dictionary links in breadth-first order.
	m.fail = make([]int32, nstates)
	m.dict = make([]int32, nstates)
	m.dict[0] = -1
	order := make([]int32, 0, nstates)
	order = append(order, 0)
	for q := 0; q < len(order); q++ {
		u := order[q]
		for e := m.edgeOff[u]; e < m.edgeOff[u+1]; e++ {
			c, v := m.edgeByte[e], m.edgeNext[e]
			order = append(order, v)
			f := int32(0)
			if u != 0 {
				for f = m.fail[u]; ; f = m.fail[f] {
					if t, ok := next[uint64(f)<<8|uint64(c)]; ok {
						f = t
						break
					}
					if f == 0 {
						break
					}
				}
			}
			m.fail[v] = f
			if m.out[f] >= 0 {
				m.dict[v] = f
			} else {
				m.dict[v] = m.dict[f]
			}
		}
	}
	for e := m.edgeOff[0]; e < m.edgeOff[1]; e++ {
		m.root[m.edgeByte[e]] = m.edgeNext[e]
	}

	// Byte classes and, when small enough, the dense table.
	ncls := int32(1)
	for c := range used {
		if used[c] {
			m.cls[c] = uint16(ncls)
			ncls++
		}
	}
	m.ncls = ncls
	if cells := int64(nstates) * int64(ncls); cells <= int64(maxDenseCells) && cells < edgeBit {
		m.buildDense(order)
		m.edgeOff, m.edgeByte, m.edgeNext, m.fail = nil, nil, nil, nil
	}
	return m, nil
}

func (m *Matcher) hasOut(s int32) bool { return m.out[s] >= 0 || m.dict[s] >= 0 }

// buildDense builds the dense table with the states renumbered in
// breadth-first order (order[k] becomes k; the root stays 0), and remaps out
// and dict to the new numbers.
func (m *Matcher) buildDense(order []int32) {
	ncls := m.ncls
	n := int32(len(order))
	id := make([]int32, n) // old number -> new
	for k, s := range order {
		id[s] = int32(k)
	}
	out, dict := make([]int32, n), make([]int32, n)
	for k, s := range order {
		out[k] = m.out[s]
		dict[k] = -1
		if d := m.dict[s]; d >= 0 {
			dict[k] = id[d]
		}
	}
	m.out, m.dict = out, dict
	m.delta = make([]int32, int64(n)*int64(ncls))
	enc := func(t int32) int32 {
		v := t * ncls
		if m.hasOut(t) {
			return ^v
		}
		return v
	}
	for k, s := range order {
		row := m.delta[int32(k)*ncls : int32(k+1)*ncls]
		if k != 0 {
			f := id[m.fail[s]]
			copy(row, m.delta[f*ncls:(f+1)*ncls])
		}
		for e := m.edgeOff[s]; e < m.edgeOff[s+1]; e++ {
			row[m.cls[m.edgeByte[e]]] = enc(id[m.edgeNext[e]])
		}
	}
	// Mark the trie edges once every row is built: a row starts as a copy
	// of its failure state's row, whose edges are not its own.
	for k, s := range order {
		row := m.delta[int32(k)*ncls : int32(k+1)*ncls]
		for e := m.edgeOff[s]; e < m.edgeOff[s+1]; e++ {
			v := &row[m.cls[m.edgeByte[e]]]
			if *v < 0 {
				*v = ^(^*v | edgeBit)
			} else {
				*v |= edgeBit
			}
		}
	}
}

// Len returns the number of patterns the matcher was built with.
func (m *Matcher) Len() int {
	if m == nil {
		return 0
	}
	return m.n
}

// Match calls fn for every occurrence of every pattern in text, overlapping
// ones included, in order of their end offset (longer patterns first among
// those ending at the same byte), until fn returns false. index is the
// pattern's index (the lowest among duplicates) and text[start:end] the
// occurrence. With wholeWords, occurrences preceded or followed by an ASCII
// letter or digit are skipped. Match does not allocate.
func (m *Matcher) Match(text []byte, wholeWords bool, fn func(index, start, end int) bool) {
	if m == nil || m.n == 0 || fn == nil {
		return
	}
	m.scan(text, wholeWords, fn)
}

// First returns the occurrence that Match would report first (the one that
// ends earliest), or index -1 when there is none. A nil *Matcher returns -1.
// First does not allocate.
func (m *Matcher) First(text []byte, wholeWords bool) (index, start, end int) {
	if m == nil || m.n == 0 {
		return -1, 0, 0
	}
	if wholeWords && m.delta != nil {
		return m.firstWhole(text)
	}
	return m.scan(text, wholeWords, nil)
}

// firstWhole is First with wholeWords on the dense table. A whole-word
// occurrence starts where the text does or after a byte that is not an
// ASCII letter or digit, so instead of running the automaton over every
// byte it walks the trie (the transitions marked edgeBit) from each such
// start, stopping at the first whole-word end: the answer is the
// occurrence that ends first, the longest among those ending at the same
// byte, as the automaton reports them. Walks from most starts end after a
// byte or two, in the shallow states at the front of the table.
func (m *Matcher) firstWhole(text []byte) (index, start, end int) {
	delta, cls := m.delta, &m.cls
	// Occurrences must end at or before lim (exclusive end lim+1 once one
	// is found: a later walk must end strictly earlier to win).
	best, bestStart, lim := -1, 0, len(text)
	for i := 0; i < lim; {
		s := int32(0)
		for j := i; j < lim; j++ {
			v := delta[s+int32(cls[text[j]])]
			u := v ^ v>>31 // ^v for a state with an output
			if u&edgeBit == 0 {
				break // a failure transition: no pattern continues text[i:j+1]
			}
			s = u &^ edgeBit
			if v < 0 {
				if o := m.wholeAt(s, text, j); o >= 0 {
					best, bestStart, lim = int(o), i, j
					break
				}
			}
		}
		// The next start follows the next byte that is not a letter or
		// digit.
		for i < len(text) && alnum[text[i]] {
			i++
		}
		i++
	}
	if best < 0 {
		return -1, 0, 0
	}
	return best, bestStart, lim + 1
}

// WordStarts appends to dst the offsets in text where a whole-word
// occurrence can start: 0, and every offset that follows a byte that is
// not an ASCII letter or digit (a space, punctuation, a byte of a
// multi-byte character). They are the starts First with wholeWords walks
// from; computed once, they serve every matcher run over the same text
// (FirstWholeFrom), which then skips no bytes of its own. WordStarts does
// not allocate when dst has room (at most len(text) offsets).
func WordStarts(dst []int32, text []byte) []int32 {
	if len(text) == 0 {
		return dst
	}
	dst = append(dst, 0)
	// Eight bytes at a time: a mask of the bytes that are not letters or
	// digits, then one append per set bit (a start follows each).
	i := 0
	for ; i+8 <= len(text); i += 8 {
		m := nonAlnum8(binary.LittleEndian.Uint64(text[i:]))
		for m != 0 {
			dst = append(dst, int32(i+bits.TrailingZeros64(m)/8+1))
			m &= m - 1
		}
	}
	for ; i < len(text); i++ {
		if !alnum[text[i]] {
			dst = append(dst, int32(i+1))
		}
	}
	if dst[len(dst)-1] == int32(len(text)) {
		dst = dst[:len(dst)-1] // no start at the end
	}
	return dst
}

// nonAlnum8 has the high bit of each byte of x set that is not an ASCII
// letter or digit, and no other bit. between(b, lo, hi) tests lo < b < hi
// for the seven low bits of each byte without carries between bytes (the
// bit hack "hasbetween"); a byte with its high bit set is never alnum.
func nonAlnum8(x uint64) uint64 {
	const ones, highs, low7 = 0x0101010101010101, 0x8080808080808080, 0x7f7f7f7f7f7f7f7f
	// between(b, lo, hi) = (ones*(127+hi) - b7) & ^b & (b7 + ones*(127-lo)) & highs
	f := x | 0x2020202020202020 // A-Z folded onto a-z
	f7 := f & low7
	alpha := (ones*(127+0x7b) - f7) & ^f & (f7 + ones*(127-0x60))
	x7 := x & low7
	digit := (ones*(127+0x3a) - x7) & ^x & (x7 + ones*(127-0x2f))
	return ^(alpha | digit) & highs
}

// FirstWholeFrom is First(text, true) given starts = WordStarts(text),
// shared by the matchers that run over one text. With nil starts it is
// First(text, true).
func (m *Matcher) FirstWholeFrom(text []byte, starts []int32) (index, start, end int) {
	if m == nil || m.n == 0 {
		return -1, 0, 0
	}
	if starts == nil || m.delta == nil {
		return m.First(text, true)
	}
	return m.firstWholeFrom(text, starts)
}

// firstWholeFrom is firstWhole walking from the given word starts.
func (m *Matcher) firstWholeFrom(text []byte, starts []int32) (index, start, end int) {
	delta, cls := m.delta, &m.cls
	best, bestStart, lim := -1, 0, len(text)
	for _, st := range starts {
		i := int(st)
		if i >= lim {
			break
		}
		s := int32(0)
		for j := i; j < lim; j++ {
			v := delta[s+int32(cls[text[j]])]
			u := v ^ v>>31
			if u&edgeBit == 0 {
				break
			}
			s = u &^ edgeBit
			if v < 0 {
				if o := m.wholeAt(s, text, j); o >= 0 {
					best, bestStart, lim = int(o), i, j
					break
				}
			}
		}
	}
	if best < 0 {
		return -1, 0, 0
	}
	return best, bestStart, lim + 1
}

// wholeAt returns the pattern that state s (premultiplied, with an output)
// spells when it ends a whole word at text[j], else -1. Out of the walk's
// loop, which reaches it rarely: the loop keeps its state in registers.
//
//go:noinline
func (m *Matcher) wholeAt(s int32, text []byte, j int) int32 {
	if o := m.out[uint32(s)/uint32(m.ncls)]; o >= 0 && (j+1 == len(text) || !alnum[text[j+1]]) {
		return o
	}
	return -1
}

// alnum[c] is isAlnum(c).
var alnum = func() (t [256]bool) {
	for c := range t {
		t[c] = isAlnum(byte(c))
	}
	return t
}()

// scan runs the automaton. With fn == nil it returns the first accepted
// occurrence; otherwise it reports each to fn and returns -1.
func (m *Matcher) scan(text []byte, wholeWords bool, fn func(index, start, end int) bool) (int, int, int) {
	if m.delta != nil {
		delta, cls, ncls := m.delta, &m.cls, m.ncls
		s := int32(0)
		for i := 0; i < len(text); i++ {
			v := delta[s+int32(cls[text[i]])]
			if v >= 0 {
				s = v &^ edgeBit
				continue
			}
			s = ^v &^ edgeBit
			if idx, st, en, stop := m.report(s/ncls, text, i+1, wholeWords, fn); stop {
				return idx, st, en
			}
		}
		return -1, 0, 0
	}
	s := int32(0)
	for i := 0; i < len(text); i++ {
		s = m.step(s, text[i])
		if s != 0 && m.hasOut(s) {
			if idx, st, en, stop := m.report(s, text, i+1, wholeWords, fn); stop {
				return idx, st, en
			}
		}
	}
	return -1, 0, 0
}

// step is the sparse transition function.
func (m *Matcher) step(s int32, c byte) int32 {
	for s != 0 {
		lo, hi := m.edgeOff[s], m.edgeOff[s+1]
		for e := lo; e < hi; e++ {
			if b := m.edgeByte[e]; b >= c {
				if b == c {
					return m.edgeNext[e]
				}
				break
			}
		}
		s = m.fail[s]
	}
	return m.root[c]
}

// report handles the outputs of state s at end offset end. stop is true when
// scanning must end: the first accepted occurrence (fn == nil) or fn
// returned false.
func (m *Matcher) report(s int32, text []byte, end int, wholeWords bool, fn func(int, int, int) bool) (idx, start, e int, stop bool) {
	x := s
	if m.out[x] < 0 {
		x = m.dict[x]
	}
	for ; x >= 0; x = m.dict[x] {
		i := int(m.out[x])
		st := end - int(m.plen[i])
		if wholeWords && (st > 0 && isAlnum(text[st-1]) || end < len(text) && isAlnum(text[end])) {
			continue
		}
		if fn == nil {
			return i, st, end, true
		}
		if !fn(i, st, end) {
			return -1, 0, 0, true
		}
	}
	return -1, 0, 0, false
}
