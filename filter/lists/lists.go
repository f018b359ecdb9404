// Package lists holds a policy's named lists compiled for the hot path:
// sender IDs and strings as sets, number prefixes and ranges in a prefix
// trie, keywords in an Aho-Corasick automaton, domains as a suffix set,
// regular expressions compiled once. A compiled List is immutable.
package lists

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/smsfw/smsfw/filter/numbers"
	"github.com/smsfw/smsfw/filter/textscan"
)

// Type is a list's kind.
type Type string

// List types.
const (
	Senders  Type = "senders"  // sender IDs / strings, matched case-insensitively after normalization
	Prefixes Type = "prefixes" // digit prefixes and ranges "from-to"
	Keywords Type = "keywords" // words and phrases, matched in normalized text
	Domains  Type = "domains"  // registrable domains; subdomains match too
	Regexes  Type = "regexes"  // RE2 expressions over the decoded text
)

// Types lists the valid types.
var Types = []Type{Senders, Prefixes, Keywords, Domains, Regexes}

// Valid reports whether t is a known type.
func (t Type) Valid() bool {
	for _, x := range Types {
		if t == x {
			return true
		}
	}
	return false
}

var prefixRE = regexp.MustCompile(`^[0-9]+(-[0-9]+)?$`)

// List is one compiled list.
type List struct {
	Name  string
	Type  Type
	Items []string // as written (normalized for senders, keywords and domains)

	set      map[string]struct{}
	prefixes *numbers.PrefixSet
	matcher  *textscan.Matcher
	regexes  []*regexp.Regexp
	// lits[i] are sets of lower-case ASCII literals: every match of
	// regexes[i] contains one literal of each set (no sets: nothing is
	// known). A cheap test that skips most regexes.
	lits [][][][]byte
	// scan finds the literals of every set in one pass (nil: too many
	// literals, lowerASCII and mayMatch instead).
	scan *litScan
}

// ItemError is a bad list item, with its index (0-based) and the file it
// came from when it was read from one.
type ItemError struct {
	Index int
	File  string
	Line  int
	Err   error
}

func (e *ItemError) Error() string {
	if e.File != "" {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("item %d: %v", e.Index, e.Err)
}

func (e *ItemError) Unwrap() error { return e.Err }

// Read reads list items, one per line (blank lines and '#' comments
// ignored), with the line number of each.
func Read(r io.Reader) ([]string, []int, error) {
	var items []string
	var lines []int
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		items = append(items, l)
		lines = append(lines, n)
	}
	return items, lines, sc.Err()
}

// Compile builds a list. Items are validated: prefixes must be digits or
// ranges, regexes must compile, keywords must not normalize to nothing.
func Compile(name string, t Type, items []string) (*List, error) {
	l := &List{Name: name, Type: t}
	switch t {
	case Senders, Domains:
		l.set = make(map[string]struct{}, len(items))
		for i, it := range items {
			var k string
			if t == Senders {
				k = string(textscan.Normalize(nil, []byte(it)))
			} else {
				k = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(it)), "*.")
			}
			if k == "" {
				return nil, &ItemError{Index: i, Err: fmt.Errorf("empty %s item %q", t, it)}
			}
			l.set[k] = struct{}{}
			l.Items = append(l.Items, k)
		}
	case Prefixes:
		entries := make([]numbers.Entry, len(items))
		for i, it := range items {
			p := strings.TrimPrefix(strings.TrimSpace(it), "+")
			if !prefixRE.MatchString(p) {
				return nil, &ItemError{Index: i, Err: fmt.Errorf("%q is not a digit prefix or a from-to range", it)}
			}
			entries[i] = numbers.Entry{Prefix: p, Value: int32(i)}
		}
		ps, err := numbers.NewPrefixSet(entries)
		if err != nil {
			return nil, err
		}
		l.prefixes = ps
		l.Items = items
	case Keywords:
		pats := make([]string, 0, len(items))
		for i, it := range items {
			k := string(textscan.Normalize(nil, []byte(it)))
			if k == "" {
				return nil, &ItemError{Index: i, Err: fmt.Errorf("keyword %q normalizes to nothing", it)}
			}
			pats = append(pats, k)
		}
		m, err := textscan.NewMatcher(pats)
		if err != nil {
			return nil, err
		}
		l.matcher = m
		l.Items = pats
	case Regexes:
		for i, it := range items {
			re, err := regexp.Compile(it)
			if err != nil {
				return nil, &ItemError{Index: i, Err: err}
			}
			l.regexes = append(l.regexes, re)
			var sets [][][]byte
			for _, set := range requiredLiterals(it) {
				var lits [][]byte
				for _, lit := range set {
					lits = append(lits, []byte(lit))
				}
				sets = append(sets, lits)
			}
			l.lits = append(l.lits, sets)
		}
		l.scan = newLitScan(l.lits)
		l.Items = items
	default:
		return nil, fmt.Errorf("unknown list type %q (senders, prefixes, keywords, domains, regexes)", t)
	}
	return l, nil
}

