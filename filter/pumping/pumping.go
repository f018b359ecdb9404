// Package pumping finds SMS pumping / artificially inflated traffic: bursts
// toward premium or high-cost ranges from one peer, runs of sequential
// destination numbers, and a peer's first messages to a new country.
package pumping

import (
	"encoding/binary"
	"strconv"
	"time"

	"github.com/smsfw/smsfw/internal/unsafex"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/counters"
	"github.com/smsfw/smsfw/filter/lists"
)

// Config is the detectors.pumping section.
type Config struct {
	PremiumRanges string        `yaml:"premium_ranges"` // prefixes list of premium / high-cost ranges
	Window        time.Duration `yaml:"window"`         // default 1m
	PremiumBurst  int           `yaml:"premium_burst"`  // more segments than this to premium ranges per peer in Window (default 20)
	SequentialRun int           `yaml:"sequential_run"` // at least this many consecutive destination numbers (default 5)
	// NewCountryAfter: a peer's first message to a country counts as new only after this warm-up (default 24h).
	NewCountryAfter time.Duration `yaml:"new_country_after"`
	// PremiumDestinations: messages from one peer to at least this many
	// distinct numbers of the premium ranges within PremiumWindow are
	// pumping (default 3 in 1h): the slow pumping that stays under
	// premium_burst, and the tail of a burst, are caught from the third
	// number on.
	PremiumDestinations int           `yaml:"premium_destinations"`
	PremiumWindow       time.Duration `yaml:"premium_window"`

	// Premium is the premium_ranges list, resolved.
	Premium *lists.List `yaml:"-"`
}

// Defaults fills zero values.
func (c Config) Defaults() Config {
	if c.Window == 0 {
		c.Window = time.Minute
	}
	if c.PremiumBurst == 0 {
		c.PremiumBurst = 20
	}
	if c.SequentialRun == 0 {
		c.SequentialRun = 5
	}
	if c.NewCountryAfter == 0 {
		c.NewCountryAfter = 24 * time.Hour
	}
	if c.PremiumDestinations == 0 {
		c.PremiumDestinations = 3
	}
	if c.PremiumWindow == 0 {
		c.PremiumWindow = time.Hour
	}
	return c
}

// Why values.
const (
	WhyPremiumBurst  = "premium_burst"
	WhySequential    = "sequential_destinations"
	WhyPremiumSpread = "premium_destinations"
)

// established is how many messages a peer sends before a new country counts.
const established = 100

// State survives reloads.
type State struct {
	window    time.Duration
	learn     time.Duration
	spread    time.Duration
	maxBytes  int64
	premium   *counters.Window   // peer -> premium segments
	seq       *counters.Sequence // peer -> destination runs
	volume    *counters.Window   // peer -> messages over the learning period
	countries *counters.Seen     // peer+country
	dests     *counters.Distinct // peer -> premium destinations over PremiumWindow
}

// Reuse returns prev when it fits cfg and the memory budget, else a new
// state whose four tables share maxBytes equally.
func Reuse(prev *State, cfg Config, maxBytes int64) *State {
	if prev != nil && prev.window == cfg.Window && prev.learn == cfg.NewCountryAfter && prev.spread == cfg.PremiumWindow && prev.maxBytes == maxBytes {
		return prev
	}
	each := counters.Bytes(maxBytes / 5)
	return &State{window: cfg.Window, learn: cfg.NewCountryAfter, spread: cfg.PremiumWindow, maxBytes: maxBytes,
		premium: counters.NewWindow(cfg.Window, 10, each), seq: counters.NewSequence(cfg.Window, each),
		volume: counters.NewWindow(cfg.NewCountryAfter, 24, each), countries: counters.NewSeen(each),
		dests: counters.NewDistinct(cfg.PremiumWindow, each)}
}

// Tables lists the counter tables for metrics.
func (s *State) Tables() []counters.Named {
	return []counters.Named{{Name: "premium", Table: s.premium}, {Name: "sequence", Table: s.seq},
		{Name: "volume", Table: s.volume}, {Name: "countries", Table: s.countries}, {Name: "premium_destinations", Table: s.dests}}
}

// Detector is the pumping detector.
type Detector struct {
	cfg Config
	st  *State
}

// New returns a detector.
func New(cfg Config, st *State) *Detector { return &Detector{cfg: cfg, st: st} }

