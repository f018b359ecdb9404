// Package e164gen derives the number table of filter/numbers from
// phonenumbers' own metadata: for every country calling code and every
// national significant number (NSN) length, a digit trie whose leaves say
// what phonenumbers would answer for every number under that prefix
// (region, line type, validity), or that the answer depends on something the
// table does not model (the national prefix for parsing), in which case the
// resolver asks phonenumbers.
//
// The trie is exact by construction: every pattern phonenumbers would apply
// to an NSN (each region's leading digits, general description, premium,
// toll-free, ..., fixed-line and mobile patterns, with their possible
// lengths) is compiled to its NFA, the NFAs are run together over the digits
// (a subset construction), and a prefix becomes a leaf only when the
// outcome is the same for every completion of the prefix to length L.
// Identical subtrees are shared, so the result is a DAG.
package e164gen

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"go/format"
	"regexp/syntax"
	"sort"

	"github.com/nyaruka/phonenumbers"
)

// MinNSN and MaxNSN bound the NSN lengths phonenumbers parses
// (MIN_LENGTH_FOR_NSN, MAX_LENGTH_FOR_NSN).
const (
	MinNSN = 2
	MaxNSN = 17
)

// The line types in getNumberTypeHelper's order; the numbers are the
// numbers.Type constants.
const (
	tUnknown = iota
	tMobile
	tFixedLine
	tFixedLineOrMobile
	tTollFree
	tPremiumRate
	tSharedCost
	tVoIP
	tPersonal
	tPager
	tUAN
	tVoicemail
)

var typeConst = [...]string{"Unknown", "Mobile", "FixedLine", "FixedLineOrMobile", "TollFree",
	"PremiumRate", "SharedCost", "VoIP", "Personal", "Pager", "UAN", "Voicemail"}

// outcome is one leaf: what phonenumbers answers.
type outcome struct {
	valid  bool
	region string
	typ    int
}

// A child value in the generated tables (uint16): 0 = undecided (ask
// phonenumbers), leafBit|i = outcome i, otherwise the index of an inner
// node (>= 1).
const leafBit = 1 << 15

// matcher is one compiled pattern. prefix: it matches when some prefix of
// the NSN matches (phonenumbers' "^(?:p)" with MatchString); otherwise the
// whole NSN must match ("^(?:p)$").
type matcher struct {
	prog   *syntax.Prog
	prefix bool
}

type descRef struct {
	m        int  // matcher index, -1: never matches
	possible bool // the length is possible for the desc (set per length)
	lengths  []int32
}

type regionSpec struct {
	id      string
	ld      int // leading-digits matcher, -1 when none
	sameMF  bool
	general descRef
	// premium, toll-free, shared cost, VoIP, personal, pager, UAN, voicemail
	special [8]descRef
	fixed   descRef
	mobile  descRef
}

var specialTypes = [8]int{tPremiumRate, tTollFree, tSharedCost, tVoIP, tPersonal, tPager, tUAN, tVoicemail}

type ccGen struct {
	g        *gen
	matchers []matcher
	byKey    map[string]int
	npfp     int // national prefix for parsing of the main region, -1 when none
	regions  []regionSpec
	memo     map[string]uint16
}

type gen struct {
	outcomes  []outcome
	outcomeID map[outcome]uint16
	nodes     [][10]uint16
	nodeID    map[[10]uint16]uint16
}

func (g *gen) leaf(o outcome) uint16 {
	id, ok := g.outcomeID[o]
	if !ok {
		id = uint16(len(g.outcomes))
		g.outcomes = append(g.outcomes, o)
		g.outcomeID[o] = id
	}
	return leafBit | id
}

func (g *gen) node(ch [10]uint16) uint16 {
	if id, ok := g.nodeID[ch]; ok {
		return id
	}
	id := uint16(len(g.nodes))
	g.nodes = append(g.nodes, ch)
	g.nodeID[ch] = id
	return id
}

func (c *ccGen) compile(pattern string, prefix bool) (int, error) {
	if pattern == "" {
		return -1, nil // "^(?:)$" never matches an NSN of >= 2 digits
	}
	key := fmt.Sprint(prefix, "\x00", pattern)
	if i, ok := c.byKey[key]; ok {
		return i, nil
	}
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return 0, err
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return 0, err
	}
	for _, in := range prog.Inst {
		// Text and line anchors are modelled (digits contain no newline);
		// word boundaries are not.
		if in.Op == syntax.InstEmptyWidth && syntax.EmptyOp(in.Arg)&^anchors != 0 {
			return 0, fmt.Errorf("pattern %q: word-boundary assertion", pattern)
		}
	}
	c.matchers = append(c.matchers, matcher{prog: prog, prefix: prefix})
	c.byKey[key] = len(c.matchers) - 1
	return len(c.matchers) - 1, nil
}

