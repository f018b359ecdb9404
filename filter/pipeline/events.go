package pipeline

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/greyroute"
	"github.com/smsfw/smsfw/rules"
)

// TextMode says how much of a message's text an event keeps.
type TextMode uint8

const (
	// TextFull keeps the decoded text (and the raw PDUs).
	TextFull TextMode = iota
	// TextMaskDigits replaces every digit with '#' (codes, account numbers)
	// and keeps no raw PDUs except for quarantined messages.
	TextMaskDigits
	// TextNone keeps no text and no raw PDUs except for quarantined messages.
	TextNone
)

// ParseTextMode reads the events.text setting.
func ParseTextMode(s string) (TextMode, error) {
	switch s {
	case "", "full":
		return TextFull, nil
	case "mask_digits":
		return TextMaskDigits, nil
	case "none":
		return TextNone, nil
	}
	return 0, fmt.Errorf("events text %q: want full, mask_digits or none", s)
}

// EventOptions say which messages become events and how much of them an
// event keeps.
type EventOptions struct {
	// Enabled turns event building on (a sink exists).
	Enabled bool
	// SampleAllowed is the fraction of allowed messages kept as samples (0..1).
	SampleAllowed float64
	Text          TextMode
	// TextMax bounds the text an event keeps, in bytes (events.text_max_bytes,
	// default DefaultTextMax): longer text is cut at a character boundary
	// and ends with TruncatedMarker and the number of bytes cut.
	TextMax int
	// RawMax bounds the PDUs a non-quarantined event keeps, in bytes
	// (events.raw_max_bytes, default filter.DefaultRawMax; see
	// filter.Event.RawMax). Throttled messages keep none.
	RawMax int
}

// Event size defaults and caps.
const (
	// DefaultTextMax is the default of EventOptions.TextMax: a long message
	// of 10 UCS-2 segments fits.
	DefaultTextMax = 8 << 10
	// MaxEvidence bounds an event's evidence and highlight (a regex may
	// match a whole 64 KiB payload), in bytes, cut like the text.
	MaxEvidence = 1 << 10
	// TruncatedMarker ends a cut text: "...[truncated 51234 bytes]".
	TruncatedMarker = "…[truncated "
)

// clip cuts s to at most max bytes at a UTF-8 character boundary, applies
// conv (nil: none) to what is kept and marks the cut. conv must not change
// the length much (masking, copying): it runs after the cut, so a 64 KiB
// text is never masked whole.
func clip(s string, max int, conv func(string) string) string {
	if len(s) <= max {
		if conv != nil {
			return conv(s)
		}
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	head := s[:cut]
	if conv != nil {
		head = conv(head)
	}
	return head + TruncatedMarker + strconv.Itoa(len(s)-cut) + " bytes]"
}

// newEvent records a verdict with the facts behind it. Off the allow path
// (or for a sample), so it allocates.
func (c *Chain) newEvent(b *built, r *filter.Request, f *filter.Facts, d *filter.Detections, v filter.Verdict, monitor []*rules.Rule, sampled bool) *filter.Event {
	t := time.Unix(0, r.Time)
	if r.Time == 0 {
		t = c.now()
	}
	ev := &filter.Event{
		ID: filter.NewEventID(), Time: t.UTC(), Direction: f.Direction, Peer: f.Peer, SystemID: f.SystemID,
		PeerClass: f.PeerClass, Class: f.Class, Sender: f.Sender, SenderKind: f.SenderKind, Dest: f.Dest,
		DestCountry: f.DestCountry, DestCount: f.DestCount, DataCoding: f.DataCoding, Segments: f.Segments,
		Fingerprint: filter.Fingerprint(f.Fingerprint), RuleID: v.RuleID, Action: v.Action.String(), Reason: v.Reason,
		Evidence: v.Evidence, Leakage: d.Amount(greyroute.Leakage), Sampled: sampled,
	}
	ev.Sender, ev.Dest, ev.SystemID = strings.Clone(ev.Sender), strings.Clone(ev.Dest), strings.Clone(ev.SystemID)
	if v.Action == filter.Allow && len(monitor) > 0 {
		mr := monitor[0]
		ev.Monitor, ev.Sampled = true, false
		ev.RuleID, ev.Action, ev.Reason = mr.ID, mr.Verdict.Action.String(), mr.Reason
		ev.Evidence = b.evidence(f, d)
	}
	ev.Evidence = clip(ev.Evidence, MaxEvidence, nil)
	// A throttled message is answered 0x58 and sent again: its PDUs are
	// worth nothing to the analyst and would fill the queue.
	ev.RawMax = c.events.RawMax
	if v.Action == filter.Throttle {
		ev.RawMax = -1
	}
	textMax := c.events.TextMax
	if textMax <= 0 {
		textMax = DefaultTextMax
	}
	switch c.events.Text {
	case TextFull:
		ev.Text = clip(f.Text, textMax, strings.Clone)
		ev.Highlight = clip(b.highlight(f, d), MaxEvidence, strings.Clone)
	case TextMaskDigits:
		ev.Text, ev.TextMasked = clip(f.Text, textMax, maskDigits), true
		ev.Highlight = clip(b.highlight(f, d), MaxEvidence, maskDigits)
	case TextNone:
		ev.TextMasked = true
	}
	return ev
}

func maskDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return '#'
		}
		return r
	}, s)
}

