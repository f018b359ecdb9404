package rules

import (
	"reflect"
	"strings"
	"unsafe"

	"github.com/expr-lang/expr/ast"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/lists"
	"github.com/smsfw/smsfw/internal/unsafex"
)

// The native evaluator runs the common shapes of rule conditions —
// comparisons of msg.*/det.* fields with constants, !, &&, ||, contains,
// startsWith, endsWith, in over a set of constants, and the list
// functions — as Go closures over the typed facts, without the expr VM's
// boxing: no allocation and a few nanoseconds per node. The expression is
// still parsed and type-checked by expr-lang; anything outside these shapes
// runs on the VM. Equivalence with the VM is tested on the shipped policies.

type kind uint8

const (
	kBool kind = iota + 1
	kInt
	kFloat
	kString
)

type val struct {
	k kind
	b bool
	n float64 // ints and floats compare as float64 (counters are small)
	s string
}

type nfn func(e *Env) val

// accessor reads one field of the facts at its offset (no reflection per
// message: reflect.Value's checks cost more than the rule's comparison).
type accessor struct {
	k   kind
	rk  reflect.Kind // the field's exact type, for the int read
	off uintptr
}

var accessors = func() map[string]accessor {
	m := map[string]accessor{}
	add := func(prefix string, t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name := f.Tag.Get("expr")
			if name == "" || name == "-" || len(f.Index) != 1 {
				continue
			}
			var k kind
			switch f.Type.Kind() {
			case reflect.Bool:
				k = kBool
			case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint32, reflect.Uint64:
				k = kInt
			case reflect.Float64:
				k = kFloat
			case reflect.String:
				k = kString
			default:
				continue
			}
			m[prefix+name] = accessor{k: k, rk: f.Type.Kind(), off: f.Offset}
		}
	}
	add("msg.", reflect.TypeOf(filter.Facts{}))
	return m
}()

// at is the address of the field in e's facts.
func at(e *Env, off uintptr) unsafe.Pointer { return unsafe.Add(unsafe.Pointer(e.Msg), off) }

func (a accessor) fn() nfn {
	off := a.off
	switch a.k {
	case kBool:
		return func(e *Env) val { return val{k: kBool, b: *(*bool)(at(e, off))} }
	case kString:
		return func(e *Env) val { return val{k: kString, s: *(*string)(at(e, off))} }
	case kFloat:
		return func(e *Env) val { return val{k: kFloat, n: *(*float64)(at(e, off))} }
	}
	switch a.rk {
	case reflect.Int32:
		return func(e *Env) val { return val{k: kInt, n: float64(*(*int32)(at(e, off)))} }
	case reflect.Int64:
		return func(e *Env) val { return val{k: kInt, n: float64(*(*int64)(at(e, off)))} }
	case reflect.Uint32:
		return func(e *Env) val { return val{k: kInt, n: float64(*(*uint32)(at(e, off)))} }
	case reflect.Uint64:
		return func(e *Env) val { return val{k: kInt, n: float64(*(*uint64)(at(e, off)))} }
	}
	return func(e *Env) val { return val{k: kInt, n: float64(*(*int)(at(e, off)))} }
}

// findingFn reads a finding's slot (det.<name>, patched to det.<Array>[slot]).
func findingFn(k filter.FindingKind, slot int) nfn {
	switch k {
	case filter.KindFlag:
		return func(e *Env) val { return val{k: kBool, b: e.Det.Flags[slot]} }
	case filter.KindCount:
		return func(e *Env) val { return val{k: kInt, n: float64(e.Det.Counts[slot])} }
	case filter.KindAmount:
		return func(e *Env) val { return val{k: kFloat, n: e.Det.Amounts[slot]} }
	}
	return func(e *Env) val { return val{k: kString, s: e.Det.Texts[slot]} }
}

