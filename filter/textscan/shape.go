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
	var s Shape
	inWord, anyDigit, currency := false, false, 0
	wordStart := -1
	digits, runDigits := 0, 0 // digits of the current number (separators allowed), of the current unbroken run
	dotted := false           // the number has a '.': an amount or a time, not a code
	flush := func() {
		switch {
		case digits >= 9 && digits <= 15:
			s.Phones++
		case digits >= 4 && digits <= 8 && !dotted:
			s.Codes++
		}
		digits, runDigits, dotted = 0, 0, false
	}
	for i := 0; i < len(text); {
		// Runs of ASCII letters and of digits, the bulk of a text, are
		// taken whole: only their first character can end a number or
		// start a word, and only their last can end a word.
		if c := text[i]; isASCIILetter(c) {
			j := i + 1
			for j < len(text) && isASCIILetter(text[j]) {
				j++
			}
			if digits > 0 {
				flush()
			}
			s.Letters += j - i
			if !inWord {
				s.Words++
				inWord = true
				wordStart = i
			}
			if wordStart >= 0 && maybeShapeWordOf(text[wordStart], j-wordStart) {
				// (most words fail that: no list word has their length and
				// first letter)
				if w := text[wordStart:j]; isCurrencyWord(w) {
					currency++
				} else if isWordIn(w, handoffWords) {
					s.Handoffs++
				}
			}
			i = j
			continue
		} else if c >= '0' && c <= '9' && runDigits > 0 && inWord {
			j := i + 1
			for j < len(text) && text[j] >= '0' && text[j] <= '9' {
				j++
			}
			digits += j - i
			runDigits += j - i
			i = j
			continue
		}
		if text[i] == ' ' { // the common separator: the default case below, in short
			inWord, wordStart, runDigits = false, -1, 0
			i++
			continue
		}
		r, n := rune(text[i]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeRune(text[i:])
		}
		switch {
		case r >= '0' && r <= '9':
			anyDigit = true
			if runDigits == 0 && digits > 0 {
				if !numberSep(text, i) {
					flush()
				} else if text[i-1] == '.' {
					dotted = true
				}
			}
			digits++
			runDigits++
			if !inWord {
				s.Words++
				inWord = true
			}
		case isLetterRune(r):
			if digits > 0 {
				flush()
			}
			s.Letters++
			if !inWord {
				s.Words++
				inWord = true
				wordStart = i
			}
			if r < utf8.RuneSelf && (i+1 == len(text) || !isASCIILetter(text[i+1])) && wordStart >= 0 {
				w := text[wordStart : i+1]
				if !maybeShapeWord(w) {
					// most words: no list word has this length and first letter
				} else if isCurrencyWord(w) {
					currency++
				} else if isWordIn(w, handoffWords) {
					s.Handoffs++
				}
			}
		case r == '@':
			if i > 0 && i+1 < len(text) && isWordByte(text[i-1]) && isWordByte(text[i+1]) {
				s.Emails++
			}
			inWord = false
		default:
			if isCurrencyRune(r) {
				currency++
			}
			inWord = false
			wordStart = -1
			runDigits = 0
			if digits > 0 && !(r == ' ' || r == '-' || r == '.' || r == '/' || r == '(' || r == ')') {
				flush()
			}
		}
		i += n
	}
	if digits > 0 {
		flush()
	}
	if anyDigit {
		s.Money = currency
	}
	return s
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
