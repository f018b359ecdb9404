package velocity

import (
	"testing"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/counters"
)

// keyOracle is the key Check computed before the message's hashes were
// mixed once per message (in the facts): KeyUint64 of KeyString hashes.
func keyOracle(l *Limit, f *filter.Facts) uint64 {
	id := counters.KeyString(l.ID)
	peer, sender, dest := counters.KeyString(f.Peer), counters.KeyString(f.Sender), counters.KeyString(f.Dest)
	switch l.Key {
	case "peer":
		return counters.KeyUint64(id, peer)
	case "sender":
		return counters.KeyUint64(id, peer, sender)
	case "destination":
		return counters.KeyUint64(id, dest)
	default:
		return counters.KeyUint64(id, sender, dest)
	}
}

func checkKeys(t *testing.T, id, peer, sender, dest string) {
	t.Helper()
	limits := []Limit{{ID: id, Key: "peer"}, {ID: id, Key: "sender"}, {ID: id, Key: "destination"},
		{ID: id, Key: "sender_destination"}, {ID: id, Key: ""}, {ID: id + "x", Key: "peer"}}
	unprepared := append([]Limit(nil), limits...)
	Prepare(limits)
	f := &filter.Facts{Peer: peer, Sender: sender, Dest: dest} // one message's facts for every limit
	for i := range limits {
		want := keyOracle(&limits[i], f)
		if got := limits[i].key(f); got != want {
			t.Errorf("limit %q key %q: prepared key %#x, oracle %#x", limits[i].ID, limits[i].Key, got, want)
		}
		if got := unprepared[i].key(&filter.Facts{Peer: peer, Sender: sender, Dest: dest}); got != want {
			t.Errorf("limit %q key %q: unprepared key %#x, oracle %#x", limits[i].ID, limits[i].Key, got, want)
		}
	}
}

func TestKeyMatchesKeyUint64(t *testing.T) {
	for _, tt := range []struct{ name, id, peer, sender, dest string }{
		{"typical", "otp-per-peer", "esme-a", "BANK", "4915112345678"},
		{"empty", "", "", "", ""},
		{"same values", "x", "x", "x", "x"},
		{"long", "a-very-long-limit-identifier-of-sixty-four-characters-or-so-here", "p", "+4915112345678", "0015112345678"},
	} {
		t.Run(tt.name, func(t *testing.T) { checkKeys(t, tt.id, tt.peer, tt.sender, tt.dest) })
	}
}

func FuzzKeyMatchesKeyUint64(f *testing.F) {
	f.Add("otp-per-peer", "esme-a", "BANK", "4915112345678")
	f.Add("", "", "", "")
	f.Fuzz(checkKeys)
}