func (c *ccGen) desc(d *phonenumbers.PhoneNumberDesc) (descRef, error) {
	m, err := c.compile(d.GetNationalNumberPattern(), false)
	return descRef{m: m, lengths: d.GetPossibleLength()}, err
}

// state of one matcher: the sorted NFA pcs, or matched (prefix matchers).
type mstate struct {
	pcs     []uint32
	matched bool
}

const (
	anchors  = syntax.EmptyBeginLine | syntax.EmptyEndLine | syntax.EmptyBeginText | syntax.EmptyEndText
	atStart  = syntax.EmptyBeginLine | syntax.EmptyBeginText
	atEnd    = syntax.EmptyEndLine | syntax.EmptyEndText
	midInput = syntax.EmptyOp(0)
)

// addPC adds pc and what it reaches without consuming a digit at a
// position where the assertions in flags hold. An assertion that does not
// hold stays in the set: at the end of the NSN it may (see accepts).
func addPC(p *syntax.Prog, set map[uint32]bool, pc uint32, flags syntax.EmptyOp) {
	if set[pc] {
		return
	}
	set[pc] = true
	in := &p.Inst[pc]
	switch in.Op {
	case syntax.InstAlt, syntax.InstAltMatch:
		addPC(p, set, in.Out, flags)
		addPC(p, set, in.Arg, flags)
	case syntax.InstCapture, syntax.InstNop:
		addPC(p, set, in.Out, flags)
	case syntax.InstEmptyWidth:
		if syntax.EmptyOp(in.Arg)&^flags == 0 {
			addPC(p, set, in.Out, flags)
		}
	}
}

func settle(p *syntax.Prog, set map[uint32]bool, prefix bool) mstate {
	var s mstate
	for pc := range set {
		switch p.Inst[pc].Op {
		case syntax.InstMatch:
			if prefix {
				return mstate{matched: true}
			}
			s.pcs = append(s.pcs, pc)
		case syntax.InstRune, syntax.InstRune1, syntax.InstRuneAny, syntax.InstRuneAnyNotNL, syntax.InstEmptyWidth:
			s.pcs = append(s.pcs, pc)
		}
	}
	sort.Slice(s.pcs, func(i, j int) bool { return s.pcs[i] < s.pcs[j] })
	return s
}

func (m matcher) start() mstate {
	set := map[uint32]bool{}
	addPC(m.prog, set, uint32(m.prog.Start), atStart) // NSNs have >= 2 digits: not the end
	return settle(m.prog, set, m.prefix)
}

func (m matcher) step(s mstate, d rune) mstate {
	if s.matched {
		return s
	}
	set := map[uint32]bool{}
	for _, pc := range s.pcs {
		in := &m.prog.Inst[pc]
		switch in.Op {
		case syntax.InstRune, syntax.InstRune1, syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
			if in.MatchRune(d) {
				addPC(m.prog, set, in.Out, midInput)
			}
		}
	}
	return settle(m.prog, set, m.prefix)
}

// accepts reports a match of the whole NSN (full matchers) or of some
// prefix of it (prefix matchers), s being the state after its last digit:
// assertions left pending in s are followed with the end-of-input flags.
func (m matcher) accepts(s mstate) bool {
	if s.matched {
		return true
	}
	set := map[uint32]bool{}
	for _, pc := range s.pcs {
		switch m.prog.Inst[pc].Op {
		case syntax.InstMatch:
			return true
		case syntax.InstEmptyWidth:
			delete(set, pc)
			addPC(m.prog, set, pc, atEnd)
		}
	}
	for pc := range set {
		if m.prog.Inst[pc].Op == syntax.InstMatch {
			return true
		}
	}
	return false
}

func key(states []mstate, k int) string {
	var b []byte
	b = append(b, byte(k))
	for _, s := range states {
		if s.matched {
			b = append(b, 0xff)
			continue
		}
		b = binary.AppendUvarint(b, uint64(len(s.pcs)))
		for _, pc := range s.pcs {
			b = binary.AppendUvarint(b, uint64(pc))
		}
	}
	return string(b)
}

func (c *ccGen) matches(d descRef, res []bool) bool {
	return d.m >= 0 && d.possible && res[d.m]
}

// typeOf is phonenumbers' getNumberTypeHelper on the matchers' results.
func (c *ccGen) typeOf(r *regionSpec, res []bool) int {
	if !c.matches(r.general, res) {
		return tUnknown
	}
	for i, d := range r.special {
		if c.matches(d, res) {
			return specialTypes[i]
		}
	}
	if c.matches(r.fixed, res) {
		if r.sameMF || c.matches(r.mobile, res) {
			return tFixedLineOrMobile
		}
		return tFixedLine
	}
	if !r.sameMF && c.matches(r.mobile, res) {
		return tMobile
	}
	return tUnknown
}

