package filter

import (
	"testing"

	"github.com/smsfw/smsfw/filter/counters"
)

// The facts' hashes are the keys the detectors used before they were
// cached (KeyString of the field; KeyUint64 of two of them equals
// KeyMixed2 of the mixed ones), whichever is asked first.
func TestFactsHashes(t *testing.T) {
	for _, tc := range []struct{ sender, dest, peer string }{
		{"Shop", "4915112345678", "acme"}, {"", "", ""}, {"x", "x", "x"},
	} {
		for _, mixFirst := range []bool{false, true} {
			f := &Facts{Sender: tc.sender, Dest: tc.dest, Peer: tc.peer}
			if mixFirst {
				f.SenderMix()
				f.DestMix()
				f.PeerMix()
			}
			s, d, p := counters.KeyString(tc.sender), counters.KeyString(tc.dest), counters.KeyString(tc.peer)
			if f.SenderHash() != s || f.DestHash() != d || f.PeerHash() != p {
				t.Errorf("%+v: hashes %#x %#x %#x, want %#x %#x %#x", tc, f.SenderHash(), f.DestHash(), f.PeerHash(), s, d, p)
			}
			if got, want := counters.KeyMixed2(f.SenderMix(), f.PeerMix()), counters.KeyUint64(s, p); got != want {
				t.Errorf("%+v: KeyMixed2(sender, peer) %#x, KeyUint64 %#x", tc, got, want)
			}
			if got, want := counters.KeyMixed2(f.PeerMix(), f.DestMix()), counters.KeyUint64(p, d); got != want {
				t.Errorf("%+v: KeyMixed2(peer, dest) %#x, KeyUint64 %#x", tc, got, want)
			}
		}
	}
}
