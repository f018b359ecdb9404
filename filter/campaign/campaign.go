// Package campaign finds one text sent from many senders (SIM farms,
// snowshoe spam: one fingerprint, many distinct senders within a window)
// and one P2P sender writing to many recipients (fan-out).
package campaign

import (
	"strconv"
	"time"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/counters"
)

// Config is the detectors.campaign section.
type Config struct {
	Window time.Duration `yaml:"window"` // default 10m
	// DistinctSenders: one fingerprint from at least this many senders is a campaign (default 10).
	DistinctSenders int `yaml:"distinct_senders"`
	// FanoutRecipients: one P2P sender to at least this many recipients (default 30).
	FanoutRecipients int `yaml:"fanout_recipients"`
	// RangeSenders: one text from at least this many numbers of one block
	// of 100 (consecutive SIMs of a farm) is a campaign from a range
	// (default 3).
	RangeSenders int `yaml:"range_senders"`
}

// Defaults fills zero values.
func (c Config) Defaults() Config {
	if c.Window == 0 {
		c.Window = 10 * time.Minute
	}
	if c.DistinctSenders == 0 {
		c.DistinctSenders = 10
	}
	if c.FanoutRecipients == 0 {
		c.FanoutRecipients = 30
	}
	if c.RangeSenders == 0 {
		c.RangeSenders = 3
	}
	return c
}

// State survives reloads.
type State struct {
	window     time.Duration
	maxBytes   int64
	senders    *counters.Distinct // fingerprint -> senders
	recipients *counters.Distinct // sender -> recipients
	ranges     *counters.Blocks   // fingerprint -> senders per block of 100 numbers
}

// Reuse returns prev when it fits cfg and the memory budget, else a new
// state whose three tables share maxBytes equally.
func Reuse(prev *State, cfg Config, maxBytes int64) *State {
	if prev != nil && prev.window == cfg.Window && prev.maxBytes == maxBytes {
		return prev
	}
	each := counters.Bytes(maxBytes / 3)
	return &State{window: cfg.Window, maxBytes: maxBytes, senders: counters.NewDistinct(cfg.Window, each),
		recipients: counters.NewDistinct(cfg.Window, each), ranges: counters.NewBlocks(cfg.Window, each)}
}

// Tables lists the counter tables for metrics.
func (s *State) Tables() []counters.Named {
	return append([]counters.Named{{Name: "senders", Table: s.senders}, {Name: "recipients", Table: s.recipients}},
		s.ranges.Tables("ranges")...)
}

// Detector is the campaign detector.
type Detector struct {
	cfg Config
	st  *State
}

// New returns a detector.
func New(cfg Config, st *State) *Detector { return &Detector{cfg: cfg, st: st} }

// Name implements filter.Detector.
func (d *Detector) Name() string { return "campaign" }

// actionable reports whether a text asks its reader to do something a
// campaign profits from.
func actionable(f *filter.Facts) bool {
	if f.URLCount+f.Money > 0 || f.ClassReasons&filter.ReasonBusinessText != 0 {
		return true
	}
	// A number, address or messenger to answer on makes a crafted text
	// actionable; a short note with one ("call me: 0151 2345678", "on
	// WhatsApp now") is personal, however many people write it.
	return f.Phones+f.Emails+f.Handoffs > 0 && f.Words >= 6
}

// Detect counts and flags.
func (d *Detector) Detect(f *filter.Facts, det *filter.Detections, now int64) {
	if f.Direction != filter.MT.String() || f.Sender == "" {
		return
	}
	sender := f.SenderHash()
	if f.Fingerprint != 0 {
		n := int(d.st.senders.Add(f.Fingerprint, sender, now))
		det.SetCount(Senders, n)
		// One text from many phones is a campaign only when it asks for
		// something: a link, a number or address to answer, a messenger to
		// move to, an amount, a business text. "Happy New Year" and "on my way" come from
		// thousands of phones and ask for nothing.
		act := actionable(f)
		det.Set(Campaign, n >= d.cfg.DistinctSenders && act)
		if f.SenderKind == filter.KindNumber {
			if num, err := strconv.ParseUint(f.Sender, 10, 64); err == nil {
				r, flagged := d.st.ranges.Add(f.Fingerprint, num, d.cfg.RangeSenders, now)
				det.SetCount(RangeSenders, r)
				det.Set(Range, flagged && (act || f.Words >= 6))
			}
		}
	}
	if f.Class == filter.ClassP2P || f.SenderKind == filter.KindNumber {
		n := int(d.st.recipients.Add(sender, f.DestHash(), now))
		det.SetCount(FanoutRecipients, n)
		// A person greeting 40 contacts at New Year asks for nothing.
		det.Set(Fanout, n >= d.cfg.FanoutRecipients && actionable(f))
	}
}
