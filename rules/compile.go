package rules

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/lists"
	"github.com/smsfw/smsfw/internal/yamlx"
	"github.com/smsfw/smsfw/mo/action"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// ErrPolicy is wrapped by every policy error.
var ErrPolicy = errors.New("invalid policy")

// PolicyError is a policy problem at a position: "file:line: message".
type PolicyError struct{ Pos *yamlx.Error }

func (e *PolicyError) Error() string { return e.Pos.Error() }
func (e *PolicyError) Unwrap() error { return ErrPolicy }

// Rule is a compiled rule.
type Rule struct {
	ID        string
	Reason    string
	Direction int // -1 any, else filter.MT / filter.MO
	Monitor   bool
	Verdict   filter.Verdict
	Line      int
	// Actions, when set, run for each MO message the rule decides (the
	// pipeline hands them to package mo; never in monitor mode).
	Actions *action.Actions

	prog   *vm.Program
	native nfn // nil: run prog on the VM
	need   uint64
}

// Limit is a compiled rate limit.
type Limit struct {
	ID        string
	Key       string
	Rate      float64
	Burst     int
	Direction int
	Monitor   bool
	Status    pdu.Status
}

// Snapshot is a compiled policy. It is immutable: readers load it once per
// message and never see a half-applied reload.
type Snapshot struct {
	File    string
	Hash    string
	Loaded  time.Time
	Policy  *Policy
	Default filter.Verdict
	Lists   lists.Set
	Rules   []*Rule
	// bare are the Rules that need no finding (in order): all a message
	// with no finding fired can match; bareReady says compile set them.
	bare      []*Rule
	bareReady bool
	Limits    []*Limit
	Registry  map[string][]string // protected sender skeleton -> allowed peers
	// RegistryNames maps a skeleton back to the sender ID as registered.
	RegistryNames map[string]string
	Tariffs       map[string]map[string]float64
	// Settings are every registered detector's checked settings, by
	// detector name; Memory is the counters' byte budget.
	Settings map[string]filter.Settings
	Memory   Memory

	inputs inputs // the files it was built from (policy and lists)
	reads  msgReads
	dets   detReads
}

// ReadsFact reports whether a rule of the policy reads msg.<name> (the
// fact's expr name, e.g. "sender_country"): the inspection skips facts no
// rule and no detector reads.
func (s *Snapshot) ReadsFact(name string) bool { return s.reads.all || s.reads.names[name] }

// ReadsFindingsOf reports whether a rule of the policy reads a finding of
// the detector owner (det.<name>, or det as a whole): the inspection skips
// detectors whose findings no rule and no other running detector reads.
func (s *Snapshot) ReadsFindingsOf(owner string) bool { return s.dets.all || s.dets.owners[owner] }

var idRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// ParseFile reads and compiles a policy file.
func ParseFile(path string) (*Snapshot, error) { return ParseSource(FileSource(path)) }

// Parse strictly decodes, validates and compiles a policy (file names it in
// errors and anchors relative list files, read from the OS).
func Parse(file string, data []byte) (*Snapshot, error) { return parse(FileSource(file), data) }

func parse(src Source, data []byte) (*Snapshot, error) {
	file := src.path
	p := &Policy{}
	lines, err := yamlx.Decode(file, data, p)
	if err != nil {
		var ye *yamlx.Error
		if errors.As(err, &ye) {
			return nil, &PolicyError{Pos: ye}
		}
		return nil, err
	}
	c := compiler{file: file, lines: lines, src: src, inputs: inputs{}}
	c.inputs.add(file, data)
	snap, err := c.compile(p)
	if err != nil {
		return nil, err
	}
	snap.inputs = c.inputs
	sum := sha256.Sum256(data)
	snap.Hash = hex.EncodeToString(sum[:8])
	snap.File = file
	snap.Loaded = time.Now()
	return snap, nil
}

type compiler struct {
	file   string
	lines  yamlx.Lines
	src    Source
	inputs inputs
}

func (c *compiler) errf(path, format string, args ...any) error {
	return &PolicyError{Pos: c.lines.Errorf(c.file, path, format, args...)}
}

