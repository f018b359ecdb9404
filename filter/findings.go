package filter

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
)

// A detector declares its findings in its own folder, as package variables
// (NewFlag, NewCount, NewAmount, NewText). Each gets a slot in Detections:
// detectors write through the handle, rules read det.<name>, and evidence,
// metrics and the JSON of `smsfw rules test` list them by name. Nothing
// outside the detector's folder names a finding, so adding one touches
// only that folder.

// FindingKind is what a finding holds.
type FindingKind uint8

// Finding kinds.
const (
	KindFlag   FindingKind = iota + 1 // bool: the detector fired (det.campaign)
	KindCount                         // int: the counter behind a finding (det.campaign_senders)
	KindAmount                        // float64 (det.leakage_amount)
	KindText                          // string (det.keyword_hit)
)

func (k FindingKind) String() string {
	switch k {
	case KindFlag:
		return "bool"
	case KindCount:
		return "int"
	case KindAmount:
		return "float"
	case KindText:
		return "string"
	}
	return "unknown"
}

// Slots per kind in Detections. Flags are also a bit set (Fired), so there
// are at most 64.
const (
	MaxFlags   = 64
	MaxCounts  = 32
	MaxAmounts = 8
	MaxTexts   = 16
)

// Finding describes a declared finding.
type Finding struct {
	Name  string // det.<name>; lower-case, unique over all detectors
	Help  string
	Owner string // the declaring detector (its policy section's name)
	Kind  FindingKind
	Slot  int // index in Detections' array of its kind
}

// Handles to a finding's slot, typed by kind.
type (
	FlagKey   struct{ slot uint8 }
	CountKey  struct{ slot uint8 }
	AmountKey struct{ slot uint8 }
	TextKey   struct{ slot uint8 }
)

var findings struct {
	mu     sync.RWMutex
	all    []Finding
	byName map[string]int
	used   [KindText + 1]int
}

var kindCap = [KindText + 1]int{KindFlag: MaxFlags, KindCount: MaxCounts, KindAmount: MaxAmounts, KindText: MaxTexts}

// declare registers a finding. It panics on a duplicate name or when a
// kind's slots are used up: both are programming errors, found at start.
func declare(owner, name, help string, k FindingKind) uint8 {
	findings.mu.Lock()
	defer findings.mu.Unlock()
	if findings.byName == nil {
		findings.byName = map[string]int{}
	}
	if i, dup := findings.byName[name]; dup {
		panic(fmt.Sprintf("filter: finding %q declared by %s and %s", name, findings.all[i].Owner, owner))
	}
	if findings.used[k] >= kindCap[k] {
		panic(fmt.Sprintf("filter: more than %d %s findings (raise Max in filter/findings.go)", kindCap[k], k))
	}
	slot := findings.used[k]
	findings.used[k]++
	findings.byName[name] = len(findings.all)
	findings.all = append(findings.all, Finding{Name: name, Help: help, Owner: owner, Kind: k, Slot: slot})
	return uint8(slot)
}

// NewFlag declares a boolean finding of owner (the detector's name).
func NewFlag(owner, name, help string) FlagKey { return FlagKey{declare(owner, name, help, KindFlag)} }

// NewCount declares an integer finding.
func NewCount(owner, name, help string) CountKey {
	return CountKey{declare(owner, name, help, KindCount)}
}

// NewAmount declares a float finding.
func NewAmount(owner, name, help string) AmountKey {
	return AmountKey{declare(owner, name, help, KindAmount)}
}

// NewText declares a string finding.
func NewText(owner, name, help string) TextKey { return TextKey{declare(owner, name, help, KindText)} }

// LookupFinding returns the declared finding called name.
func LookupFinding(name string) (Finding, bool) {
	findings.mu.RLock()
	defer findings.mu.RUnlock()
	i, ok := findings.byName[name]
	if !ok {
		return Finding{}, false
	}
	return findings.all[i], true
}

// FindingAt returns the finding declared in slot of kind k.
func FindingAt(k FindingKind, slot int) (Finding, bool) {
	findings.mu.RLock()
	defer findings.mu.RUnlock()
	for _, f := range findings.all {
		if f.Kind == k && f.Slot == slot {
			return f, true
		}
	}
	return Finding{}, false
}

// Findings returns every declared finding in declaration order.
func Findings() []Finding {
	findings.mu.RLock()
	defer findings.mu.RUnlock()
	return append([]Finding(nil), findings.all...)
}

