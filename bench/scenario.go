package bench

import (
	_ "embed"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/internal/yamlx"
)

// A scenario file describes a traffic mix: peers of smsfw (config mode) and
// scenarios, each a kind of traffic with its share of the total rate, its
// sender, destination and text patterns and the outcome the policy should
// give it. bench/scenarios/default.yaml is the shipped mix.
type ScenarioFile struct {
	// Rate is the total rate in events per second (messages, MO, receipts;
	// a long message counts once), default 500; --rate overrides it.
	Rate float64 `yaml:"rate"`
	// Duration of a run (default 10s); --duration overrides it.
	Duration  time.Duration  `yaml:"duration"`
	Peers     []ScenarioPeer `yaml:"peers"`
	Scenarios []Scenario     `yaml:"scenarios"`

	path string
}

// ScenarioPeer is a peer smsfw authenticates. Its upstream pool binds to the
// simulator with the same system_id, which is how MO and receipts injected
// for it reach it.
type ScenarioPeer struct {
	SystemID string `yaml:"system_id"`
	Class    string `yaml:"class"` // a2p, p2p, enterprise, interconnect
}

// Scenario kinds.
const (
	KindMT      = "mt"      // submit_sm from a peer through smsfw to the SMSC
	KindMO      = "mo"      // deliver_sm injected by the SMSC simulator toward a peer
	KindReceipt = "receipt" // a delivery receipt injected by the simulator
)

// Outcomes. MT messages are accepted (relayed), flagged (relayed and
// recorded), dropped (answered with a message id, not relayed), throttled
// (0x58) or rejected (another status); MO and receipts are delivered to the
// peer, flagged (delivered and recorded) or refused (smsfw answered the SMSC
// with an error). Lost: no answer at all (a bug, always expected 0).
const (
	OutAccepted  = "accepted"
	OutDelivered = "delivered"
	OutFlagged   = "flagged"
	OutDropped   = "dropped"
	OutThrottled = "throttled"
	OutRejected  = "rejected"
	OutRefused   = "refused"
	OutLost      = "lost"
)

var kindOutcomes = map[string][]string{
	KindMT:      {OutAccepted, OutFlagged, OutDropped, OutThrottled, OutRejected, OutLost},
	KindMO:      {OutDelivered, OutFlagged, OutRefused, OutLost},
	KindReceipt: {OutDelivered, OutFlagged, OutRefused, OutLost},
}

// Scenario is one kind of traffic in the mix.
type Scenario struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Kind        string `yaml:"kind"`
	// Peer sends it (mt) or receives it (mo, receipt).
	Peer string `yaml:"peer"`
	// Share of the file's rate, relative to the other scenarios' shares.
	Share float64 `yaml:"share"`
	// Patterns, one picked at random per message: '#' is a random digit,
	// {a|b|c} one of the alternatives, {n} the scenario's running message
	// number and {n:K} its last K digits (sequential numbers).
	Senders      []string `yaml:"senders"`
	Destinations []string `yaml:"destinations"`
	Texts        []string `yaml:"texts"`
	// Forged receipts carry an id the SMSC never issued; genuine ones (the
	// default) the id of a message this scenario has just sent.
	Forged bool `yaml:"forged"`
	// Expect maps an outcome to the least fraction of the scenario's
	// messages that must end so (accepted: 0.95).
	Expect map[string]float64 `yaml:"expect"`

	rate float64 // events per second in a run
}

// LoadScenarios reads and strictly decodes a scenario file; errors read
// "file:line: message".
func LoadScenarios(path string) (*ScenarioFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseScenarios(path, data)
}

