package rules

import (
	"fmt"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/lists"
)

// Env is what a rule condition sees: msg.* (facts) and det.* (findings).
type Env struct {
	Msg *filter.Facts      `expr:"msg"`
	Det *filter.Detections `expr:"det"`
}

// detBits numbers the boolean findings so a rule that can only be true when
// one of them fired is skipped, without running its program, when none did:
// on the allow path most rules cost nothing.
var detBits = map[string]uint{
	"grey_route": 0, "sender_spoofed": 1, "sender_lookalike": 2, "keyword": 3, "regex": 4,
	"blocked_domain": 5, "phishing": 6, "campaign": 7, "fanout": 8, "pumping": 9,
	"new_dest_country": 10, "sim_farm": 11, "mo_spam": 12, "fake_receipt": 13, "rate_limited": 14,
	"receipt_early": 15,
}

// fired returns the bit set of findings that are true.
func fired(d *filter.Detections) uint64 {
	var m uint64
	set := func(b bool, bit uint) {
		if b {
			m |= 1 << bit
		}
	}
	set(d.GreyRoute, 0)
	set(d.SenderSpoofed, 1)
	set(d.SenderLookalike, 2)
	set(d.Keyword, 3)
	set(d.Regex, 4)
	set(d.BlockedDomain, 5)
	set(d.Phishing, 6)
	set(d.Campaign, 7)
	set(d.Fanout, 8)
	set(d.Pumping, 9)
	set(d.NewDestCountry, 10)
	set(d.SIMFarm, 11)
	set(d.MOSpam, 12)
	set(d.FakeReceipt, 13)
	set(d.RateLimited, 14)
	set(d.ReceiptEarly, 15)
	return m
}

// needs returns a bit set N such that the expression can only be true if
// some finding in N fired; 0 means "unknown: always evaluate".
func needs(n ast.Node) uint64 {
	switch n := n.(type) {
	case *ast.MemberNode:
		if id, ok := n.Node.(*ast.IdentifierNode); ok && id.Value == "det" {
			if s, ok := n.Property.(*ast.StringNode); ok {
				if bit, ok := detBits[s.Value]; ok {
					return 1 << bit
				}
			}
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
	opts := []expr.Option{expr.Env(Env{}), expr.AsBool(),
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