// eval is what phonenumbers answers for a whole NSN, from the results of
// every matcher on it; ok false when the national prefix for parsing
// matches (phonenumbers might strip it: the table does not decide).
func (c *ccGen) eval(res []bool) (outcome, bool) {
	if c.npfp >= 0 && res[c.npfp] {
		return outcome{}, false
	}
	var reg *regionSpec
	if len(c.regions) == 1 {
		reg = &c.regions[0]
	} else {
		for i := range c.regions {
			r := &c.regions[i]
			if r.ld >= 0 {
				if res[r.ld] {
					reg = r
					break
				}
			} else if c.typeOf(r, res) != tUnknown {
				reg = r
				break
			}
		}
	}
	if reg == nil {
		return outcome{}, true
	}
	t := c.typeOf(reg, res)
	if t == tUnknown {
		return outcome{}, true
	}
	o := outcome{valid: true, typ: t}
	if len(reg.id) == 2 && reg.id != phonenumbers.UNKNOWN_REGION {
		o.region = reg.id
	}
	return o, true
}

func (c *ccGen) walk(states []mstate, k int) uint16 {
	if k == 0 {
		res := make([]bool, len(c.matchers))
		for i, m := range c.matchers {
			res[i] = m.accepts(states[i])
		}
		o, ok := c.eval(res)
		if !ok {
			return 0
		}
		return c.g.leaf(o)
	}
	kk := key(states, k)
	if v, ok := c.memo[kk]; ok {
		return v
	}
	// The national prefix for parsing already matched: undecided whatever
	// follows.
	if c.npfp >= 0 && states[c.npfp].matched {
		c.memo[kk] = 0
		return 0
	}
	var ch [10]uint16
	next := make([]mstate, len(states))
	for d := 0; d < 10; d++ {
		for i, m := range c.matchers {
			next[i] = m.step(states[i], rune('0'+d))
		}
		ch[d] = c.walk(next, k-1)
	}
	v := ch[0]
	for _, x := range ch[1:] {
		if x != v || v&leafBit == 0 && v != 0 {
			v = c.g.node(ch)
			break
		}
	}
	c.memo[kk] = v
	return v
}

func metadataMaps() (map[string]*phonenumbers.PhoneMetadata, map[int]*phonenumbers.PhoneMetadata, error) {
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		return nil, nil, err
	}
	byRegion := map[string]*phonenumbers.PhoneMetadata{}
	nonGeo := map[int]*phonenumbers.PhoneMetadata{}
	for _, md := range coll.GetMetadata() {
		if md.GetId() == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY {
			nonGeo[int(md.GetCountryCode())] = md
		} else {
			byRegion[md.GetId()] = md
		}
	}
	return byRegion, nonGeo, nil
}

// Table is the generated data.
type Table struct {
	CC       [1000]uint16 // calling code -> index+1 into Roots; 0: unknown code
	Untabled map[int]string
	Roots    [][MaxNSN - MinNSN + 1]uint16
	Nodes    [][10]uint16
	Outcomes []outcome
}

// Build derives the table.
func Build() (*Table, error) {
	byRegion, nonGeo, err := metadataMaps()
	if err != nil {
		return nil, err
	}
	g := &gen{outcomeID: map[outcome]uint16{}, nodeID: map[[10]uint16]uint16{}}
	g.nodes = append(g.nodes, [10]uint16{}) // index 0 means "undecided"
	t := &Table{Untabled: map[int]string{}}
	for cc := 1; cc < 1000; cc++ {
		regions := phonenumbers.GetRegionCodesForCountryCode(cc)
		if len(regions) == 0 {
			continue
		}
		var roots [MaxNSN - MinNSN + 1]uint16
		if err := g.cc(cc, regions, byRegion, nonGeo, &roots); err != nil {
			t.Untabled[cc] = err.Error() // every number of cc goes to phonenumbers
		}
		t.Roots = append(t.Roots, roots)
		t.CC[cc] = uint16(len(t.Roots))
	}
	if len(g.nodes) >= leafBit || len(g.outcomes) >= leafBit {
		return nil, fmt.Errorf("%d nodes, %d outcomes: more than uint16 child values hold", len(g.nodes), len(g.outcomes))
	}
	t.Nodes, t.Outcomes = g.nodes, g.outcomes
	return t, nil
}

func md(id string, cc int, byRegion map[string]*phonenumbers.PhoneMetadata, nonGeo map[int]*phonenumbers.PhoneMetadata) *phonenumbers.PhoneMetadata {
	if id == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY {
		return nonGeo[cc]
	}
	return byRegion[id]
}

