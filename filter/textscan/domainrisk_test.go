package textscan

import "testing"

func TestDomainRisk(t *testing.T) {
	for _, tc := range []struct {
		domain string
		score  int
	}{
		{"update-login48.buzz", 3},
		{"dhl-sendung01.icu", 3},
		{"konto-redelivery67.top", 3},
		{"secure-login.xyz", 2},
		{"redelivery-support.top", 2},
		{"billing-redelivery55.com", 2},
		{"spiegel.de", 0},
		{"spotify.com", 0},
		{"stadtfest-33nw.de", 0},
		{"shop.xyz", 1},
		{"paypal.com", 0},
		{"track24.de", 2}, // a lure word with digits: two signs
		{"localhost", 0},
	} {
		if got, why := DomainRisk(tc.domain); got != tc.score {
			t.Errorf("%s: %d (%s), want %d", tc.domain, got, why, tc.score)
		}
	}
}

func TestDomainRiskAllocs(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { DomainRisk("update-login48.buzz") }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}
