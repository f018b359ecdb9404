// Package senderid protects registered sender IDs: a protected ID sent by a
// peer not registered for it is spoofing; a near copy ("PAYPA1",
// "Bank-0f-X") is a lookalike. Comparison runs on skeletons (case,
// confusables, leetspeak and separators folded) with a bounded edit distance.
package senderid

import (
	"bytes"
	"slices"
	"sync/atomic"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/counters"
	"github.com/smsfw/smsfw/filter/textscan"
	"github.com/smsfw/smsfw/internal/unsafex"
)

type entry struct {
	name     string // as registered
	norm     []byte // Normalize(name)
	skeleton []byte
	peers    map[string]bool
}

// Detector checks senders against the registry.
type Detector struct {
	entries  []entry
	distance int
	peers    map[string]map[string]bool // peer -> normalized sender IDs it may use
	// registered[peer][i]: entries[i].peers[peer], so a message looks its
	// peer up once instead of once per entry.
	registered map[string][]bool
	// cache holds recent verdicts by a hash of sender and peer: the hash's
	// top 48 bits, then the verdict (0: empty).
	cache *[cacheSlots]atomic.Uint64
}

// WithPeerSenders returns d checking each listed peer's sender IDs.
func (d *Detector) WithPeerSenders(m map[string][]string) *Detector {
	if len(m) == 0 {
		return d
	}
	d.peers = make(map[string]map[string]bool, len(m))
	for peer, ids := range m {
		set := make(map[string]bool, len(ids))
		for _, id := range ids {
			set[string(textscan.Normalize(nil, []byte(id)))] = true
		}
		d.peers[peer] = set
	}
	return d
}

// New builds the registry: sender -> peers allowed to use it.
func New(registry map[string][]string, names map[string]string, distance int) *Detector {
	d := &Detector{distance: distance, cache: new([cacheSlots]atomic.Uint64)}
	for sk, peers := range registry {
		e := entry{name: names[sk], skeleton: []byte(sk), peers: map[string]bool{}}
		e.norm = textscan.Normalize(nil, []byte(e.name))
		for _, p := range peers {
			e.peers[p] = true
		}
		d.entries = append(d.entries, e)
	}
	// A fixed order: ties between equally close entries do not depend on
	// map iteration.
	slices.SortFunc(d.entries, func(a, b entry) int { return bytes.Compare(a.skeleton, b.skeleton) })
	d.registered = map[string][]bool{}
	for i, e := range d.entries {
		for p := range e.peers {
			if d.registered[p] == nil {
				d.registered[p] = make([]bool, len(d.entries))
			}
			d.registered[p][i] = true
		}
	}
	return d
}

// Name implements filter.Detector.
func (d *Detector) Name() string { return "sender_id" }

// Detect sets SenderSpoofed / SenderLookalike and ProtectedSender.
func (d *Detector) Detect(f *filter.Facts, det *filter.Detections, _ int64) {
	if f.Direction != filter.MT.String() || f.Sender == "" || f.SenderKind == filter.KindNumber {
		return
	}
	if len(d.entries) == 0 && d.peers == nil {
		return
	}
	var v verdict
	if len(d.entries) <= maxCachedEntries {
		// A sender ID repeats from message to message: its verdict for a
		// peer is looked up instead of normalizing and comparing it again.
		key := counters.KeyMixed2(f.SenderMix(), f.PeerMix()) | 1<<63 // KeyUint64(SenderHash, PeerHash); never 0: an empty slot
		slot := &d.cache[key&(cacheSlots-1)]
		if c := slot.Load(); c>>16 == key>>16 {
			v = verdict(c & 0xFFFF)
		} else {
			v = d.verdict(f.Sender, f.Peer)
			slot.Store(key&^0xFFFF | uint64(v))
		}
	} else {
		v = d.verdict(f.Sender, f.Peer)
	}
	if v&vNotAllowed != 0 {
		det.Raise(NotAllowed)
	}
	switch v & vOutcome {
	case vRegistered:
		det.Raise(Registered)
	case vSpoofed:
		det.Raise(Spoofed)
	case vLookalike:
		det.Raise(Lookalike)
	default:
		return
	}
	det.SetText(Protected, d.entries[v>>vEntryShift].name)
}

// A verdict packs what Detect finds for a sender and a peer in 16 bits:
// whether the peer may not use the sender, the outcome against the
// registry and the entry involved.
type verdict uint16

const (
	vNotAllowed verdict = 1 << iota
	vOutcome    verdict = 3 << 1 // one of:
	vRegistered verdict = 1 << 1
	vSpoofed    verdict = 2 << 1
	vLookalike  verdict = 3 << 1

	vEntryShift      = 3
	maxCachedEntries = 1 << (16 - vEntryShift) // entry indexes that fit a verdict

	// cacheSlots: verdicts cached per detector (one policy snapshot), 32 KiB.
	cacheSlots = 4096
)

// verdict compares sender, as peer sends it, with the peer's allowed IDs
// and the registry.
func (d *Detector) verdict(sender, peer string) verdict {
	var v verdict
	var nb, sb [64]byte
	norm := textscan.Normalize(nb[:0], unsafex.Bytes(sender))
	if ids := d.peers[peer]; ids != nil && !ids[string(norm)] {
		v |= vNotAllowed
	}
	if len(d.entries) == 0 {
		return v
	}
	sk := textscan.Skeleton(sb[:0], unsafex.Bytes(sender))
	// An exact protected ID decides alone (allowed for its peers, spoofed
	// for the others): it is never a lookalike of a neighbouring entry.
	// Otherwise the closest entry within the distance is the lookalike.
	best, bestDist := -1, d.distance+1
	registered := d.registered[peer] // nil: registered for no entry
	for i := range d.entries {
		e := &d.entries[i]
		if string(norm) == string(e.norm) {
			if registered != nil && registered[i] {
				return v | vRegistered | verdict(i)<<vEntryShift
			}
			return v | vSpoofed | verdict(i)<<vEntryShift
		}
		if registered != nil && registered[i] {
			continue
		}
		if diff := len(sk) - len(e.skeleton); diff > d.distance || -diff > d.distance {
			continue
		}
		if dist := textscan.Distance(sk, e.skeleton, d.distance); dist < bestDist {
			best, bestDist = i, dist
		}
	}
	if best >= 0 {
		v |= vLookalike | verdict(best)<<vEntryShift
	}
	return v
}