func (c *compiler) compile(p *Policy) (*Snapshot, error) {
	if p.Version != 1 {
		return nil, c.errf("version", "version must be 1")
	}
	s := &Snapshot{Policy: p, Lists: lists.Set{}, Registry: map[string][]string{}, RegistryNames: map[string]string{}, Tariffs: p.Tariffs}
	switch p.Default {
	case "allow":
		s.Default = filter.AllowVerdict
	case "flag":
		s.Default = filter.Verdict{Action: filter.Flag, RuleID: "default", Reason: "default"}
	case "":
		return nil, c.errf("default", "default is required: allow or flag")
	default:
		return nil, c.errf("default", "default must be allow or flag, not %q", p.Default)
	}
	names := make([]string, 0, len(p.Lists))
	for name := range p.Lists {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		spec := p.Lists[name]
		path := "lists." + name
		if spec == nil {
			return nil, c.errf(path, "list %q is empty", name)
		}
		if !idRE.MatchString(name) {
			return nil, c.errf(path, "list name %q: use lower-case letters, digits, '-', '_', '.'", name)
		}
		t := lists.Type(spec.Type)
		if !t.Valid() {
			return nil, c.errf(path+".type", "list %q: unknown type %q (senders, prefixes, keywords, domains, regexes)", name, spec.Type)
		}
		items := spec.Items
		var fileLines []int
		listFile := c.src.resolve(spec.File)
		if spec.File != "" {
			data, err := c.src.read(listFile)
			if err != nil {
				return nil, c.errf(path+".file", "list %q: %v", name, err)
			}
			c.inputs.add(listFile, data)
			fi, fl, err := lists.Read(bytes.NewReader(data))
			if err != nil {
				return nil, c.errf(path+".file", "list %q: %v", name, err)
			}
			items = append(append([]string(nil), items...), fi...)
			fileLines = fl
		}
		l, err := lists.Compile(name, t, items)
		if err != nil {
			var ie *lists.ItemError
			if errors.As(err, &ie) {
				if n := len(spec.Items); ie.Index >= n && spec.File != "" {
					return nil, &PolicyError{Pos: &yamlx.Error{File: listFile,
						Line: fileLines[ie.Index-n], Msg: fmt.Sprintf("list %q: %v", name, ie.Err)}}
				}
				return nil, c.errf(fmt.Sprintf("%s.items[%d]", path, ie.Index), "list %q: %v", name, ie.Err)
			}
			return nil, c.errf(path, "list %q: %v", name, err)
		}
		s.Lists[name] = l
	}
	for i, e := range p.SenderRegistry {
		path := fmt.Sprintf("sender_registry[%d]", i)
		if e == nil || strings.TrimSpace(e.Sender) == "" {
			return nil, c.errf(path, "sender_registry entry %d: sender is required", i)
		}
		key := skeletonKey(e.Sender)
		if _, dup := s.Registry[key]; dup {
			return nil, c.errf(path+".sender", "sender_registry: %q is listed twice", e.Sender)
		}
		s.Registry[key] = e.Peers
		s.RegistryNames[key] = e.Sender
	}
	for class, byCountry := range p.Tariffs {
		if class != filter.ClassA2P && class != filter.ClassP2P {
			return nil, c.errf("tariffs."+class, "tariffs: class must be a2p or p2p, not %q", class)
		}
		for country, v := range byCountry {
			if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
				// Not finite: every grey-route event's leakage would be
				// one too, and a store refuses it (SQLite stores NaN as NULL).
				return nil, c.errf("tariffs."+class+"."+country, "tariffs: price for %s/%s must be a finite number >= 0, not %v", class, country, v)
			}
			if country != "default" && (len(country) != 2 || strings.ToUpper(country) != country) {
				return nil, c.errf("tariffs."+class+"."+country, "tariffs: %q is not an ISO country code or default", country)
			}
		}
	}
	if err := c.detectors(p, s); err != nil {
		return nil, err
	}
	seen := map[string]int{}
	for i, r := range p.Rules {
		path := fmt.Sprintf("rules[%d]", i)
		if r == nil {
			return nil, c.errf(path, "rule %d is empty", i)
		}
		if !idRE.MatchString(r.ID) {
			return nil, c.errf(path+".id", "rule %d: id %q: use lower-case letters, digits, '-', '_', '.'", i, r.ID)
		}
		if j, dup := seen[r.ID]; dup {
			return nil, c.errf(path+".id", "rule %q: duplicate id (also rules[%d])", r.ID, j)
		}
		seen[r.ID] = i
		cr, err := c.rule(path, r)
		if err != nil {
			return nil, err
		}
		if cr.prog, cr.need, err = compileExpr(r.When, s.Lists); err != nil {
			return nil, c.errf(path+".when", "rule %q: %s", r.ID, oneLine(err))
		}
		s.reads.add(cr.prog.Node())
		s.dets.add(cr.prog.Node())
		if fn, ok := compileNative(cr.prog.Node(), s.Lists); ok {
			cr.native = fn
		}
		cr.Line = c.lines.Line(path)
		s.Rules = append(s.Rules, cr)
		if cr.need == 0 {
			s.bare = append(s.bare, cr)
		}
	}
	s.bareReady = true
	for i, l := range p.Limits {
		path := fmt.Sprintf("limits[%d]", i)
		if l == nil {
			return nil, c.errf(path, "limit %d is empty", i)
		}
		if !idRE.MatchString(l.ID) {
			return nil, c.errf(path+".id", "limit %d: id %q: use lower-case letters, digits, '-', '_', '.'", i, l.ID)
		}
		if j, dup := seen[l.ID]; dup {
			return nil, c.errf(path+".id", "limit %q: duplicate id (also rules or limits index %d)", l.ID, j)
		}
		seen[l.ID] = i
		switch l.Key {
		case "peer", "sender", "destination", "sender_destination":
		default:
			return nil, c.errf(path+".key", "limit %q: key must be peer, sender, destination or sender_destination", l.ID)
		}
		if l.Rate <= 0 || l.Burst < 1 {
			return nil, c.errf(path+".rate", "limit %q: rate must be > 0 and burst >= 1", l.ID)
		}
		dir, err := direction(l.Direction)
		if err != nil {
			return nil, c.errf(path+".direction", "limit %q: %v", l.ID, err)
		}
		mon, err := mode(l.Mode)
		if err != nil {
			return nil, c.errf(path+".mode", "limit %q: %v", l.ID, err)
		}
		st := pdu.StatusThrottled
		if l.Status != "" {
			if st, err = status(l.Status); err != nil {
				return nil, c.errf(path+".status", "limit %q: %v", l.ID, err)
			}
		}
		s.Limits = append(s.Limits, &Limit{ID: l.ID, Key: l.Key, Rate: l.Rate, Burst: l.Burst, Direction: dir, Monitor: mon, Status: st})
	}
	return s, nil
}

