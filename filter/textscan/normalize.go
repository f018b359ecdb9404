package textscan

import (
	"encoding/binary"
	"math/bits"
	"unicode"
	"unicode/utf8"
)

// Byte classes of the ASCII fast path.
const (
	cSep   = iota // whitespace, punctuation, controls: a word boundary
	cLower        // a-z
	cUpper        // A-Z
	cDigit        // 0-9
	cLeet         // @ and $: letters inside words, nothing elsewhere
)

var asciiClass = func() (t [128]uint8) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = cLower
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = cUpper
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = cDigit
	}
	t['@'] = cLeet
	t['$'] = cLeet
	return t
}()

// lowerLetter maps the ASCII letters to lower case and every other byte to 0.
var lowerLetter = func() (t [256]byte) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = byte(c), byte(c)
	}
	return t
}()

// asciiStr holds every ASCII byte, so that asciiStr[c:c+1] is a one-byte
// string without an allocation.
var asciiStr = func() string {
	var b [128]byte
	for i := range b {
		b[i] = byte(i)
	}
	return string(b[:])
}()

// leetDigit is the leetspeak fold of Normalize (0 = keep the digit).
var leetDigit = [10]byte{'o', 'i', 0, 'e', 'a', 's', 0, 't', 0, 0}

// skelDigit is the look-alike fold of Skeleton, applied to every digit.
var skelDigit = [10]byte{'o', 'l', 0, 'e', 'a', 's', 0, 0, 'b', 0}

// Normalize appends to dst a canonical form of the text s for keyword
// matching and returns the extended slice:
//
//   - letters are case-folded to lower case (Unicode simple folding:
//     ToLower(ToUpper(r)), so final ς folds to σ and ſ to s);
//   - confusables become their ASCII look-alike: Cyrillic а е о р с х у і ѕ ј
//     к м н т в (and capitals), Greek ο α ν ρ τ ι κ ε (and capitals), fullwidth
//     Ａ-Ｚ ａ-ｚ ０-９, mathematical alphanumerics (U+1D400–U+1D7FF),
//     letter-like symbols (ℂ ℍ ℓ ...), circled letters;
//   - Latin letters with diacritics become their base letters (é→e, ü→u,
//     ß→ss, ø→o, æ→ae, ł→l ...); combining marks are dropped;
//   - leetspeak is folded inside words that contain at least one ASCII letter
//     and no more digits than letters (0→o 1→i 3→e 4→a 5→s 7→t @→a $→s), so
//     "FR33" becomes "free" while "code123456" keeps its code; '@' and '$' in
//     words that are not folded are dropped;
//   - zero-width and other format characters (U+200B–U+200D, U+2060, U+FEFF,
//     U+00AD, every category Cf) are removed without splitting the word;
//   - each run of whitespace, punctuation, math/modifier symbols, controls
//     and invalid UTF-8 becomes one ASCII space; the result is trimmed.
//
// Other letters (Arabic, CJK ...), currency signs and emoji pass through
// lower-cased; decimal digits of other scripts (Arabic-Indic ٠-٩, Devanagari,
// Thai ...) become ASCII digits. The output is valid UTF-8 and Normalize is idempotent:
// Normalize(Normalize(x)) == Normalize(x). A word is a maximal run of
// non-separator characters; letters counted for the leetspeak rule are ASCII
// letters after folding, so CJK text glued to a code ("验证码123456") keeps
// its digits.
//
// Normalize does not allocate when dst has room for the result (at most
// 1.5×len(s), usually at most len(s)).
func Normalize(dst, s []byte) []byte { return normalize(dst, s, false) }

// Skeleton appends to dst the look-alike key of s: the Normalize form with
// every digit that resembles a letter folded (0→o 1→l 3→e 4→a 5→s 8→b, plus
// 7→t inside words that Normalize folds) and all spaces removed.
// "PAYPA1" -> "paypal", "Bank-0f-X" -> "bankofx", "Pay Pal" -> "paypal".
// Sender-ID look-alike detection compares skeletons with Distance.
func Skeleton(dst, s []byte) []byte { return normalize(dst, s, true) }

// NormalizeStarts is Normalize that also appends to starts the word starts
// of what it appends to dst (WordStarts of it, offsets from len(dst) on
// entry), which it knows as it writes them: the first byte of each word and
// the byte after each byte of a non-ASCII character.
func NormalizeStarts(dst []byte, starts []int32, s []byte) ([]byte, []int32) {
	n := normer{track: true, starts: starts}
	dst = n.run(dst, s)
	// No start at the end (after a trailing non-ASCII character).
	if k := len(n.starts); k > len(starts) && int(n.starts[k-1]) == len(dst)-n.base {
		n.starts = n.starts[:k-1]
	}
	return dst, n.starts
}

