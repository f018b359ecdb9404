// Package pumping finds SMS pumping / artificially inflated traffic: bursts
// toward premium or high-cost ranges from one peer, runs of sequential
// destination numbers, and a peer's first messages to a new country.
package pumping

import (
	"time"

	"github.com/smsfw/smsfw/internal/unsafex"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/counters"
	"github.com/smsfw/smsfw/filter/lists"
	"github.com/smsfw/smsfw/filter/numbers"
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
	if num, ok := numbers.DigitValue(f.Dest); ok {
		run := d.st.seq.Observe(peer, num, now)
		det.SetCount(SequentialRun, run)
		if run >= d.cfg.SequentialRun {
			det.Raise(Pumping)
			det.SetText(PumpingWhy, WhySequential)
		}
	}
	if f.DestCountry != "" {
		vol := d.st.volume.Add(peer, now, 1)
		key := counters.KeyMixed2(f.PeerMix(), counters.Mix(regionKey(f.DestCountry))) // KeyUint64(peer, regionKey)
		// Every message refreshes the country: one in steady use never
		// turns new again; one unused for NewCountryAfter does.
		if !d.st.countries.Touch(key, now, d.cfg.NewCountryAfter) {
			det.Set(NewDestCountry, vol > established)
		}
	}
}

// regionKey packs a region code ("DE", "001") into an integer for
// counters.KeyUint64 without hashing it; a longer one is hashed.
func regionKey(r string) uint64 {
	if len(r) == 2 { // ISO 3166 alpha-2, nearly every destination: the loop below unrolled
		return 2<<56 | uint64(r[0]) | uint64(r[1])<<8
	}
	if len(r) > 7 {
		return counters.KeyString(r)
	}
	v := uint64(len(r)) << 56
	for i := 0; i < len(r); i++ {
		v |= uint64(r[i]) << (8 * i)
	}
	return v
}