// compileNative returns a closure for n, or false when n has a shape the
// native evaluator does not cover.
func compileNative(n ast.Node, set lists.Set) (nfn, bool) {
	switch n := n.(type) {
	case *ast.BoolNode:
		v := val{k: kBool, b: n.Value}
		return func(*Env) val { return v }, true
	case *ast.StringNode:
		v := val{k: kString, s: n.Value}
		return func(*Env) val { return v }, true
	case *ast.IntegerNode:
		v := val{k: kInt, n: float64(n.Value)}
		return func(*Env) val { return v }, true
	case *ast.FloatNode:
		v := val{k: kFloat, n: n.Value}
		return func(*Env) val { return v }, true
	case *ast.MemberNode:
		if k, slot, ok := findingSlot(n); ok {
			return findingFn(k, slot), true
		}
		a, ok := msgAccessor(n)
		if !ok {
			return nil, false
		}
		return a.fn(), true
	case *ast.UnaryNode:
		if n.Operator != "!" && n.Operator != "not" {
			return nil, false
		}
		x, ok := compileNative(n.Node, set)
		if !ok {
			return nil, false
		}
		return func(e *Env) val { return val{k: kBool, b: !x(e).b} }, true
	case *ast.BinaryNode:
		if f, ok := compileFieldEquals(n); ok {
			return f, true
		}
		l, ok := compileNative(n.Left, set)
		if !ok {
			return nil, false
		}
		if n.Operator == "in" {
			return compileIn(l, n.Right)
		}
		r, ok := compileNative(n.Right, set)
		if !ok {
			return nil, false
		}
		switch n.Operator {
		case "&&", "and":
			return func(e *Env) val { return val{k: kBool, b: l(e).b && r(e).b} }, true
		case "||", "or":
			return func(e *Env) val { return val{k: kBool, b: l(e).b || r(e).b} }, true
		case "==":
			return func(e *Env) val { return val{k: kBool, b: equal(l(e), r(e))} }, true
		case "!=":
			return func(e *Env) val { return val{k: kBool, b: !equal(l(e), r(e))} }, true
		case "contains", "startsWith", "endsWith":
			test := map[string]func(a, b string) bool{"contains": strings.Contains, "startsWith": strings.HasPrefix,
				"endsWith": strings.HasSuffix}[n.Operator]
			return func(e *Env) val {
				a, b := l(e), r(e)
				return val{k: kBool, b: a.k == kString && b.k == kString && test(a.s, b.s)}
			}, true
		case "<", ">", "<=", ">=":
			op := n.Operator
			return func(e *Env) val {
				a, b := l(e), r(e)
				if a.k == kString || b.k == kString || a.k == kBool || b.k == kBool {
					return val{k: kBool, b: compareStrings(op, a.s, b.s)}
				}
				return val{k: kBool, b: compareNumbers(op, a.n, b.n)}
			}, true
		}
	case *ast.CallNode:
		id, ok := n.Callee.(*ast.IdentifierNode)
		if !ok || len(n.Arguments) != 2 {
			return nil, false
		}
		name, ok := n.Arguments[1].(*ast.StringNode)
		if !ok {
			return nil, false
		}
		arg, ok := compileNative(n.Arguments[0], set)
		if !ok {
			return nil, false
		}
		l := set[name.Value]
		switch id.Value {
		case "in_list":
			switch l.Type {
			case lists.Senders:
				return func(e *Env) val {
					var scratch [64]byte
					return val{k: kBool, b: l.HasSender(unsafex.Bytes(arg(e).s), scratch[:0])}
				}, true
			case lists.Domains:
				return func(e *Env) val { return val{k: kBool, b: l.HasDomain(arg(e).s)} }, true
			case lists.Prefixes:
				return func(e *Env) val {
					_, ok := l.MatchPrefix(unsafex.Bytes(arg(e).s))
					return val{k: kBool, b: ok}
				}, true
			}
		case "contains_any":
			return func(e *Env) val { return val{k: kBool, b: l.FirstKeyword(unsafex.Bytes(arg(e).s)) >= 0} }, true
		case "matches_any":
			return func(e *Env) val { return val{k: kBool, b: l.FirstRegex(unsafex.Bytes(arg(e).s)) >= 0} }, true
		}
	}
	return nil, false
}

// compileIn is "x in [constants]" where expr's optimizer made the list a
// set (a constant map: strings, or integers against an integer); other
// lists run on the VM.
func compileIn(x nfn, list ast.Node) (nfn, bool) {
	c, ok := list.(*ast.ConstantNode)
	if !ok {
		return nil, false
	}
	switch set := c.Value.(type) {
	case map[string]struct{}:
		return func(e *Env) val {
			v := x(e)
			_, in := set[v.s]
			return val{k: kBool, b: v.k == kString && in}
		}, true
	case map[int]struct{}:
		return func(e *Env) val {
			v := x(e)
			_, in := set[int(v.n)]
			return val{k: kBool, b: v.k == kInt && float64(int(v.n)) == v.n && in}
		}, true
	}
	return nil, false
}

// msgAccessor is the accessor of a msg.<field> node.
func msgAccessor(n *ast.MemberNode) (accessor, bool) {
	id, ok := n.Node.(*ast.IdentifierNode)
	prop, ok2 := n.Property.(*ast.StringNode)
	if !ok || !ok2 || n.Optional || n.Method {
		return accessor{}, false
	}
	a, ok := accessors[id.Value+"."+prop.Value]
	return a, ok
}

// compileFieldEquals compiles msg.<string field> == "constant" (or !=,
// either side) to one read and one string comparison: what equal does
// with the two operands' closures, without calling them.
func compileFieldEquals(n *ast.BinaryNode) (nfn, bool) {
	if n.Operator != "==" && n.Operator != "!=" {
		return nil, false
	}
	field, c := n.Left, n.Right
	if _, ok := field.(*ast.StringNode); ok {
		field, c = c, field
	}
	str, ok := c.(*ast.StringNode)
	if !ok {
		return nil, false
	}
	m, ok := field.(*ast.MemberNode)
	if !ok {
		return nil, false
	}
	a, ok := msgAccessor(m)
	if !ok || a.k != kString {
		return nil, false
	}
	off, want := a.off, str.Value
	if n.Operator == "!=" {
		return func(e *Env) val { return val{k: kBool, b: *(*string)(at(e, off)) != want} }, true
	}
	return func(e *Env) val { return val{k: kBool, b: *(*string)(at(e, off)) == want} }, true
}

func equal(a, b val) bool {
	switch {
	case a.k == kString || b.k == kString:
		return a.k == b.k && a.s == b.s
	case a.k == kBool || b.k == kBool:
		return a.k == b.k && a.b == b.b
	}
	return a.n == b.n
}

func compareNumbers(op string, a, b float64) bool {
	switch op {
	case "<":
		return a < b
	case ">":
		return a > b
	case "<=":
		return a <= b
	}
	return a >= b
}

func compareStrings(op string, a, b string) bool {
	c := strings.Compare(a, b)
	switch op {
	case "<":
		return c < 0
	case ">":
		return c > 0
	case "<=":
		return c <= 0
	}
	return c >= 0
}
