package numbers

import (
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"unsafe"
)

// MaxPrefixLen is the longest prefix a PrefixSet stores: 19 digits, so that
// every prefix fits a uint64 together with its length.
const MaxPrefixLen = 19

// Entry is one PrefixSet input line.
//
// Prefix is a digit string ("49900"), or a range "from-to" of two digit
// strings of equal length ("4990010000-4990019999") that stands for every
// number of that length between the two, inclusive. A leading '+' is
// ignored (on each side of a range). A range is stored as its minimal cover
// of decimal prefixes (4990010000-4990019999 is the single prefix 499001;
// 100-250 is 1, 20..24, 250), so Lookup reports the length of the covering
// prefix that matched, not the range's length. A range covering every
// number of its length becomes the ten one-digit prefixes.
type Entry struct {
	Prefix string
	Value  int32
}

// PrefixSet maps digit prefixes to values with longest-prefix lookup. It is
// immutable after NewPrefixSet and safe for concurrent use.
//
// Layout: one open-addressing hash table (linear probing, load <= 0.5,
// 16-byte slots, no pointers for the GC to scan). A prefix p of length L is
// keyed by the bijective integer encoding (10^L-1)/9 + value(p), so "9" and
// "09" differ. The build picks a stem length S: every prefix of length >= S
// is placed by the hash of its first S digits, so all the long prefixes a
// number can match sit in one probe run (one cache miss), while the few
// shorter lengths are placed and probed one length at a time. S is the
// shortest present length for which no S-digit stem is shared by more than
// stemCap prefixes (so runs stay short whatever the data); for 1M random
// 8-12 digit prefixes S = 8 and a lookup touches one cache line. A bitmask
// of the lengths present keeps Lookup from probing absent lengths. Lookup
// does not allocate.
type PrefixSet struct {
	slots   []slot
	shift   uint   // 64 - log2(len(slots))
	lens    uint32 // bit L set: some prefix has length L
	maxLen  int
	stem    int // S; maxLen+1 when no length groups well (every length probed alone)
	n       int // distinct prefixes stored
	entries int // input entries
}

// stemCap bounds how many prefixes may share a stem (and so a probe run).
const stemCap = 8

// slot is one hash-table slot; key 0 means empty (no prefix encodes to 0).
type slot struct {
	key  uint64
	val  int32
	plen uint8
}

// lenBase[L] = (10^L-1)/9: the number of non-empty digit strings shorter
// than L, plus one, so no key is 0.
var lenBase [MaxPrefixLen + 1]uint64

// pow10[i] = 10^i.
var pow10 [MaxPrefixLen + 1]uint64

func init() {
	p := uint64(1)
	for i := range pow10 {
		pow10[i] = p
		lenBase[i] = (p - 1) / 9
		p *= 10
	}
}

func (p *PrefixSet) hash(key uint64) uint64 {
	key ^= key >> 31
	return (key * 0x9E3779B97F4A7C15) >> p.shift
}

// home returns the first slot to probe for prefix value v of length l.
func (p *PrefixSet) home(v uint64, l int) uint64 {
	if l >= p.stem {
		return p.hash(lenBase[p.stem] + v/pow10[l-p.stem])
	}
	return p.hash(lenBase[l] + v)
}

// NewPrefixSet builds a set from entries. When the same prefix appears more
// than once (directly or through ranges) the later entry wins. Errors name
// the entry index: an empty prefix, a non-digit, more than 19 digits, or a
// bad range (unequal lengths, from > to).
func NewPrefixSet(entries []Entry) (*PrefixSet, error) {
	// Pass 1: validate, count the expanded prefixes, note the lengths.
	total := 0
	var lens uint32
	maxLen := 0
	for i, e := range entries {
		from, to, l, err := parseEntry(e.Prefix)
		if err != nil {
			return nil, fmt.Errorf("numbers: prefix entry %d (%q): %w", i, e.Prefix, err)
		}
		total += decompose(from, to, l, func(_ uint64, pl int) {
			lens |= 1 << pl
			maxLen = max(maxLen, pl)
		})
	}
	size := 16
	for size < 2*total {
		size <<= 1
	}
	p := &PrefixSet{
		slots:   make([]slot, size),
		shift:   uint(64 - bits.TrailingZeros(uint(size))),
		lens:    lens,
		maxLen:  maxLen,
		entries: len(entries),
	}
	p.stem = chooseStem(entries, lens, maxLen)
	mask := uint64(size - 1)
	// Pass 2: insert, later entries overwriting earlier ones.
	for _, e := range entries {
		from, to, l, _ := parseEntry(e.Prefix)
		val := e.Value
		decompose(from, to, l, func(v uint64, pl int) {
			k := lenBase[pl] + v
			for i := p.home(v, pl); ; i = (i + 1) & mask {
				s := &p.slots[i]
				if s.key == 0 {
					*s = slot{key: k, val: val, plen: uint8(pl)}
					p.n++
					break
				} else if s.key == k {
					s.val = val
					break
				}
			}
		})
	}
	return p, nil
}

