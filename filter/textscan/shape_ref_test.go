package textscan

import "unicode/utf8"

// shapeOfRef is ShapeOf as it was before its ASCII runs were taken whole:
// the oracle of TestShapeOfMatchesRef and FuzzShapeOf.
func shapeOfRef(text []byte) Shape {
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
			if r < utf8.RuneSelf && (i+1 == len(text) || !refIsASCIILetter(text[i+1])) && wordStart >= 0 {
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

func refIsASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
