package textscan

// distMaxLen is the longest input Distance compares; longer inputs are
// truncated to their first 64 bytes (sender IDs are at most 11 characters,
// brand names short). 64 is the width of the bit-parallel algorithm.
const distMaxLen = 64

// Distance returns the Levenshtein (edit) distance of the byte strings a and
// b, counting byte insertions, deletions and substitutions, bounded by max:
// once the distance is known to exceed max it returns max+1 early. A negative
// max means no bound. Inputs longer than 64 bytes are truncated to 64 bytes
// (a documented limit: the result is then the distance of the prefixes).
// It uses Myers' bit-parallel algorithm (Hyyrö's formulation), O(len(b))
// word operations, and does not allocate.
func Distance(a, b []byte, max int) int {
	if len(a) > distMaxLen {
		a = a[:distMaxLen]
	}
	if len(b) > distMaxLen {
		b = b[:distMaxLen]
	}
	if max < 0 {
		max = 2 * distMaxLen
	}
	m, n := len(a), len(b)
	if d := m - n; d > max || -d > max {
		return max + 1
	}
	if m == 0 || n == 0 {
		return m + n // both <= max here
	}
	var peq [256]uint64
	for i, c := range a {
		peq[c] |= 1 << uint(i)
	}
	last := uint64(1) << uint(m-1)
	pv, mv := ^uint64(0), uint64(0)
	score := m
	for j, c := range b {
		eq := peq[c]
		xv := eq | mv
		xh := (((eq & pv) + pv) ^ pv) | eq
		ph := mv | ^(xh | pv)
		mh := pv & xh
		if ph&last != 0 {
			score++
		} else if mh&last != 0 {
			score--
		}
		// Each remaining column lowers the score by at most one.
		if score-(n-1-j) > max {
			return max + 1
		}
		ph = ph<<1 | 1
		mh <<= 1
		pv = mh | ^(xv | ph)
		mv = ph & xv
	}
	if score > max {
		return max + 1
	}
	return score
}