func oneLine(err error) string {
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return msg
}

func (c *compiler) rule(path string, r *RuleSpec) (*Rule, error) {
	cr := &Rule{ID: r.ID, Reason: r.Reason}
	if cr.Reason == "" {
		cr.Reason = r.ID
	}
	var err error
	if cr.Direction, err = direction(r.Direction); err != nil {
		return nil, c.errf(path+".direction", "rule %q: %v", r.ID, err)
	}
	if cr.Monitor, err = mode(r.Mode); err != nil {
		return nil, c.errf(path+".mode", "rule %q: %v", r.ID, err)
	}
	if strings.TrimSpace(r.When) == "" {
		return nil, c.errf(path, "rule %q: when is required", r.ID)
	}
	v := filter.Verdict{RuleID: r.ID, Reason: cr.Reason}
	switch r.Action {
	case "allow":
		v.Action = filter.Allow
	case "block":
		v.Action = filter.Reject
	case "drop":
		v.Action = filter.Drop
	case "throttle":
		v.Action = filter.Throttle
	case "flag":
		v.Action = filter.Flag
	case "quarantine":
		v.Action = filter.Quarantine
	default:
		return nil, c.errf(path+".action", "rule %q: action must be allow, block, drop, throttle, flag or quarantine, not %q", r.ID, r.Action)
	}
	if r.Status != "" {
		if v.Action != filter.Reject && v.Action != filter.Throttle && v.Action != filter.Quarantine {
			return nil, c.errf(path+".status", "rule %q: status only goes with block, throttle or quarantine", r.ID)
		}
		if v.Status, err = status(r.Status); err != nil {
			return nil, c.errf(path+".status", "rule %q: %v", r.ID, err)
		}
	}
	switch r.Receipt {
	case "", "none":
	case "delivered":
		v.Receipt = filter.ReceiptDelivered
	case "failed":
		v.Receipt = filter.ReceiptFailed
	default:
		return nil, c.errf(path+".receipt", "rule %q: receipt must be none, delivered or failed", r.ID)
	}
	if v.Receipt != filter.NoReceipt && v.Action != filter.Drop {
		return nil, c.errf(path+".receipt", "rule %q: receipt only goes with drop", r.ID)
	}
	cr.Verdict = v
	if a := r.Actions; a != nil {
		switch {
		case cr.Direction != int(filter.MO):
			return nil, c.errf(path+".actions", "rule %q: actions need direction: mo (they answer and report MO messages)", r.ID)
		case cr.Monitor:
			return nil, c.errf(path+".actions", "rule %q: actions do not go with mode: monitor (a monitor rule does nothing)", r.ID)
		}
		var first error
		a.Check(c.secret, func(key, format string, args ...any) {
			if first == nil {
				at := strings.TrimSuffix("actions."+key, ".")
				first = c.errf(path+"."+at, "rule %q: %s: "+format, append([]any{r.ID, at}, args...)...)
			}
		})
		if first != nil {
			return nil, first
		}
		cr.Actions = a
	}
	return cr, nil
}