// ParseScenarios decodes data (named file in errors).
func ParseScenarios(file string, data []byte) (*ScenarioFile, error) {
	f := &ScenarioFile{path: file}
	lines, err := yamlx.Decode(file, data, f)
	if err != nil {
		return nil, err
	}
	errAt := func(path, format string, args ...any) error { return lines.Errorf(file, path, format, args...) }
	if f.Rate < 0 {
		return nil, errAt("rate", "rate must not be negative")
	}
	if f.Rate == 0 {
		f.Rate = 500
	}
	if f.Duration < 0 {
		return nil, errAt("duration", "duration must not be negative")
	}
	if f.Duration == 0 {
		f.Duration = 10 * time.Second
	}
	peers := map[string]bool{}
	for i, p := range f.Peers {
		at := fmt.Sprintf("peers[%d]", i)
		switch {
		case p.SystemID == "" || len(p.SystemID) > 15:
			return nil, errAt(at, "peer system_id must be 1 to 15 characters")
		case peers[p.SystemID]:
			return nil, errAt(at, "peer %q defined twice", p.SystemID)
		case !slices.Contains(filter.PeerClasses, p.Class):
			return nil, errAt(at+".class", "peer class %q: want one of %s", p.Class, strings.Join(filter.PeerClasses, ", "))
		}
		peers[p.SystemID] = true
	}
	if len(f.Scenarios) == 0 {
		return nil, errAt("scenarios", "no scenarios")
	}
	names := map[string]bool{}
	for i := range f.Scenarios {
		s := &f.Scenarios[i]
		at := fmt.Sprintf("scenarios[%d]", i)
		outs, ok := kindOutcomes[s.Kind]
		switch {
		case s.Name == "":
			return nil, errAt(at, "scenario without a name")
		case names[s.Name]:
			return nil, errAt(at+".name", "scenario %q defined twice", s.Name)
		case !ok:
			return nil, errAt(at+".kind", "scenario %q: kind %q: want mt, mo or receipt", s.Name, s.Kind)
		case !peers[s.Peer]:
			return nil, errAt(at+".peer", "scenario %q: peer %q is not in peers", s.Name, s.Peer)
		case s.Share <= 0:
			return nil, errAt(at+".share", "scenario %q: share must be positive", s.Name)
		case len(s.Senders) == 0 || len(s.Destinations) == 0:
			return nil, errAt(at, "scenario %q needs senders and destinations", s.Name)
		case len(s.Texts) == 0 && s.Kind != KindReceipt:
			return nil, errAt(at, "scenario %q needs texts", s.Name)
		case s.Forged && s.Kind != KindReceipt:
			return nil, errAt(at+".forged", "scenario %q: forged applies to receipts only", s.Name)
		}
		names[s.Name] = true
		for field, pats := range map[string][]string{"senders": s.Senders, "destinations": s.Destinations, "texts": s.Texts} {
			for j, p := range pats {
				if err := checkPattern(p); err != nil {
					return nil, errAt(fmt.Sprintf("%s.%s[%d]", at, field, j), "scenario %q: %v", s.Name, err)
				}
			}
		}
		for out, frac := range s.Expect {
			if !slices.Contains(outs, out) {
				return nil, errAt(at+".expect."+out, "scenario %q: outcome %q is not one of a %s scenario's: %s",
					s.Name, out, s.Kind, strings.Join(outs, ", "))
			}
			if frac <= 0 || frac > 1 {
				return nil, errAt(at+".expect."+out, "scenario %q: expected fraction %v outside (0, 1]", s.Name, frac)
			}
		}
	}
	return f, nil
}

// checkPattern validates a pattern's {...} groups.
func checkPattern(p string) error {
	for rest := p; ; {
		i := strings.IndexByte(rest, '{')
		if j := strings.IndexByte(rest, '}'); j >= 0 && (i < 0 || j < i) {
			return fmt.Errorf("pattern %q: '}' without '{'", p)
		}
		if i < 0 {
			return nil
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return fmt.Errorf("pattern %q: '{' without '}'", p)
		}
		g := rest[i+1 : i+j]
		if strings.ContainsRune(g, '{') {
			return fmt.Errorf("pattern %q: nested '{'", p)
		}
		if k, ok := strings.CutPrefix(g, "n:"); ok {
			if n, err := strconv.Atoi(k); err != nil || n < 1 || n > 12 {
				return fmt.Errorf("pattern %q: {n:K} needs K from 1 to 12", p)
			}
		}
		rest = rest[i+j+1:]
	}
}

// expand fills pattern p for message number n.
func expand(p string, rng *rand.Rand, n uint64) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '#':
			b.WriteByte(byte('0' + rng.IntN(10)))
		case '{':
			j := strings.IndexByte(p[i:], '}')
			g := p[i+1 : i+j]
			i += j
			switch {
			case g == "n":
				b.WriteString(strconv.FormatUint(n, 10))
			case strings.HasPrefix(g, "n:"):
				k, _ := strconv.Atoi(g[2:])
				mod := uint64(1)
				for range k {
					mod *= 10
				}
				fmt.Fprintf(&b, "%0*d", k, n%mod)
			default:
				alts := strings.Split(g, "|")
				b.WriteString(alts[rng.IntN(len(alts))])
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// pick expands one of pats at random.
func pick(pats []string, rng *rand.Rand, n uint64) string {
	return expand(pats[rng.IntN(len(pats))], rng, n)
}

// DefaultScenarios is scenarios/default.yaml, embedded so that `smsfw bench
// --scenario default` works from the binary alone.
//
//go:embed scenarios/default.yaml
var DefaultScenarios []byte

// Path is the file the scenarios came from.
func (f *ScenarioFile) Path() string { return f.path }