// MaskDigits appends s to dst with each run of ASCII digits replaced by one
// '#'. dst and s may be the same slice (dst[:0], s) for an in-place mask.
func MaskDigits(dst, s []byte) []byte {
	for {
		i := indexDigit(s)
		if i < 0 {
			return append(dst, s...) // overlapping: dst is never ahead of s
		}
		dst = append(dst, s[:i]...)
		dst = append(dst, '#')
		for i++; i < len(s) && s[i]-'0' < 10; i++ {
		}
		s = s[i:]
	}
}

// indexDigit returns the index of the first ASCII digit in s, or -1,
// eight bytes at a time: text is mostly letters, and copying the runs
// between digits whole beats a byte loop.
func indexDigit(s []byte) int {
	const ones, highs, zeros = 0x0101010101010101, 0x8080808080808080, 0x3030303030303030
	i := 0
	for ; i+8 <= len(s); i += 8 {
		// y's bytes are below 10 exactly where s's are digits; the
		// lowest flagged byte of the has-less-than test is exact.
		y := binary.LittleEndian.Uint64(s[i:]) ^ zeros
		if m := (y - 10*ones) &^ y & highs; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(s); i++ {
		if s[i]-'0' < 10 {
			return i
		}
	}
	return -1
}

// normer is the state of one Normalize/Skeleton call.
type normer struct {
	base      int  // len(dst) on entry: output starts here
	skel      bool // Skeleton: no spaces, digits folded everywhere
	inWord    bool
	spacePos  int // len(dst) before the separating space of the word
	wordStart int // index in dst of the first byte of the word
	letters   int // ASCII letters in the word (after folding)
	digits    int // ASCII digits in the word
	leet      int // '@' and '$' in the word

	track  bool    // NormalizeStarts: record the word starts
	starts []int32 // the word starts, offsets from base
	first  int     // len(starts) when the word began
}

func normalize(dst, s []byte, skel bool) []byte {
	n := normer{skel: skel}
	return n.run(dst, s)
}

// run normalizes s into dst with n's mode (skel, track).
func (n *normer) run(dst, s []byte) []byte {
	if cap(dst)-len(dst) < len(s) {
		nd := make([]byte, len(dst), len(dst)+len(s)+len(s)/4+8)
		copy(nd, dst)
		dst = nd
	}
	// dst stays a local threaded through the helpers (not a field behind a
	// pointer) so that escape analysis keeps a caller's stack buffer there.
	n.base = len(dst)
	for i := 0; i < len(s); {
		c := s[i]
		if l := lowerLetter[c]; l != 0 {
			// The hot path: a run of ASCII letters, lower-cased into
			// the room dst has (the first one appended, which grows it).
			if !n.inWord {
				dst = n.begin(dst)
			}
			dst = append(dst, l)
			i++
			in, out := runRoom(dst, s, i)
			k := 0
			for ; k < len(in); k++ {
				if l = lowerLetter[in[k]]; l == 0 {
					break
				}
				out[k] = l
			}
			i += k
			dst = dst[:len(dst)+k]
			n.letters += 1 + k
			continue
		}
		if c-'0' < 10 {
			// A run of digits, likewise (a code, an amount).
			if !n.inWord {
				dst = n.begin(dst)
			}
			dst = append(dst, c)
			i++
			in, out := runRoom(dst, s, i)
			k := 0
			for ; k < len(in) && in[k]-'0' < 10; k++ {
				out[k] = in[k]
			}
			i += k
			dst = dst[:len(dst)+k]
			n.digits += 1 + k
			continue
		}
		if c < utf8.RuneSelf {
			i++
			if asciiClass[c] == cSep { // a space, punctuation: n.ascii in short
				if n.leet|n.digits == 0 { // n.end without a call: nothing to fold
					n.inWord = false
				} else if n.inWord {
					dst = n.end(dst)
				}
				continue
			}
			dst = n.ascii(dst, c)
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		i += size
		dst = n.rune(dst, r, size)
	}
	return n.end(dst)
}

// runRoom returns the rest of s from i and the room after dst's length,
// cut to the same length: one bound for a run's copy loop.
func runRoom(dst, s []byte, i int) (in, out []byte) {
	out = dst[len(dst):cap(dst)]
	in = s[i:]
	in = in[:min(len(in), len(out))]
	return in, out[:len(in)]
}

// rune folds a non-ASCII rune r of size bytes (utf8.DecodeRune).
func (n *normer) rune(dst []byte, r rune, size int) []byte {
	if r == utf8.RuneError && size == 1 {
		return n.end(dst)
	}
	str, fr, k := foldRune(r)
	switch k {
	case kDrop:
	case kSep:
		dst = n.end(dst)
	case kASCII:
		for j := 0; j < len(str); j++ {
			dst = n.ascii(dst, str[j])
		}
	default:
		dst = n.begin(dst)
		dst = utf8.AppendRune(dst, fr)
		if n.track { // a start after each of its bytes (none is alnum)
			for p := len(dst) - utf8.RuneLen(fr) + 1; p <= len(dst); p++ {
				n.starts = append(n.starts, int32(p-n.base))
			}
		}
	}
	return dst
}

func (n *normer) begin(dst []byte) []byte {
	if n.inWord {
		return dst
	}
	n.inWord = true
	n.spacePos = len(dst)
	if !n.skel && len(dst) > n.base {
		dst = append(dst, ' ')
	}
	n.wordStart = len(dst)
	n.letters, n.digits, n.leet = 0, 0, 0
	if n.track {
		n.first = len(n.starts)
		n.starts = append(n.starts, int32(n.wordStart-n.base))
	}
	return dst
}

func (n *normer) ascii(dst []byte, c byte) []byte {
	k := asciiClass[c]
	if k == cSep {
		return n.end(dst)
	}
	if !n.inWord {
		dst = n.begin(dst)
	}
	switch k {
	case cLower:
		n.letters++
	case cUpper:
		n.letters++
		c += 'a' - 'A'
	case cDigit:
		n.digits++
	default:
		n.leet++
	}
	return append(dst, c)
}

// end closes the current word: applies the leetspeak/skeleton folds to its
// digits, '@' and '$' in place, and takes back the separating space when the
// word turned out empty.
func (n *normer) end(dst []byte) []byte {
	if !n.inWord {
		return dst
	}
	n.inWord = false
	if n.leet == 0 && (n.digits == 0 || (!n.skel && n.letters == 0)) {
		return dst
	}
	fold := n.letters > 0 && n.letters >= n.digits
	w := dst[n.wordStart:]
	j := 0
	for _, c := range w {
		switch {
		case c >= '0' && c <= '9':
			d := c - '0'
			if n.skel {
				if m := skelDigit[d]; m != 0 {
					c = m
				} else if fold && c == '7' {
					c = 't'
				}
			} else if fold {
				if m := leetDigit[d]; m != 0 {
					c = m
				}
			}
		case c == '@':
			if !fold {
				continue
			}
			c = 'a'
		case c == '$':
			if !fold {
				continue
			}
			c = 's'
		}
		w[j] = c
		j++
	}
	if n.track && j < len(w) {
		// The word lost bytes ('@', '$') or all of them: its starts move.
		n.starts = n.starts[:n.first]
		if j > 0 {
			n.starts = append(n.starts, int32(n.wordStart-n.base))
			for k, c := range w[:j] {
				if !alnum[c] {
					n.starts = append(n.starts, int32(n.wordStart+k+1-n.base))
				}
			}
		}
	}
	if j == 0 {
		return dst[:n.spacePos]
	}
	return dst[:n.wordStart+j]
}

// Kinds of folded runes.
const (
	kDrop  = iota // removed, the word goes on
	kSep          // a word boundary
	kASCII        // replaced by an ASCII string
	kRune         // a word character, output as the returned rune
)

// foldRune maps one non-ASCII rune.
func foldRune(r rune) (string, rune, int) {
	for range 3 { // at most: rune, its lower case, the lower case of that
		if r < utf8.RuneSelf {
			if asciiClass[r] == cSep {
				return "", 0, kSep
			}
			return asciiStr[r : r+1], 0, kASCII
		}
		if s, fr, k, ok := foldTable(r); ok {
			return s, fr, k
		}
		if isSeparator(r) {
			return "", 0, kSep
		}
		// Simple case folding: the lower case of the upper case, so that
		// ς/σ, ſ/s, ϐ/β, ϑ/θ, ϰ/κ, ϱ/ρ, ϵ/ε ... meet.
		lr := unicode.ToLower(unicode.ToUpper(r))
		if lr == r {
			return "", r, kRune
		}
		r = lr
	}
	return "", r, kRune
}

func isSeparator(r rune) bool {
	if unicode.IsLetter(r) {
		return false
	}
	return unicode.IsSpace(r) || unicode.IsPunct(r) || unicode.IsControl(r) ||
		unicode.Is(unicode.Sm, r) || unicode.Is(unicode.Sk, r)
}

// foldTable handles the code points with a fixed mapping: combining and
// format characters (dropped), Latin letters with diacritics, Greek and
// Cyrillic confusables, fullwidth forms, mathematical alphanumerics,
// letter-like symbols, circled letters and ligatures.
func foldTable(r rune) (string, rune, int, bool) {
	switch {
	case r >= 0xC0 && r < 0x2B0:
		str, k, ok := latinEntry(latinFoldA, int(r-0xC0))
		return str, 0, k, ok
	case r >= 0x300 && r < 0x370: // combining diacritical marks
		return "", 0, kDrop, true
	case r >= 0x370 && r < 0x530:
		if a := greekCyrillicTab[r-0x370]; a != 0 {
			return asciiStr[a : a+1], 0, kASCII, true
		}
		switch { // the basic Cyrillic alphabet, without table look-ups
		case r >= 0x430 && r <= 0x45F:
			return "", r, kRune, true
		case r >= 0x410 && r <= 0x42F:
			return "", r + 0x20, kRune, true
		case r >= 0x400 && r <= 0x40F:
			return "", r + 0x50, kRune, true
		}
		return "", 0, 0, false
	case r >= 0x4E00 && r <= 0x9FFF, r >= 0xAC00 && r <= 0xD7A3, r >= 0x621 && r <= 0x64A:
		return "", r, kRune, true // CJK ideographs, Hangul syllables, Arabic letters: no case, no fold
	case r >= 0x1E00 && r < 0x1F00:
		str, k, ok := latinEntry(latinFoldB, int(r-0x1E00))
		return str, 0, k, ok
	case r >= 0x1AB0 && r < 0x1B00, r >= 0x1DC0 && r < 0x1E00,
		r >= 0x20D0 && r < 0x2100, r >= 0xFE20 && r < 0xFE30:
		return "", 0, kDrop, true
	case r >= 0x2100 && r < 0x2150:
		if s := letterlike(r); s != "" {
			return s, 0, kASCII, true
		}
	case r >= 0x2460 && r <= 0x2468: // ① .. ⑨
		return asciiStr['1'+r-0x2460 : '1'+r-0x2460+1], 0, kASCII, true
	case r >= 0x24B6 && r <= 0x24CF: // Ⓐ .. Ⓩ
		return asciiStr['a'+r-0x24B6 : 'a'+r-0x24B6+1], 0, kASCII, true
	case r >= 0x24D0 && r <= 0x24E9: // ⓐ .. ⓩ
		return asciiStr['a'+r-0x24D0 : 'a'+r-0x24D0+1], 0, kASCII, true
	case r == 0x24EA: // ⓪
		return "0", 0, kASCII, true
	case r >= 0xFB00 && r <= 0xFB06:
		return [...]string{"ff", "fi", "fl", "ffi", "ffl", "st", "st"}[r-0xFB00], 0, kASCII, true
	case r >= 0xFF01 && r <= 0xFF5E: // fullwidth ASCII
		a := r - 0xFEE0
		switch asciiClass[a] {
		case cUpper:
			a += 'a' - 'A'
		case cSep:
			return "", 0, kSep, true
		}
		return asciiStr[a : a+1], 0, kASCII, true
	case r >= 0x1D400 && r < 0x1D800:
		str, k, ok := mathAlnum(r)
		return str, 0, k, ok
	}
	if r >= 0xAD && unicode.Is(unicode.Cf, r) {
		return "", 0, kDrop, true
	}
	if r < 0x1D7CE && unicode.IsDigit(r) {
		for _, z := range digitZeros {
			if r >= z && r <= z+9 {
				return asciiStr['0'+r-z : '0'+r-z+1], 0, kASCII, true
			}
		}
	}
	return "", 0, 0, false
}

// digitZeros are the zeros of the decimal digit sets (category Nd) that
// Normalize folds to ASCII digits, so that codes in Arabic-Indic,
// Devanagari, Thai ... digits mask like ASCII ones.
var digitZeros = [...]rune{
	0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66,
	0x0CE6, 0x0D66, 0x0DE6, 0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810,
	0x1946, 0x19D0, 0x1A80, 0x1A90, 0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0,
	0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0,
}

func latinEntry(tab string, i int) (string, int, bool) {
	e := tab[2*i : 2*i+2]
	switch {
	case e[0] == '.':
		return "", 0, false
	case e[1] == ' ':
		return e[:1], kASCII, true
	}
	return e, kASCII, true
}

// greekCyrillicTab is greekCyrillic for U+0370..U+052F as a table.
var greekCyrillicTab = func() (t [0x530 - 0x370]byte) {
	for i := range t {
		if s := greekCyrillic(rune(0x370 + i)); s != "" {
			t[i] = s[0]
		}
	}
	return t
}()

// greekCyrillic maps Greek and Cyrillic letters that look like Latin ones.
// Capitals map by their capital look (Greek Ν→n, Η→h), small letters by
// theirs (ν→v, η stays).
func greekCyrillic(r rune) string {
	switch r {
	// Greek capitals.
	case 'Α', 'Ά':
		return "a"
	case 'Β':
		return "b"
	case 'Ε', 'Έ':
		return "e"
	case 'Ζ':
		return "z"
	case 'Η', 'Ή':
		return "h"
	case 'Ι', 'Ί', 'Ϊ':
		return "i"
	case 'Κ':
		return "k"
	case 'Μ':
		return "m"
	case 'Ν':
		return "n"
	case 'Ο', 'Ό':
		return "o"
	case 'Ρ':
		return "p"
	case 'Τ':
		return "t"
	case 'Υ', 'Ύ', 'Ϋ':
		return "y"
	case 'Χ':
		return "x"
	case 'Ϲ':
		return "c"
	case 'Ϳ':
		return "j"
	// Greek small letters.
	case 'α', 'ά':
		return "a"
	case 'ε', 'έ':
		return "e"
	case 'ι', 'ί', 'ϊ', 'ΐ':
		return "i"
	case 'κ':
		return "k"
	case 'ν':
		return "v"
	case 'ο', 'ό':
		return "o"
	case 'ρ':
		return "p"
	case 'τ':
		return "t"
	case 'υ', 'ύ', 'ϋ', 'ΰ':
		return "u"
	case 'ϲ':
		return "c"
	case 'ϳ':
		return "j"
	// Cyrillic, capitals and small letters.
	case 'А', 'а':
		return "a"
	case 'В', 'в':
		return "b"
	case 'Е', 'е', 'Ё', 'ё', 'Ѐ', 'ѐ':
		return "e"
	case 'К', 'к':
		return "k"
	case 'М', 'м':
		return "m"
	case 'Н', 'н', 'Һ', 'һ':
		return "h"
	case 'О', 'о':
		return "o"
	case 'Р', 'р':
		return "p"
	case 'С', 'с':
		return "c"
	case 'Т', 'т':
		return "t"
	case 'У', 'у', 'Ү', 'ү':
		return "y"
	case 'Х', 'х':
		return "x"
	case 'І', 'і', 'Ї', 'ї':
		return "i"
	case 'Ѕ', 'ѕ':
		return "s"
	case 'Ј', 'ј':
		return "j"
	case 'Ӏ', 'ӏ':
		return "l"
	case 'Ԁ', 'ԁ':
		return "d"
	case 'Ԛ', 'ԛ':
		return "q"
	case 'Ԝ', 'ԝ':
		return "w"
	}
	return ""
}

// letterlike maps the Letterlike Symbols that fill the holes of the
// mathematical alphabets (ℂ ℍ ℕ ℙ ℚ ℝ ℤ ...) and a few more.
func letterlike(r rune) string {
	switch r {
	case 'ℂ', 'ℭ':
		return "c"
	case 'ℊ':
		return "g"
	case 'ℋ', 'ℌ', 'ℍ', 'ℎ':
		return "h"
	case 'ℐ', 'ℑ', 'ℹ':
		return "i"
	case 'ℒ', 'ℓ':
		return "l"
	case 'ℕ':
		return "n"
	case 'ℙ':
		return "p"
	case 'ℚ':
		return "q"
	case 'ℛ', 'ℜ', 'ℝ':
		return "r"
	case 'ℤ', 'ℨ':
		return "z"
	case 'ℬ':
		return "b"
	case 'ℯ', 'ℰ':
		return "e"
	case 'ℱ':
		return "f"
	case 'ℳ':
		return "m"
	case 'ℴ':
		return "o"
	}
	return ""
}

// mathAlnum maps the Mathematical Alphanumeric Symbols block: thirteen
// 52-letter Latin alphabets, dotless ı/ȷ, Greek alphabets (left as they are)
// and five 10-digit sets.
func mathAlnum(r rune) (string, int, bool) {
	switch {
	case r < 0x1D6A4:
		i := (r - 0x1D400) % 52
		if i >= 26 {
			i -= 26
		}
		return asciiStr['a'+i : 'a'+i+1], kASCII, true
	case r == 0x1D6A4:
		return "i", kASCII, true
	case r == 0x1D6A5:
		return "j", kASCII, true
	case r >= 0x1D7CE:
		d := (r - 0x1D7CE) % 10
		return asciiStr['0'+d : '0'+d+1], kASCII, true
	}
	return "", 0, false
}