// HasSender reports whether a (raw) sender is in a senders list.
func (l *List) HasSender(sender []byte, scratch []byte) bool {
	if l == nil || l.set == nil {
		return false
	}
	k, ok := lowerLetters(sender, scratch)
	if !ok {
		k = textscan.Normalize(scratch[:0], sender)
	}
	_, ok = l.set[string(k)] // no allocation: map lookup with a converted key
	return ok
}

// lowerLetters is Normalize's form of a sender made of ASCII letters only
// (most alphanumeric sender IDs): its lower case, written into scratch's
// room; ok is false for any other sender (or no room), which Normalize takes.
func lowerLetters(sender, scratch []byte) (k []byte, ok bool) {
	if len(sender) == 0 || len(sender) > cap(scratch) {
		return nil, false
	}
	k = scratch[:len(sender)]
	for i, c := range sender {
		c |= 0x20
		if c-'a' >= 26 {
			return nil, false
		}
		k[i] = c
	}
	return k, true
}

// HasString reports whether an already normalized string is in the set.
func (l *List) HasString(s string) bool {
	if l == nil || l.set == nil {
		return false
	}
	_, ok := l.set[s]
	return ok
}

// MatchPrefix returns the index of the longest matching prefix.
func (l *List) MatchPrefix(digits []byte) (int, bool) {
	if l == nil || l.prefixes == nil {
		return 0, false
	}
	v, _, ok := l.prefixes.Lookup(digits)
	return int(v), ok
}

// HasDomain reports whether domain or one of its parents is in the list.
func (l *List) HasDomain(domain string) bool {
	if l == nil || l.set == nil {
		return false
	}
	for d := domain; d != ""; {
		if _, ok := l.set[d]; ok {
			return true
		}
		i := strings.IndexByte(d, '.')
		if i < 0 {
			return false
		}
		d = d[i+1:]
	}
	return false
}

// FirstKeyword returns the first keyword found in normalized text (whole
// words), or -1.
func (l *List) FirstKeyword(norm []byte) int {
	if l == nil || l.matcher == nil {
		return -1
	}
	i, _, _ := l.matcher.First(norm, true)
	return i
}

// FirstKeywordFrom is FirstKeyword given the word starts of norm
// (textscan.WordStarts; nil: FirstKeyword).
func (l *List) FirstKeywordFrom(norm []byte, starts []int32) int {
	if l == nil || l.matcher == nil {
		return -1
	}
	i, _, _ := l.matcher.FirstWholeFrom(norm, starts)
	return i
}

var lowerPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// lowerASCII writes src with ASCII upper-case letters lowered into dst
// (len(dst) == len(src)), eight bytes at a time: a byte is an upper-case
// letter when its low seven bits are in 'A'..'Z' and its high bit is clear;
// the sums below stay within each byte, so no carry crosses into the next.
func lowerASCII(dst, src []byte) {
	i := 0
	for ; i+8 <= len(src); i += 8 {
		x := binary.LittleEndian.Uint64(src[i:])
		h := x & 0x7f7f7f7f7f7f7f7f
		ge := h + 0x3f3f3f3f3f3f3f3f // high bit: h >= 'A'
		gt := h + 0x2525252525252525 // high bit: h > 'Z'
		upper := ge &^ gt &^ x & 0x8080808080808080
		binary.LittleEndian.PutUint64(dst[i:], x|upper>>2)
	}
	for ; i < len(src); i++ {
		c := src[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst[i] = c
	}
}

// FirstRegex returns the index of the first regex matching text, or -1.
func (l *List) FirstRegex(text []byte) int {
	if l == nil || len(l.regexes) == 0 {
		return -1
	}
	if l.scan != nil {
		found := l.scan.scan(text)
		for i, re := range l.regexes {
			if l.scan.may(i, found) && re.Match(text) {
				return i
			}
		}
		return -1
	}
	return l.firstRegexLowered(text)
}

// firstRegexLowered is FirstRegex with the prefilter on a lower-cased copy
// of text and bytes.Contains per literal.
func (l *List) firstRegexLowered(text []byte) int {
	// The lower-cased copy lives on the stack for an SMS-sized text.
	var stack [512]byte
	var bp *[]byte
	var pooled, lower []byte
	if len(text) <= len(stack) {
		lower = stack[:len(text)]
	} else {
		bp = lowerPool.Get().(*[]byte)
		pooled = slices.Grow((*bp)[:0], len(text))[:len(text)]
		lower = pooled
	}
	lowerASCII(lower, text)
	found := -1
	for i, re := range l.regexes {
		if !mayMatch(lower, l.lits[i]) {
			continue
		}
		if re.Match(text) {
			found = i
			break
		}
	}
	if bp != nil {
		*bp = pooled
		lowerPool.Put(bp)
	}
	return found
}

// mayMatch reports whether lower has a literal of every set.
func mayMatch(lower []byte, sets [][][]byte) bool {
	for _, set := range sets {
		found := false
		for _, lit := range set {
			if bytes.Contains(lower, lit) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// maxLiteralSets bounds the sets the prefilter checks per regex.
const maxLiteralSets = 4

// requiredLiterals returns sets of lower-case ASCII literals such that
// every match of expr contains a literal of each set, strongest first
// (none: nothing is known). A set is a literal of a concatenation, a group
// or a repetition of at least one, or the literals of an alternation whose
// every branch has its own; each part of a concatenation gives its own
// set. "(?i)your (account|card) (has been|is) (suspended|locked)" is
// tried only on texts with "your " and "account" or "card" (and "loc" or
// "pended"), the tax-refund pattern
// "(tax refund|steuerr[uü]ckerstattung).{0,80}(iban|...)" only where
// "tax refund" or "tattung" is. Sets whose shortest literal has fewer than
// 3 bytes are dropped unless none is longer.
func requiredLiterals(expr string) [][]string {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil
	}
	sets := literalSets(re.Simplify())
	slices.SortStableFunc(sets, func(a, b []string) int {
		if better(a, b) {
			return -1
		}
		if better(b, a) {
			return 1
		}
		return 0
	})
	sets = slices.CompactFunc(sets, slices.Equal)
	keep := sets[:0]
	for i, set := range sets {
		if i < maxLiteralSets && (i == 0 || minLen(set) >= 3) {
			keep = append(keep, set)
		}
	}
	return keep
}

// literalSets are the sets every match of re needs, each on its own.
func literalSets(re *syntax.Regexp) [][]string {
	switch re.Op {
	case syntax.OpCapture, syntax.OpPlus:
		return literalSets(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return literalSets(re.Sub[0])
		}
		return nil
	case syntax.OpConcat:
		var sets [][]string
		for _, sub := range re.Sub {
			sets = append(sets, literalSets(sub)...)
		}
		return sets
	}
	if l := literalsOf(re); len(l) > 0 {
		return [][]string{l}
	}
	return nil
}

// literalsOf is the strongest single set every match of re needs.
func literalsOf(re *syntax.Regexp) []string {
	switch re.Op {
	case syntax.OpLiteral:
		if lit := prefilterLiteral(re.Rune, re.Flags&syntax.FoldCase != 0); lit != "" {
			return []string{lit}
		}
	case syntax.OpCapture, syntax.OpPlus:
		return literalsOf(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return literalsOf(re.Sub[0])
		}
	case syntax.OpConcat:
		var best []string
		for _, sub := range re.Sub {
			if l := literalsOf(sub); better(l, best) {
				best = l
			}
		}
		return best
	case syntax.OpAlternate:
		var all []string
		for _, sub := range re.Sub {
			l := literalsOf(sub)
			if len(l) == 0 {
				return nil // a branch without a literal: anything may match
			}
			all = append(all, l...)
		}
		slices.Sort(all)
		return slices.Compact(all)
	}
	return nil
}

// prefilterLiteral is the part of a literal the prefilter can look for in
// ASCII-lower-cased text: the whole literal lower-cased, or "" when it
// has a non-ASCII character. Case-insensitively, "k" and "s" also match
// the Kelvin sign and the long s, which lower-casing ASCII does not fold:
// the longest run without them is taken.
func prefilterLiteral(rs []rune, fold bool) string {
	for _, r := range rs {
		if r >= utf8.RuneSelf {
			return ""
		}
	}
	lit := strings.ToLower(string(rs))
	if !fold {
		return lit
	}
	best := ""
	for _, run := range strings.FieldsFunc(lit, func(r rune) bool { return r == 'k' || r == 's' }) {
		if len(run) > len(best) {
			best = run
		}
	}
	return best
}

// better reports whether literal set a is a stronger prefilter than b:
// known, and its shortest literal longer (fewer literals on a tie).
func better(a, b []string) bool {
	if len(a) == 0 {
		return false
	}
	if len(b) == 0 {
		return true
	}
	ma, mb := minLen(a), minLen(b)
	return ma > mb || ma == mb && len(a) < len(b)
}

func minLen(l []string) int {
	m := len(l[0])
	for _, s := range l[1:] {
		m = min(m, len(s))
	}
	return m
}

// Len is the number of items.
func (l *List) Len() int { return len(l.Items) }

// Set is a policy's lists by name.
type Set map[string]*List

// Get returns list name if it exists with type t.
func (s Set) Get(name string, t Type) (*List, error) {
	l, ok := s[name]
	if !ok {
		return nil, fmt.Errorf("unknown list %q", name)
	}
	if l.Type != t {
		return nil, fmt.Errorf("list %q is %s, want %s", name, l.Type, t)
	}
	return l, nil
}
