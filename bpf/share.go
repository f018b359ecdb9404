package bpf

import (
	"context"
	"net/netip"
	"sync"
)

// BanStore shares the API's bans between the nodes of one event store
// (package cluster implements it over PostgreSQL). Config bans are each
// node's own (its config file); lockout bans stay on the node whose
// listener saw the lockout.
type BanStore interface {
	// SaveBan adds or replaces the shared ban on b.Source.
	SaveBan(ctx context.Context, b Ban) error
	// DeleteBan removes the shared ban on src; false when there was none.
	DeleteBan(ctx context.Context, src netip.Prefix) (bool, error)
}

// sharing is the shield's link to the shared bans; mu orders an API
// change (local list, then store) against a sync, so a sync never undoes
// a ban being added.
type sharing struct {
	mu    sync.Mutex
	store BanStore
}

// ShareBans makes the API's bans shared through bs: POST and DELETE
// /api/v1/bans write it, SyncShared applies the other nodes' changes.
func (s *Shield) ShareBans(bs BanStore) {
	s.share.mu.Lock()
	s.share.store = bs
	s.share.mu.Unlock()
}

// SyncShared makes the API bans of this node those of the shared list:
// bans missing here are added, changed ones replaced, API bans no longer
// shared lifted. A config ban on the same source stays. It returns how
// many bans it added (or replaced) and lifted.
func (s *Shield) SyncShared(shared []Ban) (added, lifted int) {
	s.share.mu.Lock()
	defer s.share.mu.Unlock()
	now := s.now()
	want := make(map[netip.Prefix]Ban, len(shared))
	for _, b := range shared {
		if !b.expired(now) {
			want[b.Source] = b
		}
	}
	for _, b := range s.bans.list() {
		if _, ok := want[b.Source]; !ok && b.Origin == OriginAPI {
			if _, ok := s.Unban(b.Source); ok {
				lifted++
			}
		}
	}
	for src, b := range want {
		cur, ok := s.bans.get(src)
		if ok && (cur.Origin == OriginConfig || sameBan(cur, b)) {
			continue
		}
		s.mu.Lock()
		_, changed, err := s.bans.put(b, false)
		if err != nil {
			s.m.full.Inc()
		} else if changed {
			s.kernelDo("put", src, func(k *kernel) error { return k.put(b, now, ok) })
			added++
		}
		s.mu.Unlock()
	}
	return added, lifted
}

func sameBan(a, b Ban) bool {
	return a.Origin == b.Origin && a.Reason == b.Reason && a.Actor == b.Actor && a.Created.Equal(b.Created) && a.Expires.Equal(b.Expires)
}
