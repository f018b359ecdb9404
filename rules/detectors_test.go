package rules

// The policy's det.* names and detectors: sections come from the detectors'
// own packages: link the shipped ones (the chain's order lives in
// filter/pipeline, which imports rules).
import (
	_ "github.com/smsfw/smsfw/filter/campaign"
	_ "github.com/smsfw/smsfw/filter/classify"
	_ "github.com/smsfw/smsfw/filter/content"
	_ "github.com/smsfw/smsfw/filter/greyroute"
	_ "github.com/smsfw/smsfw/filter/lure"
	_ "github.com/smsfw/smsfw/filter/pumping"
	_ "github.com/smsfw/smsfw/filter/receipts"
	_ "github.com/smsfw/smsfw/filter/senderid"
	_ "github.com/smsfw/smsfw/filter/simfarm"
	_ "github.com/smsfw/smsfw/filter/velocity"
)
