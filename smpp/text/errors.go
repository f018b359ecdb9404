package text

import (
	"errors"
	"strconv"
)

// Sentinel errors. Callers should test with errors.Is: several of them are
// returned wrapped with more detail.
var (
	// ErrNotText is returned by Decode for data_coding values whose payload
	// is not text this package can render (8-bit binary, unsupported
	// national character sets). Reserved values decode as GSM 7-bit. The firewall should
	// treat such messages as opaque rather than as empty text.
	ErrNotText = errors.New("smstext: data coding is not decodable text")

	// ErrNotGSM7 is wrapped by *EncodeError when a rune has no
	// representation in the GSM 03.38 default alphabet or its basic
	// extension table.
	ErrNotGSM7 = errors.New("smstext: rune not representable in GSM 7-bit alphabet")

	// ErrNotLatin1 is wrapped by *EncodeError when a rune is above U+00FF.
	ErrNotLatin1 = errors.New("smstext: rune not representable in Latin-1")

	// ErrBadUDH is wrapped by every ParseUDH failure.
	ErrBadUDH = errors.New("smstext: malformed user data header")

	// ErrTruncated means the user data ends before the announced content:
	// fewer packed bits than the septet count needs, or an odd number of
	// UCS-2 octets. The accompanying output still holds everything that
	// could be decoded.
	ErrTruncated = errors.New("smstext: user data truncated")

	// ErrFillBits is returned by DecodeGSM7Packed for a fill bit count
	// outside 0..6. Use FillBits to compute it.
	ErrFillBits = errors.New("smstext: fill bits out of range 0..6")
)

// Detailed UDH errors, preallocated so that rejecting hostile input on the
// hot path does not allocate.
var (
	errUDHEmpty     = wrap(ErrBadUDH, "no UDHL octet")
	errUDHLen       = wrap(ErrBadUDH, "UDHL exceeds user data")
	errIEHeader     = wrap(ErrBadUDH, "truncated information element header")
	errIELen        = wrap(ErrBadUDH, "information element exceeds UDH")
	errConcatLen    = wrap(ErrBadUDH, "concatenation IE has wrong length")
	errConcatTotal  = wrap(ErrBadUDH, "concatenation IE total is zero")
	errConcatSeq    = wrap(ErrBadUDH, "concatenation IE sequence out of range")
	errConcatRepeat = wrap(ErrBadUDH, "more than one concatenation IE")
)

type wrappedError struct {
	err error
	msg string
}

func wrap(err error, detail string) error {
	return &wrappedError{err: err, msg: err.Error() + ": " + detail}
}

func (e *wrappedError) Error() string { return e.msg }
func (e *wrappedError) Unwrap() error { return e.err }

// EncodeError reports the first rune an encoder could not represent. It
// carries the rune and its byte offset in the input so that callers (for
// example a simulator choosing between GSM 7-bit and UCS-2) can report or
// act on it; errors.Is(err, ErrNotGSM7) / ErrNotLatin1 identifies the target
// alphabet.
type EncodeError struct {
	Alphabet Alphabet // GSM7 or Latin1
	Rune     rune     // offending rune; utf8.RuneError for invalid UTF-8
	Offset   int      // byte offset of the rune in the input string
}

func (e *EncodeError) Error() string {
	return e.Unwrap().Error() + ": " + strconv.QuoteRune(e.Rune) + " at offset " + strconv.Itoa(e.Offset)
}

// Unwrap returns the sentinel for the target alphabet.
func (e *EncodeError) Unwrap() error {
	if e.Alphabet == Latin1 {
		return ErrNotLatin1
	}
	return ErrNotGSM7
}