// Detections are the detectors' findings for one message, by slot. Rules
// read them as det.<name> (the policy compiler turns the name into its
// slot); Fired has a bit per raised flag, so rules that need a finding
// that did not fire are skipped without running.
type Detections struct {
	Fired   uint64
	Flags   [MaxFlags]bool
	Counts  [MaxCounts]int
	Amounts [MaxAmounts]float64
	Texts   [MaxTexts]string
}

// Raise sets a flag.
func (d *Detections) Raise(f FlagKey) {
	d.Flags[f.slot] = true
	d.Fired |= 1 << f.slot
}

// Set sets a flag to v.
func (d *Detections) Set(f FlagKey, v bool) {
	if v {
		d.Raise(f)
	}
}

// Has reports whether a flag is raised.
func (d *Detections) Has(f FlagKey) bool { return d.Fired&(1<<f.slot) != 0 }

// SetCount, Count, SetAmount, Amount, SetText and Text write and read
// values.
func (d *Detections) SetCount(c CountKey, n int)       { d.Counts[c.slot] = n }
func (d *Detections) Count(c CountKey) int             { return d.Counts[c.slot] }
func (d *Detections) SetAmount(a AmountKey, v float64) { d.Amounts[a.slot] = v }
func (d *Detections) Amount(a AmountKey) float64       { return d.Amounts[a.slot] }
func (d *Detections) SetText(t TextKey, s string)      { d.Texts[t.slot] = s }
func (d *Detections) Text(t TextKey) string            { return d.Texts[t.slot] }
func (f FlagKey) Bit() uint64                          { return 1 << f.slot }
func (d *Detections) value(f Finding) (any, bool) { // for tools, not the hot path
	switch f.Kind {
	case KindFlag:
		return d.Flags[f.Slot], d.Flags[f.Slot]
	case KindCount:
		return d.Counts[f.Slot], d.Counts[f.Slot] != 0
	case KindAmount:
		return d.Amounts[f.Slot], d.Amounts[f.Slot] != 0
	case KindText:
		return d.Texts[f.Slot], d.Texts[f.Slot] != ""
	}
	return nil, false
}

// Get returns the finding called name (tools and tests).
func (d *Detections) Get(name string) (any, bool) {
	f, ok := LookupFinding(name)
	if !ok {
		return nil, false
	}
	v, _ := d.value(f)
	return v, true
}

// Clear unsets the finding called name (tools and tests).
func (d *Detections) Clear(name string) {
	f, ok := LookupFinding(name)
	if !ok {
		return
	}
	switch f.Kind {
	case KindFlag:
		d.Flags[f.Slot] = false
		d.Fired &^= 1 << f.Slot
	case KindCount:
		d.Counts[f.Slot] = 0
	case KindAmount:
		d.Amounts[f.Slot] = 0
	case KindText:
		d.Texts[f.Slot] = ""
	}
}

// Each calls fn for every finding that is set (raised, non-zero,
// non-empty) and owned by owner ("" for all), in declaration order.
func (d *Detections) Each(owner string, fn func(f Finding, v any)) {
	for _, f := range Findings() {
		if owner != "" && f.Owner != owner {
			continue
		}
		if v, set := d.value(f); set {
			fn(f, v)
		}
	}
}

// Clone copies d with its strings, which may alias a message.
func (d *Detections) Clone() Detections {
	c := *d
	for i := range c.Texts {
		c.Texts[i] = strings.Clone(c.Texts[i])
	}
	return c
}

// MarshalJSON writes every declared finding by name.
func (d Detections) MarshalJSON() ([]byte, error) {
	all := Findings()
	out := make(map[string]any, len(all))
	for _, f := range all {
		v, _ := d.value(f)
		out[f.Name] = v
	}
	return json.Marshal(out)
}

// Found builds Detections from name, value pairs (tests and tools):
// Found("keyword", true, "keyword_hit", "free viagra"). An unknown name or
// a value of the wrong type panics.
func Found(pairs ...any) Detections {
	var d Detections
	for i := 0; i+1 < len(pairs); i += 2 {
		name := pairs[i].(string)
		f, ok := LookupFinding(name)
		if !ok {
			panic("filter: unknown finding " + name)
		}
		switch v := pairs[i+1].(type) {
		case bool:
			if f.Kind != KindFlag {
				panic("filter: " + name + " is not a flag")
			}
			if v {
				d.Raise(FlagKey{uint8(f.Slot)})
			}
		case int:
			d.SetCount(CountKey{uint8(f.Slot)}, v)
		case float64:
			d.SetAmount(AmountKey{uint8(f.Slot)}, v)
		case string:
			d.SetText(TextKey{uint8(f.Slot)}, v)
		default:
			panic(fmt.Sprintf("filter: %s: value %T", name, v))
		}
	}
	return d
}
