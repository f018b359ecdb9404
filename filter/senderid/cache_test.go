package senderid

import (
	"math/rand/v2"
	"testing"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/textscan"
)

// detectReference is Detect before the verdict cache and the per-peer entry
// slices: every message normalized and compared with every entry, the peer
// looked up in each entry's map. It is the oracle of TestDetectMatchesReference.
func (d *Detector) detectReference(f *filter.Facts, det *filter.Detections) {
	if f.Direction != filter.MT.String() || f.Sender == "" || f.SenderKind == filter.KindNumber {
		return
	}
	norm := textscan.Normalize(nil, []byte(f.Sender))
	if ids := d.peers[f.Peer]; ids != nil && !ids[string(norm)] {
		det.Raise(NotAllowed)
	}
	if len(d.entries) == 0 {
		return
	}
	sk := textscan.Skeleton(nil, []byte(f.Sender))
	best, bestDist := -1, d.distance+1
	for i := range d.entries {
		e := &d.entries[i]
		if string(norm) == string(e.norm) {
			det.SetText(Protected, e.name)
			if e.peers[f.Peer] {
				det.Raise(Registered)
			} else {
				det.Raise(Spoofed)
			}
			return
		}
		if e.peers[f.Peer] {
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
		det.Raise(Lookalike)
		det.SetText(Protected, d.entries[best].name)
	}
}

// Detect (cached verdicts, per-peer entry slices) answers as the reference
// for random senders near the registry's names, from random peers, each
// seen many times (the cache's hits and misses, slots overwritten).
func TestDetectMatchesReference(t *testing.T) {
	names := []string{"PayPal", "BankOfX", "DHL", "Amazon", "Netflix", "ExampleBank", "Apple", "VerifySvc"}
	peers := []string{"paypal-gw", "bank-gw", "dhl-gw", "acme", "other", ""}
	registry, display := map[string][]string{}, map[string]string{}
	for i, n := range names[:6] {
		sk := string(textscan.Skeleton(nil, []byte(n)))
		registry[sk], display[sk] = []string{peers[i%4], peers[(i+1)%4]}, n
	}
	for _, withLists := range []bool{false, true} {
		d := New(registry, display, 1)
		if withLists {
			d = d.WithPeerSenders(map[string][]string{"acme": {"Acme", "PayPal"}, "other": {"DHL"}})
		}
		rng := rand.New(rand.NewPCG(3, 4))
		const alphabet = "aAlL01oO5sS -.@$PpXx"
		var senders []string
		for range 3000 {
			b := []byte(names[rng.IntN(len(names))])
			for range rng.IntN(3) {
				switch i := rng.IntN(len(b) + 1); rng.IntN(3) {
				case 0:
					b = append(b[:i], append([]byte{alphabet[rng.IntN(len(alphabet))]}, b[i:]...)...)
				case 1:
					if i < len(b) {
						b = append(b[:i], b[i+1:]...)
					}
				default:
					if i < len(b) {
						b[i] = alphabet[rng.IntN(len(alphabet))]
					}
				}
			}
			senders = append(senders, string(b))
		}
		for range 60000 {
			f := &filter.Facts{Direction: "mt", Peer: peers[rng.IntN(len(peers))],
				Sender: senders[rng.IntN(len(senders))], SenderKind: filter.KindAlphanumeric}
			g := *f
			var got, want filter.Detections
			d.Detect(f, &got, 0)
			d.detectReference(&g, &want)
			if got != want {
				t.Fatalf("lists %v, peer %q sender %q: %+v, reference %+v", withLists, f.Peer, f.Sender, got, want)
			}
		}
	}
}
