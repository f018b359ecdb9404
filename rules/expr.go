package rules

import (
	"fmt"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/lists"
	"github.com/smsfw/smsfw/filter/textscan"
)

// Env is what a rule condition sees: msg.* (facts) and det.* (findings).
type Env struct {
	Msg *filter.Facts      `expr:"msg"`
	Det *filter.Detections `expr:"det"`
}

// findingArrays are the Detections arrays holding each kind of finding.
var findingArrays = map[filter.FindingKind]string{
	filter.KindFlag: "Flags", filter.KindCount: "Counts", filter.KindAmount: "Amounts", filter.KindText: "Texts",
}

// findingPatcher turns det.<name> into the finding's slot, det.Flags[3]:
// findings are declared by the detectors (filter.NewFlag ...), not fields
// of a struct, so a new detector adds them without touching the rules.
type findingPatcher struct{ err error }

func (p *findingPatcher) Visit(node *ast.Node) {
	m, ok := (*node).(*ast.MemberNode)
	if !ok {
		return
	}
	id, ok := m.Node.(*ast.IdentifierNode)
	prop, ok2 := m.Property.(*ast.StringNode)
	if !ok || !ok2 || id.Value != "det" {
		return
	}
	f, known := filter.LookupFinding(prop.Value)
	if !known {
		if p.err == nil && !isArrayName(prop.Value) {
			p.err = fmt.Errorf("unknown finding det.%s%s", prop.Value, didYouMean(prop.Value))
		}
		return
	}
	arr := &ast.MemberNode{Node: &ast.IdentifierNode{Value: "det"}, Property: &ast.StringNode{Value: findingArrays[f.Kind]}}
	ast.Patch(node, &ast.MemberNode{Node: arr, Property: &ast.IntegerNode{Value: f.Slot}})
}

func isArrayName(s string) bool {
	for _, a := range findingArrays {
		if a == s {
			return true
		}
	}
	return s == "Fired"
}

// findingSlot recognises a patched det.<Array>[slot].
func findingSlot(n ast.Node) (filter.FindingKind, int, bool) {
	m, ok := n.(*ast.MemberNode)
	if !ok {
		return 0, 0, false
	}
	idx, ok := m.Property.(*ast.IntegerNode)
	arr, ok2 := m.Node.(*ast.MemberNode)
	if !ok || !ok2 {
		return 0, 0, false
	}
	id, ok := arr.Node.(*ast.IdentifierNode)
	name, ok2 := arr.Property.(*ast.StringNode)
	if !ok || !ok2 || id.Value != "det" {
		return 0, 0, false
	}
	for k, a := range findingArrays {
		if a == name.Value {
			return k, idx.Value, true
		}
	}
	return 0, 0, false
}

// needs returns a bit set N such that the expression can only be true if
// some flag in N fired (Detections.Fired); 0 means "unknown: always
// evaluate". On the allow path most rules then cost nothing.
func needs(n ast.Node) uint64 {
	switch n := n.(type) {
	case *ast.MemberNode:
		if k, slot, ok := findingSlot(n); ok && k == filter.KindFlag {
			return 1 << slot
		}
	case *ast.BinaryNode:
		l, r := needs(n.Left), needs(n.Right)
		switch n.Operator {
		case "&&", "and":
			if l != 0 {
				return l
			}
			return r
		case "||", "or":
			if l != 0 && r != 0 {
				return l | r
			}
		}
	}
	return 0
}

// msgReads collects the facts (msg.<name>) an expression reads; all when
// it uses msg otherwise than by a constant name (msg[x], msg alone), or
// does not use it at all as "msg".
type msgReads struct {
	names map[string]bool
	all   bool
}

func (m *msgReads) add(n ast.Node) {
	bases := 0
	ast.Find(n, func(n ast.Node) bool {
		mem, ok := n.(*ast.MemberNode)
		if !ok {
			return false
		}
		id, ok := mem.Node.(*ast.IdentifierNode)
		if !ok || id.Value != "msg" {
			return false
		}
		bases++
		if prop, ok := mem.Property.(*ast.StringNode); ok {
			if m.names == nil {
				m.names = map[string]bool{}
			}
			m.names[prop.Value] = true
		} else {
			m.all = true
		}
		return false
	})
	idents := 0
	ast.Find(n, func(n ast.Node) bool {
		if id, ok := n.(*ast.IdentifierNode); ok && id.Value == "msg" {
			idents++
		}
		return false
	})
	if idents != bases {
		m.all = true
	}
}

