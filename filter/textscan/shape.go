package textscan

import "unicode/utf8"

// Shape is what a text is made of, for telling a crafted or business
// message from a common phrase: how many words and letters, and the
// numbers in it by length (a 4-8 digit code, a 7-15 digit phone number).
type Shape struct {
	Words   int // runs of letters or digits
	Letters int
	Codes   int // digit runs of 4 to 8 digits (one-time codes, PINs)
	Phones  int // digit runs of 9 to 15 digits, separators and a leading + allowed ("+49 151 2345 6789")
	Emails  int // an @ between word characters
	// Money: a currency (€ $ £ ₹ ¥ ₽ ₺ or EUR, USD, GBP, euro, dollar, ...)
	// in a text that has digits: amounts are how prizes, jobs and fees lure.
	Money int
	// Handoffs: messengers named to move the talk off SMS (WhatsApp,
	// Telegram, Viber, WeChat): how job, romance and "hi mum" scams ask
	// to be answered.
	Handoffs int
}

var handoffWords = []string{"whatsapp", "telegram", "viber", "wechat"}

// currencyWords are matched as whole ASCII words, case-insensitive.
var currencyWords = []string{"eur", "euro", "euros", "usd", "dollar", "dollars", "gbp", "chf", "inr", "rs", "tl", "pln", "zl"}

func isCurrencyRune(r rune) bool {
	switch r {
	case '$', '€', '£', '¥', '₹', '₽', '₺', '₦', '₩', '₫', '฿', '₱':
		return true
	}
	return false
}

// ShapeOf scans text (UTF-8). It does not allocate.
func ShapeOf(text []byte) Shape {
	h := shaper{wordStart: -1}
	for i := 0; i < len(text); {
		// Runs of ASCII letters and of digits, the bulk of a text, are
		// taken whole: only their first character can end a number or
		// start a word, and only their last can end a word.
		c := text[i]
		if isASCIILetter(c) {
			j := i + 1
			for j < len(text) && isASCIILetter(text[j]) {
				j++
			}
			if h.digits > 0 {
				h.flush()
			}
			h.s.Letters += j - i
			if !h.inWord {
				h.s.Words++
				h.inWord = true
				h.wordStart = i
			}
			if h.wordStart >= 0 && maybeShapeWordOf(text[h.wordStart], j-h.wordStart) {
				// (most words fail that: no list word has their length and
				// first letter)
				h.listWord(text[h.wordStart:j])
			}
			i = j
			continue
		}
		if c == ' ' { // the common separator: other's default case, in short
			h.inWord, h.wordStart, h.runDigits = false, -1, 0
			i++
			continue
		}
		if c-'0' < 10 && h.runDigits > 0 && h.inWord {
			j := i + 1
			for j < len(text) && text[j]-'0' < 10 {
				j++
			}
			h.digits += j - i
			h.runDigits += j - i
			i = j
			continue
		}
		i += h.other(text, i)
	}
	if h.digits > 0 {
		h.flush()
	}
	if h.anyDigit {
		h.s.Money = h.currency
	}
	return h.s
}

// shaper is ShapeOf's state. The loop above takes the runs of ASCII letters,
// spaces and the digits after a number's first; the rest goes through other,
// out of the loop, so that the loop keeps its state in registers.
type shaper struct {
	s         Shape
	inWord    bool
	anyDigit  bool
	dotted    bool // the number has a '.': an amount or a time, not a code
	currency  int
	wordStart int // of the current word of letters, -1: none
	digits    int // of the current number (separators allowed)
	runDigits int // of the current unbroken run of digits
}

func (h *shaper) flush() {
	switch {
	case h.digits >= 9 && h.digits <= 15:
		h.s.Phones++
	case h.digits >= 4 && h.digits <= 8 && !h.dotted:
		h.s.Codes++
	}
	h.digits, h.runDigits, h.dotted = 0, 0, false
}

// listWord counts w if it is a currency or handoff word.
func (h *shaper) listWord(w []byte) {
	if isCurrencyWord(w) {
		h.currency++
	} else if isWordIn(w, handoffWords) {
		h.s.Handoffs++
	}
}

