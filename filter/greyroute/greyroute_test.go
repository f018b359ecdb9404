package greyroute_test

import (
	"math"
	"testing"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/greyroute"
)

var tariffs = greyroute.Tariffs{
	"a2p": {"default": 0.045, "DE": 0.065, "GB": 0.040},
	"p2p": {"default": 0.005, "GB": 0.050},
}

func TestGreyRoute(t *testing.T) {
	for _, tc := range []struct {
		name      string
		tariffs   greyroute.Tariffs
		class     string
		peerClass string
		country   string
		segments  int
		grey      bool
		amount    float64
	}{
		{"a2p on p2p peer, country price", tariffs, "a2p", "p2p", "DE", 1, true, 0.065 - 0.005},
		{"segments multiply", tariffs, "a2p", "p2p", "DE", 3, true, 3 * (0.065 - 0.005)},
		{"unknown country takes default", tariffs, "a2p", "p2p", "FR", 2, true, 2 * (0.045 - 0.005)},
		{"no country takes default", tariffs, "a2p", "p2p", "", 1, true, 0.045 - 0.005},
		{"p2p dearer than a2p: flagged, no amount", tariffs, "a2p", "p2p", "GB", 1, true, 0},
		{"no tariffs: flagged, no amount", nil, "a2p", "p2p", "DE", 1, true, 0},
		{"only an a2p tariff", greyroute.Tariffs{"a2p": {"default": 0.03}}, "a2p", "p2p", "DE", 1, true, 0.03},
		{"a2p on the home network's core", tariffs, "a2p", "mno", "DE", 1, true, 0.065 - 0.005},
		{"a2p on an interconnect", tariffs, "a2p", "interconnect", "DE", 1, false, 0},
		{"a2p on a2p peer", tariffs, "a2p", "a2p", "DE", 1, false, 0},
		{"a2p on enterprise peer", tariffs, "a2p", "enterprise", "DE", 1, false, 0},
		{"a2p, unknown peer class", tariffs, "a2p", "", "DE", 1, false, 0},
		{"p2p on p2p peer", tariffs, "p2p", "p2p", "DE", 1, false, 0},
		{"mo on p2p peer", tariffs, "mo", "p2p", "DE", 1, false, 0},
		{"receipt on p2p peer", tariffs, "receipt", "p2p", "DE", 1, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := greyroute.New(tc.tariffs)
			f := &filter.Facts{Direction: "mt", Peer: "p", Class: tc.class, PeerClass: tc.peerClass,
				DestCountry: tc.country, Segments: tc.segments}
			var det filter.Detections
			d.Detect(f, &det, 0)
			if det.Has(greyroute.GreyRoute) != tc.grey || math.Abs(det.Amount(greyroute.Leakage)-tc.amount) > 1e-12 {
				t.Fatalf("grey_route=%v leakage=%v, want %v %v", det.Has(greyroute.GreyRoute), det.Amount(greyroute.Leakage), tc.grey, tc.amount)
			}
			want := filter.Found("grey_route", det.Has(greyroute.GreyRoute), "leakage_amount", det.Amount(greyroute.Leakage))
			if det != want {
				t.Fatalf("other findings set: %+v", det)
			}
		})
	}
}

func TestName(t *testing.T) {
	if n := greyroute.New(nil).Name(); n != "grey_route" {
		t.Fatalf("Name() = %q", n)
	}
}
