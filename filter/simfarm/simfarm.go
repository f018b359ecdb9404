// Package simfarm inspects MO traffic: many MSISDNs sending one text to one
// short code (SIM farms gaming promotions or votes), and one MO text from
// very many senders (MO spam).
package simfarm

import (
	"github.com/smsfw/smsfw/internal/unsafex"
	"time"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/counters"
)

// Config is the detectors.sim_farm section (MO).
type Config struct {
	Window          time.Duration `yaml:"window"`           // default 10m
	DistinctSenders int           `yaml:"distinct_senders"` // at least this many MSISDNs sending one text to one short code (default 20)
	SpamSenders     int           `yaml:"spam_senders"`     // one MO text from at least this many senders (default 50)
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
	return c
}

// State survives reloads.
type State struct {
	window   time.Duration
	maxBytes int64
	byDest   *counters.Distinct // fingerprint+destination -> senders
	byText   *counters.Distinct // fingerprint -> senders
}

// Reuse returns prev when it fits cfg and the memory budget, else a new
// state whose two tables share maxBytes equally.
func Reuse(prev *State, cfg Config, maxBytes int64) *State {
	if prev != nil && prev.window == cfg.Window && prev.maxBytes == maxBytes {
		return prev
	}
	return &State{window: cfg.Window, maxBytes: maxBytes, byDest: counters.NewDistinct(cfg.Window, counters.Bytes(maxBytes/2)),
		byText: counters.NewDistinct(cfg.Window, counters.Bytes(maxBytes/2))}
}

// Tables lists the counter tables for metrics.
func (s *State) Tables() []counters.Named {
	return []counters.Named{{Name: "by_dest", Table: s.byDest}, {Name: "by_text", Table: s.byText}}
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
	n := int(d.st.byDest.Add(counters.Key(fp[:], unsafex.Bytes(f.Dest)), sender, now))
	det.SetCount(Senders, n)
	if n >= d.cfg.DistinctSenders && len(f.Dest) <= 8 {
		det.Raise(SIMFarm)
	}
	if int(d.st.byText.Add(f.Fingerprint, sender, now)) >= d.cfg.SpamSenders {
		det.Raise(MOSpam)
	}
}