// secret reads a secret file a policy names (a webhook's key): relative
// to the policy, in its source; an absolute name from the OS.
func (c *compiler) secret(name string) (string, []byte, error) {
	if filepath.IsAbs(name) {
		b, err := os.ReadFile(name)
		return name, b, err
	}
	name = c.src.resolve(name)
	b, err := c.src.read(name)
	return name, b, err
}

func direction(s string) (int, error) {
	switch s {
	case "", "any":
		return -1, nil
	case "mt":
		return int(filter.MT), nil
	case "mo":
		return int(filter.MO), nil
	}
	return 0, fmt.Errorf("direction must be mt, mo or any, not %q", s)
}

func mode(s string) (bool, error) {
	switch s {
	case "", "enforce":
		return false, nil
	case "monitor":
		return true, nil
	}
	return false, fmt.Errorf("mode must be enforce or monitor, not %q", s)
}

func status(s string) (pdu.Status, error) {
	v, err := strconv.ParseUint(s, 0, 32)
	if err != nil {
		return 0, fmt.Errorf("status %q is not a number (e.g. 0x45)", s)
	}
	if v == 0 {
		return 0, fmt.Errorf("status 0 is success, not a refusal")
	}
	return pdu.Status(v), nil
}

// RuleError is a problem of rule r found after the policy compiled (by
// what serves it): "file:line: rule "id": message".
func (s *Snapshot) RuleError(r *Rule, format string, args ...any) error {
	return &PolicyError{Pos: &yamlx.Error{File: s.File, Line: r.Line, Msg: fmt.Sprintf("rule %q: ", r.ID) + fmt.Sprintf(format, args...)}}
}

// Actions maps each rule with actions to them.
func (s *Snapshot) Actions() map[string]*action.Actions {
	out := map[string]*action.Actions{}
	for _, r := range s.Rules {
		if r.Actions != nil {
			out[r.ID] = r.Actions
		}
	}
	return out
}

// Data is what detectors read from the policy besides their own section.
func (s *Snapshot) Data() *filter.PolicyData {
	return &filter.PolicyData{Lists: s.Lists, Registry: s.Registry, RegistryNames: s.RegistryNames, Tariffs: s.Tariffs}
}
