// Package velocity enforces rate limits (GCRA) per peer, sender, destination
// or sender+destination, counting segments. Over the limit is a temporary
// refusal (ESME_RTHROTTLED unless the limit says otherwise), unlike a block.
package velocity

import (
	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/counters"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// Limit is one limit.
type Limit struct {
	ID        string
	Key       string // peer, sender, destination, sender_destination
	Rate      float64
	Burst     int
	Direction int // -1 any
	Monitor   bool
	// Status answers a throttled message (ESME_RTHROTTLED unless the policy says otherwise).
	Status pdu.Status

	idHash uint64
}

// Prepare precomputes the limits' key hashes (call once when building them).
func Prepare(limits []Limit) {
	for i := range limits {
		limits[i].idHash = counters.KeyString(limits[i].ID)
	}
}

// State holds the limiters; it survives reloads (keys include the limit id).
type State struct {
	l        *counters.Limiter
	maxBytes int64
}

// NewState sizes the limiter (every limit's keys share it).
func NewState(maxBytes int64) *State {
	return &State{l: counters.NewLimiter(counters.Bytes(maxBytes)), maxBytes: maxBytes}
}

// Reuse returns prev when it has maxBytes, else a new state.
func Reuse(prev *State, maxBytes int64) *State {
	if prev != nil && prev.maxBytes == maxBytes {
		return prev
	}
	return NewState(maxBytes)
}

// Tables lists the counter tables for metrics.
func (s *State) Tables() []counters.Named { return []counters.Named{{Name: "limits", Table: s.l}} }

// Check returns the first enforced limit f exceeds (nil if none) and calls
// monitor for each monitor-mode limit exceeded.
func Check(st *State, limits []Limit, f *filter.Facts, dir filter.Direction, now int64, monitor func(*Limit)) *Limit {
	// Budget taken by limits that admitted the message, given back if a
	// later one refuses it (a fixed array: no allocation).
	var taken [8]struct {
		key  uint64
		rate float64
	}
	nt := 0
	for i := range limits {
		l := &limits[i]
		if l.Direction >= 0 && l.Direction != int(dir) {
			continue
		}
		id := l.idHash
		if id == 0 {
			id = counters.KeyString(l.ID)
		}
		var key uint64
		switch l.Key {
		case "peer":
			key = counters.KeyUint64(id, f.PeerHash())
		case "sender":
			key = counters.KeyUint64(id, f.PeerHash(), f.SenderHash())
		case "destination":
			key = counters.KeyUint64(id, f.DestHash())
		default:
			key = counters.KeyUint64(id, f.SenderHash(), f.DestHash())
		}
		if ok, _ := st.l.Allow(key, now, l.Rate, l.Burst, f.Segments); ok {
			if nt < len(taken) {
				taken[nt].key, taken[nt].rate = key, l.Rate
				nt++
			}
			continue
		}
		if l.Monitor {
			monitor(l)
			continue
		}
		for _, t := range taken[:nt] {
			st.l.Refund(t.key, now, t.rate, f.Segments)
		}
		return l
	}
	return nil
}

// Owner is the counter-metrics detector label and memory key of the limits.
const Owner = "rate_limits"

// Findings of the limits (checked after the rules, for messages they let
// through).
var (
	RateLimited = filter.NewFlag(Owner, "rate_limited", "a rate limit refused the message")
	LimitID     = filter.NewText(Owner, "limit_id", "the limit that refused it")
)
