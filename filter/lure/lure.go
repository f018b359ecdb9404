// Package lure scores how much of a scam's structure a text has (a story
// and a request: "Hi Mum, new number, can you pay a bill for me", "earn
// 300 EUR a day from home, reply YES") and remembers which phone numbers it
// has seen, so that a lure from a number first seen today can be held while
// the same text from a long-known number is only recorded. It catches the
// first phones of a wave, before the campaign counters have seen enough
// senders, and lures without a link, which nothing else in the text shows.
package lure

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/campaign"
	"github.com/smsfw/smsfw/filter/counters"
	"github.com/smsfw/smsfw/filter/textscan"
	"github.com/smsfw/smsfw/internal/unsafex"
)

// State is the sender history; it survives reloads (the memory budget
// unchanged).
type State struct {
	maxBytes   int64
	waveWindow time.Duration
	known      *counters.Seen   // senders seen within sender_memory
	young      *counters.Seen   // senders first seen within new_sender_age
	firsts     *counters.Firsts // fingerprint of a lure text -> its first messages
}

// Reuse returns prev when its budget and wave window are unchanged, else a
// new state: known senders 5/8 of maxBytes, new senders 1/4, the first
// messages of lure texts 1/8.
func Reuse(prev *State, cfg Config, maxBytes int64) *State {
	cfg = cfg.Defaults()
	if prev != nil && prev.maxBytes == maxBytes && prev.waveWindow == cfg.WaveWindow {
		return prev
	}
	return &State{maxBytes: maxBytes, waveWindow: cfg.WaveWindow, known: counters.NewSeen(counters.Bytes(maxBytes * 5 / 8)),
		young: counters.NewSeen(counters.Bytes(maxBytes / 4)), firsts: counters.NewFirsts(cfg.WaveWindow, counters.Bytes(maxBytes/8))}
}

// Tables lists the counter tables for metrics.
func (s *State) Tables() []counters.Named {
	return []counters.Named{{Name: "known_senders", Table: s.known}, {Name: "new_senders", Table: s.young},
		{Name: "lure_first_messages", Table: s.firsts}}
}

// Detector is the lure detector.
type Detector struct {
	cfg Config
	st  *State
	// lastNow is the time of the last message seen, for Explain (which
	// is not given it).
	lastNow atomic.Int64
}

// New returns a detector.
func New(cfg Config, st *State) *Detector { return &Detector{cfg: cfg.Defaults(), st: st} }

// Name implements filter.Detector.
func (d *Detector) Name() string { return "lure" }

// Detect scores the text and, for MT from phone numbers, records the
// sender.
func (d *Detector) Detect(f *filter.Facts, det *filter.Detections, now int64) {
	if f.Receipt || f.Text == "" {
		return
	}
	if f.Direction == filter.MT.String() && f.SenderKind == filter.KindNumber {
		key := f.SenderHash()
		isNew := true
		if d.st.known.Touch(key, now, d.cfg.SenderMemory) {
			isNew = d.st.young.Has(key, now)
		} else {
			d.st.young.Add(key, now, d.cfg.NewSenderAge)
		}
		det.Set(NewSender, isNew)
	}
	l := textscan.LureScore(unsafex.Bytes(f.Norm), textscan.Shape{Words: f.Words, Codes: f.Codes, Phones: f.Phones,
		Emails: f.Emails, Money: f.Money, Handoffs: f.Handoffs})
	if l.Score == 0 {
		return
	}
	det.SetCount(Score, l.Score)
	det.SetText(Kind, l.Kind.String())
	det.SetText(Parts, l.Parts)
	det.Set(Lure, l.Score >= 3)
	if l.Score < 2 || f.Fingerprint == 0 || f.Direction != filter.MT.String() || f.SenderKind != filter.KindNumber {
		return
	}
	// A wave: the campaign detector (before this one) counts the senders
	// of the text. Until the wave is recognised its first messages are
	// remembered; from then on each message of it names them.
	if det.Count(campaign.Senders) < d.cfg.WaveSenders {
		from, err1 := strconv.ParseUint(f.Sender, 10, 64)
		to, err2 := strconv.ParseUint(f.Dest, 10, 64)
		if err1 == nil && err2 == nil {
			d.st.firsts.Add(f.Fingerprint, counters.FirstRecord{A: from, B: to, At: now}, now)
		}
		return
	}
	det.Raise(Wave)
	var recs [counters.FirstsMax]counters.FirstRecord
	det.SetCount(WaveEarlier, d.st.firsts.Get(f.Fingerprint, &recs, now))
	d.lastNow.Store(now)
}
