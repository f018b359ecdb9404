// Package numbers is smsfw's phone number intelligence for SMPP addresses:
// a cached phonenumbers-backed Resolver (country, region, number type,
// validity), a cheap sender classifier (KindOf) and a large, compact
// longest-prefix table (PrefixSet) for premium ranges, number blocks and
// blocklists.
//
// Everything on the inspection path is safe for concurrent use and does not
// allocate once warm: Resolver.Lookup on a cache hit, KindOf and
// PrefixSet.Lookup.
package numbers

// SMPP type-of-number values the package interprets.
const (
	TONUnknown       byte = 0
	TONInternational byte = 1
	TONNational      byte = 2
	TONAlphanumeric  byte = 5
)

// Kind is a coarse classification of an address, computed without parsing.
type Kind uint8

const (
	// Empty is an empty address.
	Empty Kind = iota
	// Invalid is an address that is neither alphanumeric nor a plausible
	// digit string: control bytes, punctuation without letters, fewer than
	// 3 digits (unless international), more than 20 digits.
	Invalid
	// Alphanumeric is a sender name: TON 5, or any address with a letter.
	Alphanumeric
	// ShortCode is 3..8 digits that are not marked international.
	ShortCode
	// Number is a longer digit string (9..20 digits) or any digit string
	// marked international (TON 1 or a leading '+').
	Number
)

var kindNames = [...]string{"empty", "invalid", "alphanumeric", "shortcode", "number"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(?)"
}

// maxAddrDigits is the longest digit string KindOf accepts: the SMPP
// source_addr / destination_addr fields hold at most 20 characters.
const maxAddrDigits = 20

// KindOf classifies an SMPP address by its TON and bytes. It never parses
// and never allocates.
//
// Rules, in order: empty -> Empty; a control byte (< 0x20 or 0x7f) ->
// Invalid; TON 5 or any letter (ASCII letters and bytes >= 0x80, which are
// letters of GSM/Latin-1/UTF-8 sender names) -> Alphanumeric; an optional
// leading '+' followed only by digits -> Number when international (TON 1
// or '+') and at least one digit, ShortCode for 3..8 digits, Number for
// 9..20 digits; everything else (punctuation without a letter, 1-2 digits
// national, > 20 digits) -> Invalid.
func KindOf(ton byte, addr []byte) Kind {
	if len(addr) == 0 {
		return Empty
	}
	digits := addr
	intl := ton == TONInternational
	if digits[0] == '+' {
		intl = true
		digits = digits[1:]
	}
	// A number is digits only (a word at a time); otherwise one table load
	// a byte: the classes of all bytes ORed (a control byte anywhere makes
	// the address invalid, whatever else it holds).
	var cls uint8
	if !allDigits(digits) {
		for _, c := range digits {
			cls |= byteClass[c]
		}
	}
	switch {
	case cls&clsControl != 0:
		return Invalid
	case cls&clsLetter != 0 || ton == TONAlphanumeric:
		return Alphanumeric
	}
	return digitsKind(len(digits), intl, cls&clsOther != 0)
}

// digitsKind is KindOf for an address without a letter or control byte:
// n digits after the optional '+' (other: a byte that is not a digit).
func digitsKind(n int, intl, other bool) Kind {
	switch {
	case other || n == 0 || n > maxAddrDigits:
		return Invalid
	case intl:
		return Number
	case n < 3:
		return Invalid
	case n <= 8:
		return ShortCode
	default:
		return Number
	}
}

// Byte classes for KindOf (a digit is 0).
const (
	clsControl uint8 = 1 << iota // < 0x20 or 0x7f
	clsLetter                    // ASCII letters and bytes >= 0x80
	clsOther                     // punctuation, space, '+' after the first byte
)

var byteClass = func() (t [256]uint8) {
	for c := range 256 {
		switch {
		case c >= '0' && c <= '9':
		case c < 0x20 || c == 0x7f:
			t[c] = clsControl
		case c >= 0x80 || (c|0x20 >= 'a' && c|0x20 <= 'z'):
			t[c] = clsLetter
		default:
			t[c] = clsOther
		}
	}
	return t
}()
