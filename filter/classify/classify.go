// Package classify labels every message A2P, P2P, MO or receipt, with the
// reasons (filter.Reason*), before the other detectors run: grey-route,
// campaign and leakage findings depend on it.
package classify

import (
	"time"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/counters"
)

// Config holds the thresholds.
type Config struct {
	// FanoutRecipients: one text template to more recipients than this within Window is A2P.
	FanoutRecipients int
	// SenderVelocity: a numeric sender sending more segments than this within Window is beyond a consumer.
	SenderVelocity int
	Window         time.Duration
}

// Defaults fills zero values.
func (c Config) Defaults() Config {
	if c.FanoutRecipients == 0 {
		c.FanoutRecipients = 20
	}
	if c.SenderVelocity == 0 {
		c.SenderVelocity = 60
	}
	if c.Window == 0 {
		c.Window = 10 * time.Minute
	}
	return c
}

// State are the counters behind classification; they survive policy reloads.
type State struct {
	window     time.Duration
	recipients *counters.Distinct // fingerprint -> distinct recipients
	velocity   *counters.Window   // sender -> segments
}

// NewState sizes the counters.
func NewState(window time.Duration, maxKeys int) *State {
	return &State{window: window, recipients: counters.NewDistinct(window, maxKeys),
		velocity: counters.NewWindow(window, 10, maxKeys)}
}

// Reuse returns prev when it fits cfg, else a new state.
func Reuse(prev *State, cfg Config, maxKeys int) *State {
	if prev != nil && prev.window == cfg.Window {
		return prev
	}
	return NewState(cfg.Window, maxKeys)
}

// Detector classifies.
type Detector struct {
	cfg Config
	st  *State
}

// New returns a classifier.
func New(cfg Config, st *State) *Detector { return &Detector{cfg: cfg, st: st} }

// Name implements filter.Detector.
func (d *Detector) Name() string { return "classification" }

const strong = filter.ReasonAlphaSender | filter.ReasonShortCode | filter.ReasonBinaryCoding |
	filter.ReasonTemplateFanout | filter.ReasonSenderVelocity | filter.ReasonMultiDest

// Detect sets f.Class and f.ClassReasons.
func (d *Detector) Detect(f *filter.Facts, _ *filter.Detections, now int64) {
	if f.Direction == filter.MO.String() {
		if f.Receipt {
			f.Class = filter.ClassReceipt
		} else {
			f.Class = filter.ClassMO
		}
		return
	}
	var r uint32
	switch f.SenderKind {
	case filter.KindAlphanumeric:
		r |= filter.ReasonAlphaSender
	case filter.KindShortCode:
		r |= filter.ReasonShortCode
	}
	if f.Binary {
		r |= filter.ReasonBinaryCoding
	}
	if f.DestCount > 1 {
		r |= filter.ReasonMultiDest
	}
	if f.URLCount > 0 {
		r |= filter.ReasonURL
	}
	if f.Fingerprint != 0 {
		n := d.st.recipients.Add(f.Fingerprint, f.DestHash(), now)
		if int(n) > d.cfg.FanoutRecipients {
			r |= filter.ReasonTemplateFanout
		}
	}
	if f.SenderKind == filter.KindNumber {
		n := d.st.velocity.Add(f.SenderHash(), now, uint32(f.Segments))
		if int(n) > d.cfg.SenderVelocity {
			r |= filter.ReasonSenderVelocity
		}
	}
	if r&strong != 0 {
		f.Class = filter.ClassA2P
	} else {
		f.Class = filter.ClassP2P
		r |= filter.ReasonConsumerProfile
	}
	f.ClassReasons = r
}