// sample decides whether an allowed message without monitor hits is kept.
func (c *Chain) sample() bool {
	return c.events.SampleAllowed > 0 && rand.Float64() < c.events.SampleAllowed
}

// overrideSet is the analysts' overrides, indexed. Immutable once built.
type overrideSet struct {
	sender   map[string]*filter.Override
	fp       map[uint64]*filter.Override
	senderFP map[senderFP]*filter.Override
}

type senderFP struct {
	sender string
	fp     uint64
}

// SetOverrides implements filter.OverrideSetter: the set replaces the live
// one at once; expired entries are left out.
func (c *Chain) SetOverrides(list []filter.Override) {
	now := c.now()
	s := &overrideSet{sender: map[string]*filter.Override{}, fp: map[uint64]*filter.Override{}, senderFP: map[senderFP]*filter.Override{}}
	n := 0
	for i := range list {
		o := &list[i]
		if o.Expires != nil && !o.Expires.After(now) {
			continue
		}
		switch o.Kind {
		case filter.OverrideSender:
			s.sender[o.Sender] = o
		case filter.OverrideFingerprint:
			s.fp[uint64(o.Fingerprint)] = o
		case filter.OverrideSenderFingerprint:
			s.senderFP[senderFP{o.Sender, uint64(o.Fingerprint)}] = o
		default:
			continue
		}
		n++
	}
	if n == 0 {
		s = nil
	}
	c.overrides.Store(s)
	c.m.overrides.Set(float64(n))
}

// override returns the analysts' override for this message, if any. The
// most specific kind wins (sender+fingerprint, then sender, then fingerprint).
func (c *Chain) override(f *filter.Facts) *filter.Override {
	s := c.overrides.Load()
	if s == nil {
		return nil
	}
	if f.Fingerprint != 0 && len(s.senderFP) > 0 {
		if o := s.senderFP[senderFP{f.Sender, f.Fingerprint}]; o != nil {
			return o
		}
	}
	if o := s.sender[f.Sender]; o != nil {
		return o
	}
	if f.Fingerprint != 0 {
		return s.fp[f.Fingerprint]
	}
	return nil
}

// applyOverride turns an override into the verdict it stands for.
func applyOverride(o *filter.Override) filter.Verdict {
	if o.Action == filter.OverrideAllow {
		return filter.AllowVerdict
	}
	return filter.Verdict{Action: filter.Reject, RuleID: fmt.Sprintf("override-%d", o.ID), Reason: "analyst_block"}
}

var _ filter.OverrideSetter = (*Chain)(nil)
