package receipts_test

import (
	"testing"

	"github.com/smsfw/smsfw/filter/receipts"
)

// Hex ids made of digits only are ambiguous; each accepted id is stored
// under one key and the receipt side tries every reading.
func TestDigitOnlyHexReadings(t *testing.T) {
	cases := []struct{ accepted, receipt string }{
		{"1000", "4096"},     // hex 0x1000 accepted, decimal receipt
		{"4096", "1000"},     // decimal accepted, digit-only hex receipt
		{"1a2b", "6699"},     // hex with letters, decimal receipt
		{"6699", "1A2B"},     // decimal, hex receipt
		{"77", "77"},         // same string
		{"abc-01", "abc-01"}, // neither: compared as written
	}
	for _, c := range cases {
		d := receipts.New(receipts.NewState(1000), 0)
		d.Observe("acme", []byte(c.accepted), t0)
		if fake(d, "acme", c.receipt, t0+1) {
			t.Errorf("accepted %q, receipt %q: flagged as fake", c.accepted, c.receipt)
		}
		if !fake(d, "acme", c.receipt+"9", t0+1) && c.receipt != "77" {
			t.Errorf("accepted %q: receipt %q not flagged", c.accepted, c.receipt+"9")
		}
	}
}
