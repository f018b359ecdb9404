package filter

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/smsfw/smsfw/filter/counters"
	"github.com/smsfw/smsfw/filter/lists"
)

// A Plugin is a kind of detector, declared in its own folder (like a
// CoreDNS plugin): the name of its policy section (detectors.<name>), its
// settings with their defaults, its share of the counter memory, and how it
// is built for a policy snapshot. Its findings are declared next to it
// (NewFlag, ...). The inspection chain lists plugins in one place, in
// order; adding a detector is its folder plus that one line.
type Plugin struct {
	// Name is the section under detectors: and the detector label of the
	// counter metrics.
	Name string
	// Settings returns the detector's settings with nothing set: a pointer
	// to a struct with yaml tags, strictly decoded from detectors.<name>
	// and then checked (defaults filled). Nil: the detector has none.
	Settings func() Settings
	// MemoryShare is the detector's weight in detectors.memory.total for
	// its counter tables (0: it keeps none, and has no memory key).
	MemoryShare int64
	// Build makes the detector for one policy snapshot.
	Build func(env *BuildEnv) Built
	// Reads names the on-demand facts (OnDemandFacts, by their expr name)
	// the detector reads: the chain computes those only when a rule or a
	// detector reads them.
	Reads []string

	// What the policy must use for the detector to run. A detector runs
	// for a policy when it is Always, when a rule reads one of its
	// findings (det.<name>; a rule reading det otherwise runs them all) or
	// a fact it Sets, or when a running detector Uses it. Otherwise it is
	// skipped: its cost (text scans, counter updates) is not paid, and its
	// findings are not computed, counted or shown as evidence.

	// Always: the detector runs whatever the rules read, because something
	// beside the rules depends on it (the message class, the
	// revenue-leakage ledger).
	Always bool
	// Uses names the detectors whose findings this one reads.
	Uses []string
	// Sets names the facts the detector sets (msg.<name>).
	Sets []string
}

// OnDemandFacts are the facts the inspection chain computes only when a
// rule of the policy or a detector (Plugin.Reads) reads one of them: the
// sender's number facts, which cost a number lookup per message and a
// background phonenumbers parse per new sender. (Explain, for `smsfw rules
// test` and the console, always computes them.)
var OnDemandFacts = []string{"sender_country", "sender_type", "sender_valid"}

// Settings are a detector's section of the policy.
type Settings interface {
	// Check validates the decoded settings and fills their defaults;
	// problems are reported through c, at the section's keys.
	Check(c *SettingsCheck)
}

// SettingsCheck reports problems in one detector section with the policy
// file's positions, and resolves the section's list references.
type SettingsCheck struct {
	Section string    // "detectors.<name>"
	Lists   lists.Set // the policy's compiled lists
	// Report records a problem at a key of the section ("window", "" for
	// the section itself).
	Report func(key, msg string)
}

// Errorf reports a problem at key.
func (c *SettingsCheck) Errorf(key, format string, args ...any) {
	c.Report(key, fmt.Sprintf(format, args...))
}

// NotNegative reports a negative value.
func (c *SettingsCheck) NotNegative(key string, v int64) {
	if v < 0 {
		c.Errorf(key, "%s.%s must not be negative", strings.TrimPrefix(c.Section, "detectors."), key)
	}
}

// List resolves a list reference of type t ("" names no list: nil).
func (c *SettingsCheck) List(key, name string, t lists.Type) *lists.List {
	if name == "" {
		return nil
	}
	l, err := c.Lists.Get(name, t)
	if err != nil {
		c.Errorf(key, "%v", err)
		return nil
	}
	return l
}

// PolicyData is what detectors may read from the policy besides their own
// section.
type PolicyData struct {
	Lists lists.Set
	// Registry maps a protected sender ID's skeleton to the peers allowed
	// to use it; RegistryNames back to the ID as registered.
	Registry      map[string][]string
	RegistryNames map[string]string
	// Tariffs are prices per segment by class and country.
	Tariffs map[string]map[string]float64
}

// BuildEnv is what Build gets.
type BuildEnv struct {
	Settings Settings // checked; nil when the plugin has none
	Policy   *PolicyData
	// Budget is the detector's counter memory in bytes.
	Budget int64
	// Prev is the State the plugin's previous build returned (nil at
	// first): counters survive policy swaps.
	Prev any
}

// Built is a detector made for one snapshot.
type Built struct {
	Detector Detector
	State    any              // handed back as Prev on the next build
	Tables   []counters.Named // counter tables, for metrics
}

// Optional detector interfaces.
type (
	// Explainer writes a detector's part of a verdict's evidence (only
	// for non-allow verdicts). Without it, the detector's raised flags and
	// set values are listed as name=value.
	Explainer interface {
		Explain(f *Facts, d *Detections, add func(format string, args ...any))
	}
	// Highlighter returns the part of the text a detector's findings point
	// at (shown to analysts), or "".
	Highlighter interface {
		Highlight(f *Facts, d *Detections) string
	}
	// Observer wants the message ids the SMSC accepted (see AcceptObserver).
	Observer interface {
		Observe(peer string, id []byte, now int64)
	}
)

var plugins struct {
	mu     sync.RWMutex
	byName map[string]*Plugin
}

// Register declares a plugin (from its package's variable initialisation)
// and returns it. A duplicate name panics.
func Register(p *Plugin) *Plugin {
	plugins.mu.Lock()
	defer plugins.mu.Unlock()
	if plugins.byName == nil {
		plugins.byName = map[string]*Plugin{}
	}
	if _, dup := plugins.byName[p.Name]; dup {
		panic("filter: detector " + p.Name + " registered twice")
	}
	plugins.byName[p.Name] = p
	return p
}

// LookupPlugin returns the registered plugin called name.
func LookupPlugin(name string) *Plugin {
	plugins.mu.RLock()
	defer plugins.mu.RUnlock()
	return plugins.byName[name]
}

// Plugins returns the registered plugins by name.
func Plugins() []*Plugin {
	plugins.mu.RLock()
	defer plugins.mu.RUnlock()
	out := make([]*Plugin, 0, len(plugins.byName))
	for _, p := range plugins.byName {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
