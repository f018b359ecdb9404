// Package greyroute finds A2P traffic on routes billed as P2P (grey routes)
// and estimates the revenue each such message loses: the A2P price minus
// the P2P price for its destination country, per segment.
package greyroute

import (
	"github.com/smsfw/smsfw/filter"
)

// Tariffs are prices per segment: class -> country (ISO, or "default") -> price.
type Tariffs map[string]map[string]float64

func (t Tariffs) price(class, country string) float64 {
	byCountry := t[class]
	if p, ok := byCountry[country]; ok {
		return p
	}
	return byCountry["default"]
}

// Detector flags grey-route traffic.
type Detector struct{ tariffs Tariffs }

// New returns a detector with the policy's tariffs (may be empty: findings
// without amounts).
func New(t Tariffs) *Detector { return &Detector{tariffs: t} }

// Name implements filter.Detector.
func (d *Detector) Name() string { return "grey_route" }

// Detect flags an A2P message on a peer whose contracted class is P2P.
func (d *Detector) Detect(f *filter.Facts, det *filter.Detections, _ int64) {
	if f.Class != filter.ClassA2P || !filter.BilledAsP2P(f.PeerClass) {
		return
	}
	det.Raise(GreyRoute)
	loss := d.tariffs.price(filter.ClassA2P, f.DestCountry) - d.tariffs.price(filter.ClassP2P, f.DestCountry)
	if loss > 0 {
		det.SetAmount(Leakage, loss*float64(f.Segments))
	}
}