// other takes the character at text[i] and returns its length.
//
//go:noinline
func (h *shaper) other(text []byte, i int) int {
	r, n := rune(text[i]), 1
	if r >= utf8.RuneSelf {
		r, n = utf8.DecodeRune(text[i:])
	}
	switch {
	case r >= '0' && r <= '9':
		h.anyDigit = true
		if h.runDigits == 0 && h.digits > 0 {
			if !numberSep(text, i) {
				h.flush()
			} else if text[i-1] == '.' {
				h.dotted = true
			}
		}
		h.digits++
		h.runDigits++
		if !h.inWord {
			h.s.Words++
			h.inWord = true
		}
	case isLetterRune(r):
		if h.digits > 0 {
			h.flush()
		}
		h.s.Letters++
		if !h.inWord {
			h.s.Words++
			h.inWord = true
			h.wordStart = i
		}
		if r < utf8.RuneSelf && (i+1 == len(text) || !isASCIILetter(text[i+1])) && h.wordStart >= 0 {
			if w := text[h.wordStart : i+1]; maybeShapeWord(w) {
				h.listWord(w)
			}
		}
	case r == '@':
		if i > 0 && i+1 < len(text) && isWordByte(text[i-1]) && isWordByte(text[i+1]) {
			h.s.Emails++
		}
		h.inWord = false
	default:
		if isCurrencyRune(r) {
			h.currency++
		}
		h.inWord = false
		h.wordStart = -1
		h.runDigits = 0
		if h.digits > 0 && !(r == ' ' || r == '-' || r == '.' || r == '/' || r == '(' || r == ')') {
			h.flush()
		}
	}
	return n
}

// shapeWordFirst[n] has bit c-'a' set when a currency or handoff word of
// n letters starts with c: a word that fails it is none of them, which spares
// ShapeOf comparing most words with each list word.
var shapeWordFirst = func() (t [32]uint32) {
	for _, list := range [][]string{currencyWords, handoffWords} {
		for _, w := range list {
			t[len(w)] |= 1 << (w[0] - 'a')
		}
	}
	return t
}()

func maybeShapeWord(w []byte) bool { return maybeShapeWordOf(w[0], len(w)) }

// maybeShapeWordOf is maybeShapeWord of a word of n bytes starting with c.
func maybeShapeWordOf(c byte, n int) bool {
	if uint(n) >= uint(len(shapeWordFirst)) {
		return false
	}
	c = c | 0x20 - 'a' // ASCII letters to 0..25 (either case); anything else misses
	return c < 26 && shapeWordFirst[n]&(1<<c) != 0
}

// isASCIILetter: c|0x20 is a lower-case letter exactly when c is a letter
// of either case (one test instead of two ranges).
func isASCIILetter(c byte) bool { return c|0x20-'a' < 26 }

func isCurrencyWord(w []byte) bool { return isWordIn(w, currencyWords) }

// isWordIn reports whether ASCII word w is one of words, ignoring case.
func isWordIn(w []byte, words []string) bool {
	for _, c := range words {
		if len(c) == len(w) && hasPrefixFold(w, c) {
			return true
		}
	}
	return false
}

// numberSep reports whether the separators just before i join two digit
// groups of one number: at most two of " -./()" between digits.
func numberSep(text []byte, i int) bool {
	seps := 0
	for j := i - 1; j >= 0; j-- {
		c := text[j]
		if c >= '0' && c <= '9' {
			return seps > 0 && seps <= 2
		}
		if c != ' ' && c != '-' && c != '.' && c != '/' && c != '(' && c != ')' {
			return false
		}
		seps++
	}
	return false
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

func isLetterRune(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
	}
	// Letters of every script; emoji, symbols and punctuation above ASCII
	// are not.
	return r >= 0x00C0 && r < 0x2000 || r >= 0x2C00 && r < 0x2E00 || r >= 0x3040 && r < 0xA000 ||
		r >= 0xAC00 && r < 0xD7B0 || r >= 0xF900 && r < 0xFB00 || r >= 0xFB1D && r < 0xFE00 || r >= 0xFE70 && r < 0xFF00
}
