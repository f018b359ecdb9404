package pipeline

import (
	"fmt"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/campaign"
	"github.com/smsfw/smsfw/filter/classify"
	"github.com/smsfw/smsfw/filter/content"
	"github.com/smsfw/smsfw/filter/greyroute"
	"github.com/smsfw/smsfw/filter/lure"
	"github.com/smsfw/smsfw/filter/pumping"
	"github.com/smsfw/smsfw/filter/receipts"
	"github.com/smsfw/smsfw/filter/senderid"
	"github.com/smsfw/smsfw/filter/simfarm"
)

// Order is the inspection chain: every message meets the detectors in this
// order. Classification comes first (the others read f.Class). A detector
// is its own folder (settings with defaults, findings, evidence, README);
// adding one is that folder plus one line here.
var Order = []*filter.Plugin{
	classify.Plugin,
	greyroute.Plugin,
	senderid.Plugin,
	content.Plugin,
	campaign.Plugin,
	lure.Plugin, // reads det.campaign_senders
	pumping.Plugin,
	simfarm.Plugin,
	receipts.Plugin,
}

// checkOrder refuses a chain that lists a detector twice. (A detector
// left out of Order is not linked at all; TestOrderHasEveryDetector finds
// a folder that registers one without its line here.)
func checkOrder(order []*filter.Plugin) error {
	in := map[string]bool{}
	for _, p := range order {
		if in[p.Name] {
			return fmt.Errorf("pipeline: detector %q is in the chain twice", p.Name)
		}
		in[p.Name] = true
	}
	return nil
}