// detReads collects the detectors (the owners of findings) whose findings
// an expression reads; all when it uses det otherwise than by a finding's
// name (det.Fired, det alone).
type detReads struct {
	owners map[string]bool
	all    bool
}

func (d *detReads) add(n ast.Node) {
	named, idents := 0, 0
	ast.Find(n, func(n ast.Node) bool {
		if k, slot, ok := findingSlot(n); ok {
			if f, ok := filter.FindingAt(k, slot); ok {
				if d.owners == nil {
					d.owners = map[string]bool{}
				}
				d.owners[f.Owner] = true
				named++
			}
		}
		if id, ok := n.(*ast.IdentifierNode); ok && id.Value == "det" {
			idents++
		}
		return false
	})
	if idents != named {
		d.all = true
	}
}

// listFuncs are the functions conditions may call on lists, with the list
// type each expects for its second argument.
var listFuncs = map[string]lists.Type{
	"in_list":      "", // senders, domains or prefixes: decided by the list's type
	"contains_any": lists.Keywords,
	"matches_any":  lists.Regexes,
}

// compileExpr compiles a condition against the snapshot's lists. Calls to
// list functions must name an existing list of a fitting type as a string
// literal, so a typo is a load error, not a silent false.
func compileExpr(src string, set lists.Set) (*vm.Program, uint64, error) {
	patch := &findingPatcher{}
	opts := []expr.Option{expr.Env(Env{}), expr.AsBool(), expr.Patch(patch),
		expr.Function("in_list", func(p ...any) (any, error) {
			return inList(set, p[0].(string), p[1].(string)), nil
		}, new(func(string, string) bool)),
		expr.Function("contains_any", func(p ...any) (any, error) {
			l := set[p[1].(string)]
			return l.FirstKeyword([]byte(p[0].(string))) >= 0, nil
		}, new(func(string, string) bool)),
		expr.Function("matches_any", func(p ...any) (any, error) {
			l := set[p[1].(string)]
			return l.FirstRegex([]byte(p[0].(string))) >= 0, nil
		}, new(func(string, string) bool)),
	}
	prog, err := expr.Compile(src, opts...)
	if patch.err != nil {
		return nil, 0, patch.err
	}
	if err != nil {
		return nil, 0, err
	}
	var verr error
	ast.Find(prog.Node(), func(n ast.Node) bool {
		call, ok := n.(*ast.CallNode)
		if !ok || verr != nil {
			return false
		}
		id, ok := call.Callee.(*ast.IdentifierNode)
		if !ok {
			return false
		}
		want, isList := listFuncs[id.Value]
		if !isList {
			return false
		}
		if len(call.Arguments) != 2 {
			verr = fmt.Errorf("%s takes (value, \"list\")", id.Value)
			return true
		}
		name, ok := call.Arguments[1].(*ast.StringNode)
		if !ok {
			verr = fmt.Errorf("%s: the list name must be a string literal", id.Value)
			return true
		}
		l, ok := set[name.Value]
		if !ok {
			verr = fmt.Errorf("unknown list %q", name.Value)
			return true
		}
		if want != "" && l.Type != want {
			verr = fmt.Errorf("%s needs a %s list, %q is %s", id.Value, want, name.Value, l.Type)
			return true
		}
		if want == "" && l.Type != lists.Senders && l.Type != lists.Domains && l.Type != lists.Prefixes {
			verr = fmt.Errorf("in_list needs a senders, domains or prefixes list, %q is %s", name.Value, l.Type)
			return true
		}
		return false
	})
	if verr != nil {
		return nil, 0, verr
	}
	return prog, needs(prog.Node()), nil
}

func inList(set lists.Set, v, name string) bool {
	l := set[name]
	if l == nil {
		return false
	}
	switch l.Type {
	case lists.Senders:
		var scratch [64]byte
		return l.HasSender([]byte(v), scratch[:0])
	case lists.Domains:
		return l.HasDomain(v)
	case lists.Prefixes:
		_, ok := l.MatchPrefix([]byte(v))
		return ok
	}
	return false
}

// didYouMean names the declared finding closest to a misspelt one.
func didYouMean(name string) string {
	best, bestDist := "", 3
	for _, f := range filter.Findings() {
		if d := textscan.Distance([]byte(name), []byte(f.Name), 2); d < bestDist {
			best, bestDist = f.Name, d
		}
	}
	if best == "" {
		return " (docs/policy.md lists the findings)"
	}
	return fmt.Sprintf(" (did you mean det.%s?)", best)
}
