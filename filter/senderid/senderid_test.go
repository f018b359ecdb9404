package senderid_test

import (
	"testing"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/senderid"
	"github.com/smsfw/smsfw/filter/textscan"
)

type reg struct {
	sender string
	peers  []string
}

// build keys the registry by skeleton, as the policy compiler does.
func build(distance int, entries ...reg) *senderid.Detector {
	registry, names := map[string][]string{}, map[string]string{}
	for _, e := range entries {
		sk := string(textscan.Skeleton(nil, []byte(e.sender)))
		registry[sk], names[sk] = e.peers, e.sender
	}
	return senderid.New(registry, names, distance)
}

var registry = []reg{
	{"PayPal", []string{"paypal-gw"}},
	{"BankOfX", []string{"bank-gw"}},
	{"DHL", []string{"dhl-gw", "acme"}},
}

func facts(peer, sender, kind string) *filter.Facts {
	return &filter.Facts{Direction: "mt", Peer: peer, Sender: sender, SenderKind: kind, Dest: "4915112345678",
		Text: "hello", Norm: "hello", Segments: 1}
}

const (
	alpha = filter.KindAlphanumeric
	none  = ""
	spoof = "spoofed"
	look  = "lookalike"
	okReg = "registered"
)

func check(t *testing.T, d *senderid.Detector, f *filter.Facts, finding, protected string) {
	t.Helper()
	var det filter.Detections
	d.Detect(f, &det, 0)
	got := none
	switch {
	case det.Has(senderid.Spoofed) && det.Has(senderid.Lookalike):
		got = "both"
	case det.Has(senderid.Spoofed):
		got = spoof
	case det.Has(senderid.Lookalike):
		got = look
	case det.Has(senderid.Registered):
		got = okReg
	}
	if got != finding || det.Text(senderid.Protected) != protected {
		t.Fatalf("peer %s sender %q: %q of %q, want %q of %q", f.Peer, f.Sender, got, det.Text(senderid.Protected), finding, protected)
	}
	want := filter.Found("sender_spoofed", det.Has(senderid.Spoofed), "sender_lookalike", det.Has(senderid.Lookalike),
		"sender_registered", det.Has(senderid.Registered), "protected_sender", det.Text(senderid.Protected))
	if det != want {
		t.Fatalf("other findings set: %+v", det)
	}
}

func TestSenderID(t *testing.T) {
	d := build(1, registry...)
	for _, tc := range []struct {
		name, peer, sender, kind string
		finding, protected       string
	}{
		// Exact use of a protected ID.
		{"exact spoof", "acme", "PayPal", alpha, spoof, "PayPal"},
		{"spoof, other case", "acme", "PAYPAL", alpha, spoof, "PayPal"},
		{"spoof, Cyrillic a", "acme", "P\u0430yP\u0430l", alpha, spoof, "PayPal"},
		{"spoof, leetspeak that normalizes equal", "acme", "P@yP@l", alpha, spoof, "PayPal"},
		{"registered peer", "paypal-gw", "PayPal", alpha, okReg, "PayPal"},
		{"registered peer, other case", "paypal-gw", "paypal", alpha, okReg, "PayPal"},
		{"second registered peer", "acme", "DHL", alpha, okReg, "DHL"},
		{"first registered peer", "dhl-gw", "DHL", alpha, okReg, "DHL"},
		{"peer registered for another ID", "paypal-gw", "DHL", alpha, spoof, "DHL"},
		{"exact spoof, other entry", "acme", "BankOfX", alpha, spoof, "BankOfX"},
		{"short code sender counts too", "acme", "PayPal", filter.KindShortCode, spoof, "PayPal"},
		// Lookalikes (skeletons within distance 1).
		{"digit for letter", "acme", "PAYPA1", alpha, look, "PayPal"},
		{"separator", "acme", "Pay-Pal", alpha, look, "PayPal"},
		{"space", "acme", "Pay Pal", alpha, look, "PayPal"},
		{"extra letter (distance 1)", "acme", "Paypall", alpha, look, "PayPal"},
		{"missing letter (distance 1)", "acme", "Paypl", alpha, look, "PayPal"},
		{"substitution (distance 1)", "acme", "PayPel", alpha, look, "PayPal"},
		{"digit for letter and separators", "acme", "Bank-0f-X", alpha, look, "BankOfX"},
		{"lookalike from the registered peer", "paypal-gw", "PAYPA1", alpha, none, ""},
		// Not related.
		{"distance 2", "acme", "Paypalls", alpha, none, ""},
		{"unrelated", "acme", "Amazon", alpha, none, ""},
		{"unrelated, shares a prefix", "acme", "PayPoint", alpha, none, ""},
		{"unrelated short", "acme", "UPS", alpha, none, ""},
		{"own brand", "acme", "AcmeShop", alpha, none, ""},
		// Out of scope.
		{"numeric sender", "acme", "4915112345678", filter.KindNumber, none, ""},
		{"empty sender", "acme", "", filter.KindEmpty, none, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check(t, d, facts(tc.peer, tc.sender, tc.kind), tc.finding, tc.protected)
		})
	}
}

