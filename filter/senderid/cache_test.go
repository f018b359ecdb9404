package senderid

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/textscan"
)

// detectReference states Detect's contract plainly, without the verdict
// cache or the per-peer entry slices: the peer's own list, then the first
// registry entry whose Normalize form is the sender's (registered or
// spoofed), else the closest entry within the distance that the peer is not
// registered for (the first of the closest). It is the oracle of
// TestDetectMatchesReference.
func (d *Detector) detectReference(f *filter.Facts, det *filter.Detections) {
	if f.Direction != "mt" || f.Sender == "" || f.SenderKind == filter.KindNumber {
		return
	}
	norm := string(textscan.Normalize(nil, []byte(f.Sender)))
	if list, ok := d.peers[f.Peer]; ok && !list[norm] {
		det.Raise(NotAllowed)
	}
	if i := slices.IndexFunc(d.entries, func(e entry) bool { return string(e.norm) == norm }); i >= 0 {
		det.SetText(Protected, d.entries[i].name)
		if d.entries[i].peers[f.Peer] {
			det.Raise(Registered)
		} else {
			det.Raise(Spoofed)
		}
		return
	}
	sk := textscan.Skeleton(nil, []byte(f.Sender))
	type candidate struct{ entry, dist int }
	var near []candidate
	for i, e := range d.entries {
		if !e.peers[f.Peer] {
			if dist := textscan.Distance(sk, e.skeleton, d.distance); dist <= d.distance {
				near = append(near, candidate{i, dist})
			}
		}
	}
	if len(near) > 0 {
		c := slices.MinFunc(near, func(a, b candidate) int { return a.dist - b.dist }) // the first of the minima
		det.Raise(Lookalike)
		det.SetText(Protected, d.entries[c.entry].name)
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
