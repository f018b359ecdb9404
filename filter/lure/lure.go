// Package lure scores how much of a scam's structure a text has (a story
// and a request: "Hi Mum, new number, can you pay a bill for me", "earn
// 300 EUR a day from home, reply YES") and remembers which phone numbers it
// has seen, so that a lure from a number first seen today can be held while
// the same text from a long-known number is only recorded. It catches the
// first phones of a wave, before the campaign counters have seen enough
// senders, and lures without a link, which nothing else in the text shows.
package lure

import (
	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/counters"
	"github.com/smsfw/smsfw/filter/textscan"
	"github.com/smsfw/smsfw/internal/unsafex"
)

// State is the sender history; it survives reloads (the memory budget
// unchanged).
type State struct {
	maxBytes int64
	known    *counters.Seen // senders seen within sender_memory
	young    *counters.Seen // senders first seen within new_sender_age
}

// Reuse returns prev when its budget is maxBytes, else a new state whose
// two tables share maxBytes (known three quarters).
func Reuse(prev *State, maxBytes int64) *State {
	if prev != nil && prev.maxBytes == maxBytes {
		return prev
	}
	return &State{maxBytes: maxBytes, known: counters.NewSeen(counters.Bytes(maxBytes * 3 / 4)),
		young: counters.NewSeen(counters.Bytes(maxBytes / 4))}
}

// Tables lists the counter tables for metrics.
func (s *State) Tables() []counters.Named {
	return []counters.Named{{Name: "known_senders", Table: s.known}, {Name: "new_senders", Table: s.young}}
}

// Detector is the lure detector.
type Detector struct {
	cfg Config
	st  *State
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
		if d.st.known.Has(key, now) {
			isNew = d.st.young.Has(key, now)
		} else {
			d.st.young.Add(key, now, d.cfg.NewSenderAge)
		}
		d.st.known.Add(key, now, d.cfg.SenderMemory)
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
}