func TestMOIgnored(t *testing.T) {
	d := build(1, registry...)
	f := facts("acme", "PayPal", alpha)
	f.Direction = "mo"
	check(t, d, f, none, "")
}

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		distance         int
		sender           string
		finding, protect string
	}{
		{0, "PAYPA1", look, "PayPal"}, // skeleton equality
		{0, "Pay-Pal", look, "PayPal"},
		{0, "Paypall", none, ""},
		{0, "PayPal", spoof, "PayPal"},
		{1, "Paypall", look, "PayPal"},
		{1, "Paypalls", none, ""},
		{2, "Paypalls", look, "PayPal"},
		{2, "PayPalUK1", none, ""},
	} {
		d := build(tc.distance, registry...)
		check(t, d, facts("acme", tc.sender, alpha), tc.finding, tc.protect)
	}
}

func TestEmptyRegistry(t *testing.T) {
	d := build(1)
	check(t, d, facts("acme", "PayPal", alpha), none, "")
	d = senderid.New(nil, nil, 1)
	check(t, d, facts("acme", "PayPal", alpha), none, "")
}

// Two protected IDs one edit apart ("Wise" and "Wish"): each owner sending
// its own ID is legitimate, not a lookalike of the other, and an exact copy
// from a third peer is reported as the spoof of the ID it copies.
func TestNeighbouringEntries(t *testing.T) {
	d := build(1, reg{"Wise", []string{"wise-gw"}}, reg{"Wish", []string{"wish-gw"}})
	for i := 0; i < 20; i++ { // registry order is map order: repeat
		check(t, d, facts("wise-gw", "Wise", alpha), okReg, "Wise")
		check(t, d, facts("wish-gw", "WISH", alpha), okReg, "Wish")
		check(t, d, facts("acme", "Wise", alpha), spoof, "Wise")
		check(t, d, facts("acme", "Wish", alpha), spoof, "Wish")
		check(t, d, facts("acme", "Wlse", alpha), look, "Wise")
		// The closest entry is named: "Wishh" is 1 from Wish, 2 from Wise.
		check(t, d, facts("acme", "Wishh", alpha), look, "Wish")
	}
}

func TestName(t *testing.T) {
	if n := build(1).Name(); n != "sender_id" {
		t.Fatalf("Name() = %q", n)
	}
}

func TestLongSender(t *testing.T) {
	// Longer than the detector's stack buffers.
	d := build(1, registry...)
	long := "ThisIsAVeryLongSenderNameThatIsFarLongerThanAnyRealSenderIDCouldEverBe"
	check(t, d, facts("acme", long, alpha), none, "")
}

func TestAllocs(t *testing.T) {
	d := build(1, registry...)
	fs := []*filter.Facts{facts("acme", "PAYPA1", alpha), facts("acme", "PayPal", alpha), facts("acme", "Amazon", alpha),
		facts("paypal-gw", "PayPal", alpha)}
	var det filter.Detections
	if n := testing.AllocsPerRun(100, func() {
		for _, f := range fs {
			d.Detect(f, &det, 0)
		}
	}); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

// An aggregator with a peer_senders list may use only those sender IDs
// (case and look-alikes folded); others are not checked.
func TestPeerSenders(t *testing.T) {
	d := senderid.New(nil, nil, 1).WithPeerSenders(map[string][]string{"acme": {"ShopA", "12345"}})
	for _, tc := range []struct {
		peer, sender, kind string
		notAllowed         bool
	}{
		{"acme", "ShopA", alpha, false},
		{"acme", "SHOPA", alpha, false},
		{"acme", "12345", filter.KindShortCode, false},
		{"acme", "ShopB", alpha, true},
		{"acme", "54321", filter.KindShortCode, true},
		{"acme", "4915112345678", filter.KindNumber, false}, // numbers are not sender IDs
		{"other", "ShopB", alpha, false},                    // no list: not checked
	} {
		var det filter.Detections
		d.Detect(facts(tc.peer, tc.sender, tc.kind), &det, 0)
		if det.Has(senderid.NotAllowed) != tc.notAllowed {
			t.Errorf("%s from %s: not allowed = %v", tc.sender, tc.peer, !tc.notAllowed)
		}
	}
}
