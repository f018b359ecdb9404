package counters

// index maps a shard's keys to their slab positions: an open-addressing
// hash table with linear probing over fixed-size slots (the key and its
// position in one 16-byte slot), at most 3/4 full, with backward-shift
// deletion, so churn (ever-new keys replacing expired ones) leaves no
// tombstones and never rehashes. It replaces a map[uint64]int32: a lookup is
// one multiply and, nearly always, one cache line, where the map cost a hash
// call, a group probe and its directory; and a removal plus an insertion
// (the steady state of a full shard) cost two map writes each.
type index struct {
	slots []slot // a power of two of them
	n     int    // keys held
}

// slot is one key and its slab position plus one (0: empty).
type slot struct {
	key uint64
	pos int32
}

// home is key's first slot: the high half of a multiplicative mix (the
// shard is chosen by its top bits, so slot bits come from below them).
func (x *index) home(key uint64) uint64 {
	return (key * 0x9E3779B97F4A7C15 >> 24) & x.mask()
}

func (x *index) mask() uint64 { return uint64(len(x.slots) - 1) }

// get returns key's slab position, or -1.
func (x *index) get(key uint64) int {
	if x.n == 0 {
		return -1
	}
	mask := x.mask()
	for i := x.home(key); ; i = (i + 1) & mask {
		s := &x.slots[i]
		if s.pos == 0 {
			return -1
		}
		if s.key == key {
			return int(s.pos - 1)
		}
	}
}

// put sets key's slab position (adding key when absent). It allocates only
// while the table grows: by doubling, so a shard of at most perShard keys
// ends at the smallest power of two whose 3/4 holds them.
func (x *index) put(key uint64, pos int) {
	if x.n >= len(x.slots)*3/4 {
		x.grow()
	}
	mask := x.mask()
	for i := x.home(key); ; i = (i + 1) & mask {
		s := &x.slots[i]
		if s.pos == 0 {
			s.key, s.pos = key, int32(pos+1)
			x.n++
			return
		}
		if s.key == key {
			s.pos = int32(pos + 1)
			return
		}
	}
}

func (x *index) grow() {
	n := max(2*len(x.slots), 16)
	old := x.slots
	x.slots = make([]slot, n)
	x.n = 0
	for _, s := range old {
		if s.pos != 0 {
			x.put(s.key, int(s.pos-1))
		}
	}
}

// del removes key (it must be present): the slots after it that would be
// unreachable across the hole move back into it.
func (x *index) del(key uint64) {
	mask := x.mask()
	i := x.home(key)
	for x.slots[i].key != key || x.slots[i].pos == 0 {
		i = (i + 1) & mask
	}
	x.n--
	for {
		x.slots[i] = slot{}
		j := i
		for {
			j = (j + 1) & mask
			if x.slots[j].pos == 0 {
				return
			}
			// The entry at j stays unless its home lies cyclically
			// outside (i, j]: then the hole at i cuts it off.
			h := x.home(x.slots[j].key)
			if (j-h)&mask >= (j-i)&mask {
				break
			}
		}
		x.slots[i] = x.slots[j]
		i = j
	}
}
