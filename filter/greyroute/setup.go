package greyroute

import "github.com/smsfw/smsfw/filter"

const name = "grey_route"

// Findings.
var (
	GreyRoute = filter.NewFlag(name, "grey_route", "A2P traffic on a route billed as P2P")
	Leakage   = filter.NewAmount(name, "leakage_amount", "estimated revenue lost on this message (A2P minus P2P tariff, per segment)")
)

// Plugin registers the grey-route detector (no settings: it reads the
// policy's tariffs).
var Plugin = filter.Register(&filter.Plugin{
	Name: name,
	// Grey-route traffic the SMSC accepted goes into the revenue-leakage
	// ledger whatever the rules read.
	Always: true,
	Build: func(env *filter.BuildEnv) filter.Built {
		return filter.Built{Detector: New(Tariffs(env.Policy.Tariffs))}
	},
})

// Explain implements filter.Explainer.
func (d *Detector) Explain(f *filter.Facts, det *filter.Detections, add func(string, ...any)) {
	if det.Has(GreyRoute) {
		add("grey_route peer_class=%s leakage=%.4f", f.PeerClass, det.Amount(Leakage))
	}
}