func (g *gen) cc(cc int, regions []string, byRegion map[string]*phonenumbers.PhoneMetadata, nonGeo map[int]*phonenumbers.PhoneMetadata, roots *[MaxNSN - MinNSN + 1]uint16) error {
	c := &ccGen{g: g, byKey: map[string]int{}, npfp: -1}
	main := md(regions[0], cc, byRegion, nonGeo)
	if main == nil {
		return fmt.Errorf("no metadata for %s", regions[0])
	}
	var err error
	if p := main.GetNationalPrefixForParsing(); p != "" {
		if c.npfp, err = c.compile(p, true); err != nil {
			return err
		}
	}
	for _, id := range regions {
		m := md(id, cc, byRegion, nonGeo)
		if m == nil {
			return fmt.Errorf("no metadata for %s", id)
		}
		r := regionSpec{id: id, ld: -1, sameMF: m.GetSameMobileAndFixedLinePattern()}
		if len(regions) > 1 && m.GetLeadingDigits() != "" {
			if r.ld, err = c.compile(m.GetLeadingDigits(), true); err != nil {
				return err
			}
		}
		if r.general, err = c.desc(m.GetGeneralDesc()); err != nil {
			return err
		}
		for i, d := range []*phonenumbers.PhoneNumberDesc{m.GetPremiumRate(), m.GetTollFree(), m.GetSharedCost(),
			m.GetVoip(), m.GetPersonalNumber(), m.GetPager(), m.GetUan(), m.GetVoicemail()} {
			if r.special[i], err = c.desc(d); err != nil {
				return err
			}
		}
		if r.fixed, err = c.desc(m.GetFixedLine()); err != nil {
			return err
		}
		if r.mobile, err = c.desc(m.GetMobile()); err != nil {
			return err
		}
		c.regions = append(c.regions, r)
	}
	start := make([]mstate, len(c.matchers))
	for i, m := range c.matchers {
		start[i] = m.start()
	}
	for l := MinNSN; l <= MaxNSN; l++ {
		for i := range c.regions {
			r := &c.regions[i]
			for _, d := range append([]*descRef{&r.general, &r.fixed, &r.mobile}, refs(&r.special)...) {
				d.possible = possible(d.lengths, l)
			}
		}
		c.memo = map[string]uint16{}
		roots[l-MinNSN] = c.walk(start, l)
	}
	return nil
}

func refs(a *[8]descRef) []*descRef {
	out := make([]*descRef, len(a))
	for i := range a {
		out[i] = &a[i]
	}
	return out
}

// possible is isNumberPossibleForDesc's length test: no lengths listed means
// any length.
func possible(lengths []int32, l int) bool {
	if len(lengths) == 0 {
		return true
	}
	for _, x := range lengths {
		if int(x) == l {
			return true
		}
	}
	return false
}

// Generate returns the Go source of the table for package numbers.
func Generate() ([]byte, error) {
	t, err := Build()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString("// Code generated by go run ./internal/e164gen/cmd; DO NOT EDIT.\n\n")
	b.WriteString("// Derived from github.com/nyaruka/phonenumbers' metadata (see e164.go).\n\n")
	b.WriteString("package numbers\n\n")
	var untabled []int
	for cc := range t.Untabled {
		untabled = append(untabled, cc)
	}
	sort.Ints(untabled)
	for _, cc := range untabled {
		fmt.Fprintf(&b, "// +%d is not tabled: %s\n", cc, t.Untabled[cc])
	}
	b.WriteString("\n// e164CC maps a calling code to 1 + its index in e164Roots.\nvar e164CC = [1000]uint16{")
	for cc, v := range t.CC {
		if v != 0 {
			fmt.Fprintf(&b, "%d: %d, ", cc, v)
		}
	}
	b.WriteString("}\n\n")
	fmt.Fprintf(&b, "// e164Roots holds per calling code the trie root for each NSN length %d..%d.\n", MinNSN, MaxNSN)
	rows := func(name string, width int, n int, row func(i int) []uint16) {
		fmt.Fprintf(&b, "var %s = [%d][%d]uint16{\n", name, n, width)
		for i := 0; i < n; i++ {
			b.WriteString("{")
			for _, v := range row(i) {
				fmt.Fprintf(&b, "%#x,", v)
			}
			b.WriteString("},\n")
		}
		b.WriteString("}\n\n")
	}
	rows("e164Roots", MaxNSN-MinNSN+1, len(t.Roots), func(i int) []uint16 { return t.Roots[i][:] })
	rows("e164Nodes", 10, len(t.Nodes), func(i int) []uint16 { return t.Nodes[i][:] })
	fmt.Fprintf(&b, "var e164Outcomes = [%d]e164Outcome{\n", len(t.Outcomes))
	for _, o := range t.Outcomes {
		fmt.Fprintf(&b, "{valid: %v, region: %q, typ: %s},\n", o.valid, o.region, typeConst[o.typ])
	}
	b.WriteString("}\n")
	src, err := format.Source(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("format: %w", err)
	}
	return src, nil
}
