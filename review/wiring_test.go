package review_test

import (
	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/pipeline"
	"github.com/smsfw/smsfw/proxy"
	"github.com/smsfw/smsfw/review"
)

// The proxy and the inspection chain are what run.go plugs in.
var (
	_ review.Quarantiner    = (*proxy.Server)(nil)
	_ filter.OverrideSetter = (*pipeline.Chain)(nil)
)
