package lists

// maxScanLits bounds the literals litScan tracks: one bit each of a uint64.
// A list whose regexes need more (or literals of more than scanWidth-1
// distinct bytes) uses lowerASCII and mayMatch.
const maxScanLits = 64

// A row of the table has scanWidth cells, a constant so that a state's
// number is its premultiplied one shifted by scanShift (a variable shift
// costs the scan loop a register).
const (
	scanShift = 6
	scanWidth = 1 << scanShift
)

// litScan finds which of the regexes' required literals a text contains in
// one pass: an Aho-Corasick automaton over the literals (lower-case ASCII)
// whose byte classes fold 'A'..'Z' onto 'a'..'z', so that it reads the text
// as lowerASCII would lower it without lowering it. It replaces a lowered
// copy of the text and a bytes.Index per literal (each a call and a scan of
// its own). Immutable once built.
type litScan struct {
	cls [256]uint8 // byte -> class; 0: in no literal
	// delta[s<<scanShift|class] is the next state, premultiplied, stored
	// complemented (^) when some literal ends there.
	delta []int32
	out   []uint64 // per state: the literals ending there (bit i: literal i)
	// need[r] are regex r's literal sets as masks: regex r may match only
	// where every mask meets the literals found.
	need [][]uint64
	// stay[c]: c leaves the root state where it is (it starts no literal).
	// At the root, scan skips such bytes without the table's dependent
	// loads: most of a text's bytes start no literal.
	stay [256]bool
}

// newLitScan builds the automaton for lits[r] (regex r's literal sets, as
// compiled into List.lits), or returns nil when there are more than
// maxScanLits distinct literals.
func newLitScan(lits [][][][]byte) *litScan {
	ids := map[string]int{}
	var words []string
	a := &litScan{need: make([][]uint64, len(lits))}
	for r, sets := range lits {
		for _, set := range sets {
			var m uint64
			for _, lit := range set {
				if len(lit) == 0 {
					return nil // found everywhere: not a bit of a scan
				}
				id, ok := ids[string(lit)]
				if !ok {
					if len(words) == maxScanLits {
						return nil
					}
					id = len(words)
					ids[string(lit)] = id
					words = append(words, string(lit))
				}
				m |= 1 << id
			}
			a.need[r] = append(a.need[r], m)
		}
	}
	// The trie, with the byte classes of the literals' bytes.
	ncls := 1
	for _, w := range words {
		for i := 0; i < len(w); i++ {
			if c := w[i]; a.cls[c] == 0 {
				a.cls[c] = uint8(ncls)
				ncls++
			}
		}
	}
	if ncls > scanWidth {
		return nil
	}
	goTo := [][]int32{make([]int32, ncls)} // per state, per class: child, 0 none
	out := []uint64{0}
	for id, w := range words {
		s := int32(0)
		for i := 0; i < len(w); i++ {
			c := a.cls[w[i]]
			if goTo[s][c] == 0 {
				goTo[s][c] = int32(len(goTo))
				goTo = append(goTo, make([]int32, ncls))
				out = append(out, 0)
			}
			s = goTo[s][c]
		}
		out[s] |= 1 << id
	}
	// Breadth first: failure links, outputs along them, the full table.
	const width = scanWidth
	a.delta = make([]int32, len(goTo)*width)
	fail := make([]int32, len(goTo))
	queue := []int32{0}
	for q := 0; q < len(queue); q++ {
		s := queue[q]
		out[s] |= out[fail[s]]
		for c := 1; c < ncls; c++ {
			t := goTo[s][c]
			if t == 0 {
				if s != 0 {
					a.delta[int(s)*width+c] = a.delta[int(fail[s])*width+c]
				}
				continue
			}
			if s != 0 {
				fail[t] = a.delta[int(fail[s])*width+c] >> scanShift // not complemented yet
			}
			a.delta[int(s)*width+c] = t << scanShift
			queue = append(queue, t)
		}
	}
	// Complement the transitions into states with an output, now that
	// every output is known (the failure links above read plain numbers).
	for i, v := range a.delta {
		if out[v>>scanShift] != 0 {
			a.delta[i] = ^v
		}
	}
	for c := 'A'; c <= 'Z'; c++ {
		a.cls[c] = a.cls[c+'a'-'A']
	}
	for c := range a.stay {
		a.stay[c] = a.delta[a.cls[c]] == 0
	}
	a.out = out
	return a
}

// scan returns the set of literals that occur in text, ASCII case folded.
// Not inlined: in FirstRegex's frame the loop loses a register to a spill.
//
//go:noinline
func (a *litScan) scan(text []byte) uint64 {
	delta, cls, out, stay := a.delta, &a.cls, a.out, &a.stay
	var found uint64
	s := 0
	for i := 0; i < len(text); i++ {
		if s == 0 {
			for i < len(text) && stay[text[i]] {
				i++
			}
			if i == len(text) {
				break
			}
		}
		v := delta[s+int(cls[text[i]])]
		s = int(v)
		if v < 0 {
			s = int(^v)
			found |= out[s>>scanShift]
		}
	}
	return found
}

// may reports whether regex r may match a text with the literals found.
func (a *litScan) may(r int, found uint64) bool {
	for _, m := range a.need[r] {
		if found&m == 0 {
			return false
		}
	}
	return true
}
