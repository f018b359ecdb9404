// Package simfarm inspects MO traffic: many MSISDNs sending one text to one
// short code (SIM farms gaming promotions or votes), and one MO text from
// very many senders (MO spam).
package simfarm

import (
	"strconv"
	"time"

	"github.com/smsfw/smsfw/filter/lists"
	"github.com/smsfw/smsfw/internal/unsafex"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/counters"
)

// Config is the detectors.sim_farm section (MO).
type Config struct {
	Window          time.Duration `yaml:"window"`           // default 10m
	DistinctSenders int           `yaml:"distinct_senders"` // at least this many MSISDNs sending one text to one short code (default 20)
	SpamSenders     int           `yaml:"spam_senders"`     // one MO text from at least this many senders (default 50)
	// RangeSenders: one text to one destination from at least this many
	// numbers of one block of 100 is a farm of consecutive SIMs (default 3);
	// the blocks beside it are flagged from their first message.
	RangeSenders int `yaml:"range_senders"`
	// OwnShortCodes names a senders list of the operator's own short codes:
	// bursts to them (TV votes, keyword campaigns, opt-outs) are expected,
	// so only the range signal applies to them.
	OwnShortCodes string `yaml:"own_short_codes"`

	own *lists.List
}

// Defaults fills zero values.
func (c Config) Defaults() Config {
	if c.Window == 0 {
		c.Window = 10 * time.Minute
	}
	if c.DistinctSenders == 0 {
		c.DistinctSenders = 20
	}
	if c.SpamSenders == 0 {
		c.SpamSenders = 50
	}
	if c.RangeSenders == 0 {
		c.RangeSenders = 3
	}
	return c
}

// State survives reloads.
type State struct {
	window   time.Duration
	maxBytes int64
	byDest   *counters.Distinct // fingerprint+destination -> senders
	byText   *counters.Distinct // fingerprint -> senders
	ranges   *counters.Blocks   // fingerprint+destination -> senders per block of 100 numbers
}

// Reuse returns prev when it fits cfg and the memory budget, else a new
// state whose two tables share maxBytes equally.
func Reuse(prev *State, cfg Config, maxBytes int64) *State {
	if prev != nil && prev.window == cfg.Window && prev.maxBytes == maxBytes {
		return prev
	}
	each := counters.Bytes(maxBytes / 3)
	return &State{window: cfg.Window, maxBytes: maxBytes, byDest: counters.NewDistinct(cfg.Window, each),
		byText: counters.NewDistinct(cfg.Window, each), ranges: counters.NewBlocks(cfg.Window, each)}
}

// Tables lists the counter tables for metrics.
func (s *State) Tables() []counters.Named {
	return append([]counters.Named{{Name: "by_dest", Table: s.byDest}, {Name: "by_text", Table: s.byText}},
		s.ranges.Tables("ranges")...)
}

// Detector is the MO detector.
type Detector struct {
	cfg Config
	st  *State
}

// New returns a detector.
func New(cfg Config, st *State) *Detector { return &Detector{cfg: cfg, st: st} }

// Name implements filter.Detector.
func (d *Detector) Name() string { return "sim_farm" }

// Detect counts and flags MO messages (not receipts).
func (d *Detector) Detect(f *filter.Facts, det *filter.Detections, now int64) {
	if f.Direction != filter.MO.String() || f.Receipt || f.Fingerprint == 0 {
		return
	}
	sender := f.SenderHash()
	var fp [8]byte
	for i := range fp {
		fp[i] = byte(f.Fingerprint >> (8 * i))
	}
	key := counters.Key(fp[:], unsafex.Bytes(f.Dest))
	n := int(d.st.byDest.Add(key, sender, now))
	det.SetCount(Senders, n)
	var scratch [32]byte
	own := d.cfg.own.HasSender(unsafex.Bytes(f.Dest), scratch[:0])
	det.Set(OwnShortCode, own)
	if !own && n >= d.cfg.DistinctSenders && len(f.Dest) <= 8 {
		det.Raise(SIMFarm)
	}
	if num, err := strconv.ParseUint(f.Sender, 10, 64); err == nil {
		r, flagged := d.st.ranges.Add(key, num, d.cfg.RangeSenders, now)
		det.SetCount(RangeSenders, r)
		det.Set(Range, flagged)
	}
	if int(d.st.byText.Add(f.Fingerprint, sender, now)) >= d.cfg.SpamSenders && !own {
		det.Raise(MOSpam)
	}
}
