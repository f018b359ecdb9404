package bpf

import (
	"errors"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Ban origins.
const (
	OriginConfig  = "config"  // the bpf.bans key: no expiry
	OriginAPI     = "api"     // POST /api/v1/bans
	OriginLockout = "lockout" // an SMPP bind lockout, for its duration
)

// Ban is one entry of the ban list.
type Ban struct {
	Source  netip.Prefix `json:"source"`
	Reason  string       `json:"reason"`
	Origin  string       `json:"origin"`
	Actor   string       `json:"actor,omitempty"`
	Created time.Time    `json:"created"`
	// Expires is when the ban ends (zero: never).
	Expires time.Time `json:"expires,omitzero"`
}

func (b *Ban) expired(now time.Time) bool { return !b.Expires.IsZero() && !now.Before(b.Expires) }

// ErrFull: the ban list holds max_bans entries.
var ErrFull = errors.New("bpf: the ban list is full (max_bans)")

// banList is the ban list in user space: what the kernel's trie is filled
// from and what the accept-time check reads. Lookups try each prefix
// length in use, longest first.
type banList struct {
	mu   sync.RWMutex
	max  int
	bans map[netip.Prefix]Ban
	lens [2][129]int // [IPv6][bits]: bans of that length
	// refused counts the connections each ban refused at accept (a
	// replaced ban keeps its count).
	refused map[netip.Prefix]*atomic.Uint64
}

func newBanList(max int) *banList {
	return &banList{max: max, bans: map[netip.Prefix]Ban{}, refused: map[netip.Prefix]*atomic.Uint64{}}
}

func family(p netip.Prefix) int {
	if p.Addr().Is4() {
		return 0
	}
	return 1
}

// put adds or replaces b; extend keeps an existing ban that ends later
// (a lockout never shortens a ban). It returns the ban now in force and
// whether the list changed.
func (l *banList) put(b Ban, extend bool) (Ban, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	old, ok := l.bans[b.Source]
	if ok && extend && (old.Expires.IsZero() || !b.Expires.After(old.Expires)) {
		return old, false, nil
	}
	if !ok {
		if len(l.bans) >= l.max {
			return Ban{}, false, ErrFull
		}
		l.lens[family(b.Source)][b.Source.Bits()]++
		l.refused[b.Source] = new(atomic.Uint64)
	}
	l.bans[b.Source] = b
	return b, true, nil
}

// get is the ban on exactly p.
func (l *banList) get(p netip.Prefix) (Ban, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	b, ok := l.bans[p]
	return b, ok
}

// remove deletes the ban on exactly p.
func (l *banList) remove(p netip.Prefix) (Ban, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.removeLocked(p)
}

func (l *banList) removeLocked(p netip.Prefix) (Ban, bool) {
	b, ok := l.bans[p]
	if ok {
		delete(l.bans, p)
		delete(l.refused, p)
		l.lens[family(p)][p.Bits()]--
	}
	return b, ok
}

// refuse counts one connection refused at accept by the ban on p.
func (l *banList) refuse(p netip.Prefix) {
	l.mu.RLock()
	if n := l.refused[p]; n != nil {
		n.Add(1)
	}
	l.mu.RUnlock()
}

// refusals is the connections the ban on p refused at accept.
func (l *banList) refusals(p netip.Prefix) uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if n := l.refused[p]; n != nil {
		return n.Load()
	}
	return 0
}

// match is the longest ban covering addr that has not expired.
func (l *banList) match(addr netip.Addr, now time.Time) (Ban, bool) {
	addr = addr.Unmap()
	f := 0
	if !addr.Is4() {
		f = 1
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	for bits := addr.BitLen(); bits >= 0; bits-- {
		if l.lens[f][bits] == 0 {
			continue
		}
		p, _ := addr.Prefix(bits)
		if b, ok := l.bans[p]; ok && !b.expired(now) {
			return b, true
		}
	}
	return Ban{}, false
}

// sweep removes the bans that have expired and returns them.
func (l *banList) sweep(now time.Time) []Ban {
	l.mu.Lock()
	defer l.mu.Unlock()
	var gone []Ban
	for p, b := range l.bans {
		if b.expired(now) {
			l.removeLocked(p)
			gone = append(gone, b)
		}
	}
	return gone
}

// list is every ban, by source.
func (l *banList) list() []Ban {
	l.mu.RLock()
	out := make([]Ban, 0, len(l.bans))
	for _, b := range l.bans {
		out = append(out, b)
	}
	l.mu.RUnlock()
	slices.SortFunc(out, func(a, b Ban) int {
		if c := a.Source.Addr().Compare(b.Source.Addr()); c != 0 {
			return c
		}
		return a.Source.Bits() - b.Source.Bits()
	})
	return out
}

func (l *banList) len() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.bans)
}