// chooseStem returns the shortest present length S such that no S-digit
// stem starts more than stemCap of the prefixes of length >= S, or
// maxLen+1 when there is none. Each candidate collects the stems into one
// reused []uint64 (8 bytes a prefix), sorts it and measures the longest run.
func chooseStem(entries []Entry, lens uint32, maxLen int) int {
	var stems []uint64
	for s := 1; s <= maxLen; s++ {
		if lens&(1<<s) == 0 {
			continue
		}
		stems = stems[:0]
		for _, e := range entries {
			from, to, l, _ := parseEntry(e.Prefix)
			decompose(from, to, l, func(v uint64, pl int) {
				if pl >= s {
					stems = append(stems, v/pow10[pl-s])
				}
			})
		}
		slices.Sort(stems)
		ok := true
		for i := 0; i+stemCap < len(stems); i++ {
			if stems[i] == stems[i+stemCap] {
				ok = false
				break
			}
		}
		if ok {
			return s
		}
	}
	return maxLen + 1
}

// parseEntry returns the numeric bounds and digit length of a prefix or
// range.
func parseEntry(s string) (from, to uint64, length int, err error) {
	a, b, isRange := strings.Cut(s, "-")
	from, la, err := parseDigits(a)
	if err != nil {
		return 0, 0, 0, err
	}
	if !isRange {
		return from, from, la, nil
	}
	to, lb, err := parseDigits(b)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("range end: %w", err)
	}
	if la != lb {
		return 0, 0, 0, fmt.Errorf("range ends have different lengths (%d and %d digits)", la, lb)
	}
	if from > to {
		return 0, 0, 0, fmt.Errorf("range start is above its end")
	}
	return from, to, la, nil
}

func parseDigits(s string) (uint64, int, error) {
	s = strings.TrimPrefix(s, "+")
	if s == "" {
		return 0, 0, fmt.Errorf("empty prefix")
	}
	if len(s) > MaxPrefixLen {
		return 0, 0, fmt.Errorf("more than %d digits", MaxPrefixLen)
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, 0, fmt.Errorf("non-digit %q at offset %d", c, i)
		}
		v = v*10 + uint64(c-'0')
	}
	return v, len(s), nil
}

// decompose emits the minimal set of decimal prefixes covering exactly the
// numbers from..to (inclusive) of length digits, calling emit(value,
// prefixLength) for each, in ascending order, and returns their count. Each
// emitted prefix is a maximal aligned block: the greedy walk takes, at every
// step, the largest block 10^k that starts at lo and fits below to. A block
// of the whole length (from = 0..0, to = 9..9) is emitted as the ten
// one-digit prefixes, as the empty prefix is not stored.
func decompose(from, to uint64, length int, emit func(value uint64, prefixLen int)) int {
	n := 0
	lo := from
	for {
		k := 0
		for k < length && lo%pow10[k+1] == 0 && lo+pow10[k+1]-1 <= to {
			k++
		}
		if k == length {
			for d := uint64(0); d < 10; d++ {
				emit(d, 1)
			}
			return n + 10
		}
		emit(lo/pow10[k], length-k)
		n++
		step := pow10[k]
		if to-lo < step { // lo+step-1 == to: done (also avoids overflow)
			return n
		}
		lo += step
	}
}

// Lookup returns the value of the longest prefix of digits in the set and
// that prefix's length. digits may start with '+'; any other non-digit byte
// makes the lookup miss. It does not allocate.
func (p *PrefixSet) Lookup(digits []byte) (value int32, prefixLen int, ok bool) {
	if p == nil || p.n == 0 {
		return 0, 0, false
	}
	if len(digits) > 0 && digits[0] == '+' {
		digits = digits[1:]
	}
	if !allDigits(digits) {
		return 0, 0, false
	}
	var keys [MaxPrefixLen + 1]uint64 // keys[L]: encoding of the first L digits
	top := min(len(digits), p.maxLen)
	var v uint64
	for i, c := range digits[:top] {
		v = v*10 + uint64(c-'0')
		keys[i+1] = lenBase[i+1] + v
	}
	mask := uint64(len(p.slots) - 1)
	// Lengths >= stem: one probe run holds every candidate.
	if top >= p.stem {
		best := 0
		for i := p.hash(keys[p.stem]); ; i = (i + 1) & mask {
			s := &p.slots[i]
			if s.key == 0 {
				break
			}
			l := int(s.plen)
			if l > best && l >= p.stem && l <= top && s.key == keys[l] {
				best, value = l, s.val
			}
		}
		if best > 0 {
			return value, best, true
		}
	}
	// Shorter lengths, longest first, one probe run each.
	present := p.lens & (uint32(1)<<min(top+1, p.stem) - 1)
	for present != 0 {
		l := 31 - bits.LeadingZeros32(present)
		present &^= 1 << l
		k := keys[l]
		for i := p.hash(k); ; i = (i + 1) & mask {
			s := &p.slots[i]
			if s.key == k {
				return s.val, l, true
			}
			if s.key == 0 {
				break
			}
		}
	}
	return 0, 0, false
}

// Len returns the number of distinct prefixes stored, after range
// expansion.
func (p *PrefixSet) Len() int {
	if p == nil {
		return 0
	}
	return p.n
}

// Entries returns the number of entries the set was built from.
func (p *PrefixSet) Entries() int {
	if p == nil {
		return 0
	}
	return p.entries
}

// MemoryBytes returns the size of the set's table.
func (p *PrefixSet) MemoryBytes() int {
	if p == nil {
		return 0
	}
	return len(p.slots) * int(unsafe.Sizeof(slot{}))
}

// StemLen returns the stem length the build chose (see PrefixSet); above
// the longest prefix length when no length groups well.
func (p *PrefixSet) StemLen() int {
	if p == nil {
		return 0
	}
	return p.stem
}