// Name implements filter.Detector.
func (d *Detector) Name() string { return "pumping" }

// Detect counts and flags.
func (d *Detector) Detect(f *filter.Facts, det *filter.Detections, now int64) {
	if f.Direction != filter.MT.String() || f.Dest == "" {
		return
	}
	peer := f.PeerHash()
	if _, ok := d.cfg.Premium.MatchPrefix(unsafex.Bytes(f.Dest)); ok {
		f.DestPremium = true
		n := int(d.st.premium.Add(peer, now, uint32(f.Segments)))
		det.SetCount(PremiumBurst, n)
		spread := int(d.st.dests.Add(peer, f.DestHash(), now))
		det.SetCount(PremiumDests, spread)
		switch {
		case n > d.cfg.PremiumBurst:
			det.Raise(Pumping)
			det.SetText(PumpingWhy, WhyPremiumBurst)
		case spread >= d.cfg.PremiumDestinations:
			det.Raise(Pumping)
			det.SetText(PumpingWhy, WhyPremiumSpread)
		}
	}
	if num, ok := parseDigits(f.Dest); ok {
		run := d.st.seq.Observe(peer, num, now)
		det.SetCount(SequentialRun, run)
		if run >= d.cfg.SequentialRun {
			det.Raise(Pumping)
			det.SetText(PumpingWhy, WhySequential)
		}
	}
	if f.DestCountry != "" {
		vol := d.st.volume.Add(peer, now, 1)
		key := counters.KeyUint64(peer, regionKey(f.DestCountry))
		// Every message refreshes the country: one in steady use never
		// turns new again; one unused for NewCountryAfter does.
		if !d.st.countries.Touch(key, now, d.cfg.NewCountryAfter) {
			det.Set(NewDestCountry, vol > established)
		}
	}
}

// parseDigits is strconv.ParseUint(s, 10, 64) without the error value: a
// destination of decimal digits only, below 2^64. A destination of 8 to
// 16 digits (nearly all) is read as two overlapping 8-byte words.
func parseDigits(s string) (uint64, bool) {
	const zeros = 0x3030303030303030 // "00000000"
	switch {
	case len(s) == 8:
		return eightDigits(load8(s))
	case len(s) > 8 && len(s) <= 16:
		// The head's k digits, shifted to the word's last k bytes behind
		// '0's, and the last eight digits.
		k := uint(len(s) - 8)
		hi, ok := eightDigits(load8(s)<<(8*(8-k)) | zeros>>(8*k))
		lo, ok2 := eightDigits(load8(s[len(s)-8:]))
		return hi*100_000_000 + lo, ok && ok2
	case s == "" || len(s) > 19: // 19 digits never overflow
		n, err := strconv.ParseUint(s, 10, 64)
		return n, err == nil
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i] - '0'
		if c > 9 {
			return 0, false
		}
		n = n*10 + uint64(c)
	}
	return n, true
}

// load8 is s's first eight bytes, little-endian (s[0] in the low byte).
func load8(s string) uint64 { return binary.LittleEndian.Uint64(unsafex.Bytes(s[:8])) }

// eightDigits reads eight ASCII digits loaded little-endian (the first
// digit in the low byte) as their decimal value, false if any byte is not
// '0'-'9' (SWAR: no loop, three multiplications).
func eightDigits(x uint64) (uint64, bool) {
	const ones = 0x0101010101010101
	// Every byte's high nibble is 3, and adding 6 keeps it 3: '0'..'9'.
	if x&(0xF0*ones) != 0x30*ones || (x+0x06*ones)&(0xF0*ones) != 0x30*ones {
		return 0, false
	}
	x -= 0x30 * ones
	x = (x*10 + x>>8) & 0x00FF00FF00FF00FF      // pairs of digits, 0..99 each
	x = (x*100 + x>>16) & 0x0000FFFF0000FFFF    // groups of four, 0..9999 each
	return (x*10000 + x>>32) & 0xFFFFFFFF, true // all eight
}

// regionKey packs a region code ("DE", "001") into an integer for
// counters.KeyUint64 without hashing it; a longer one is hashed.
func regionKey(r string) uint64 {
	if len(r) > 7 {
		return counters.KeyString(r)
	}
	v := uint64(len(r)) << 56
	for i := 0; i < len(r); i++ {
		v |= uint64(r[i]) << (8 * i)
	}
	return v
}
