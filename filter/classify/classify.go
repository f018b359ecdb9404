// Package classify labels every message A2P, P2P, MO or receipt, with the
// reasons (filter.Reason*), before the other detectors run: grey-route,
// campaign and leakage findings depend on it.
package classify

import (
	"strings"
	"time"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/counters"
	"github.com/smsfw/smsfw/filter/lists"
	"github.com/smsfw/smsfw/filter/textscan"
	"github.com/smsfw/smsfw/internal/unsafex"
)

// Config is the detectors.classification section.
type Config struct {
	// FanoutRecipients: one text template to more recipients than this within Window is A2P (default 20).
	FanoutRecipients int `yaml:"fanout_recipients"`
	// SenderVelocity: a numeric sender sending more segments than this within Window is beyond a consumer (default 60).
	SenderVelocity int           `yaml:"sender_velocity"`
	Window         time.Duration `yaml:"window"` // default 10m
	// Brands names a keywords list of brand names: a text that opens with
	// one ("PayPal: New sign-in ...", "【Telegram】") is business. The
	// sender registry's IDs count as brands too.
	Brands string `yaml:"brands"`
	// HomePrefixes names a prefixes list of the operator's own number
	// ranges: an MO from one of them is from a home subscriber
	// (det.mo_origin "home"), else "foreign" (roaming in, interconnect,
	// spoofed).
	HomePrefixes string `yaml:"home_prefixes"`

	brands *lists.List
	home   *lists.List
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
	maxBytes   int64
	recipients *counters.Distinct // fingerprint -> distinct recipients
	velocity   *counters.Window   // sender -> segments
}

// NewState sizes the counters: the two tables share maxBytes equally.
func NewState(window time.Duration, maxBytes int64) *State {
	return &State{window: window, maxBytes: maxBytes, recipients: counters.NewDistinct(window, counters.Bytes(maxBytes/2)),
		velocity: counters.NewWindow(window, 10, counters.Bytes(maxBytes/2))}
}

// Reuse returns prev when it fits cfg and the memory budget, else a new state.
func Reuse(prev *State, cfg Config, maxBytes int64) *State {
	if prev != nil && prev.window == cfg.Window && prev.maxBytes == maxBytes {
		return prev
	}
	return NewState(cfg.Window, maxBytes)
}

// Tables lists the counter tables for metrics.
func (s *State) Tables() []counters.Named {
	return []counters.Named{{Name: "recipients", Table: s.recipients}, {Name: "velocity", Table: s.velocity}}
}

// Detector classifies.
type Detector struct {
	cfg    Config
	st     *State
	lex    *lexicon
	brands *textscan.Matcher
}

// New returns a classifier.
func New(cfg Config, st *State) *Detector { return &Detector{cfg: cfg, st: st, lex: builtinLexicon()} }

// WithBrands returns a classifier that also recognises texts opening with
// one of the brands (normalized names).
func (d *Detector) WithBrands(brands []string) *Detector {
	var norm []string
	for _, b := range brands {
		if n := textscan.Normalize(nil, []byte(b)); len(n) >= 2 {
			norm = append(norm, string(n))
		}
	}
	if len(norm) > 0 {
		d.brands, _ = textscan.NewMatcher(norm) // non-empty patterns: no error
	}
	return d
}

// Name implements filter.Detector.
func (d *Detector) Name() string { return "classification" }

// Strong reasons make a message A2P alone. One text to many recipients is
// not one of them: "Happy New Year" and "on my way" reach hundreds of
// people from hundreds of phones. It counts only with a link or a code, the
// marks of a business template.
const strong = filter.ReasonAlphaSender | filter.ReasonShortCode | filter.ReasonBinaryCoding |
	filter.ReasonSenderVelocity | filter.ReasonMultiDest | filter.ReasonBusinessText

// Detect sets f.Class and f.ClassReasons.
func (d *Detector) Detect(f *filter.Facts, det *filter.Detections, now int64) {
	if f.Direction == filter.MO.String() {
		if f.Receipt {
			f.Class = filter.ClassReceipt
			return
		}
		f.Class = filter.ClassMO
		if d.cfg.home != nil && f.Sender != "" {
			if _, ok := d.cfg.home.MatchPrefix(unsafex.Bytes(f.Sender)); ok {
				det.SetText(Origin, OriginHome)
			} else {
				det.SetText(Origin, OriginForeign)
			}
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
	kind := d.lex.kind(f)
	if kind == "" && d.opensWithBrand(f.Text) {
		kind = BusinessNotification
	}
	if kind != "" {
		r |= filter.ReasonBusinessText
		det.SetText(Business, kind)
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
	if r&strong != 0 || r&filter.ReasonTemplateFanout != 0 && (f.URLCount > 0 || f.Codes > 0) {
		f.Class = filter.ClassA2P
	} else {
		f.Class = filter.ClassP2P
		r |= filter.ReasonConsumerProfile
	}
	f.ClassReasons = r
}

// opensWithBrand reports whether text opens with a brand as its label:
// "PayPal: ...", "PayPal : ...", "【PayPal】...", "[PayPal] ...".
func (d *Detector) opensWithBrand(text string) bool {
	if d.brands == nil || text == "" {
		return false
	}
	label := ""
	switch {
	case strings.HasPrefix(text, "【"):
		if i := strings.Index(text, "】"); i > 0 && i <= 64 {
			label = text[len("【"):i]
		}
	case text[0] == '[':
		if i := strings.IndexByte(text, ']'); i > 0 && i <= 48 {
			label = text[1:i]
		}
	default:
		if i := strings.IndexAny(text, ":："); i > 0 && i <= 48 {
			label = text[:i]
		}
	}
	if label == "" {
		return false
	}
	var b [128]byte
	n := textscan.Normalize(b[:0], unsafex.Bytes(label))
	i, start, end := d.brands.First(n, true)
	return i >= 0 && start == 0 && end == len(n)
}
