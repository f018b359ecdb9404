package pdu

import (
	"errors"
	"strconv"
)

// Sentinel errors of the wire layer. Parse functions return them wrapped in a
// *ParseError that also carries the SMPP status to answer with.
var (
	ErrBadLength  = errors.New("pdu: command_length out of range")
	ErrTruncated  = errors.New("pdu: body truncated")
	ErrMissingNUL = errors.New("pdu: C-octet string without NUL")
	ErrTooLong    = errors.New("pdu: field longer than its maximum")
	ErrBadTLV     = errors.New("pdu: malformed TLV")
	ErrBadValue   = errors.New("pdu: invalid field value")
	ErrNotMessage = errors.New("pdu: command carries no message")
	// ErrDuplicateTLV: a TLV the firewall reads (message_payload, sar_*)
	// occurs more than once; peers disagree on which one counts.
	ErrDuplicateTLV = errors.New("pdu: TLV occurs more than once")
	// ErrConcatConflict: a message carries both a UDH concatenation IE and
	// the sar_* TLVs; peers disagree on which one counts.
	ErrConcatConflict = errors.New("pdu: UDH concatenation and sar_* TLVs together")
)

// ParseError says which field of which PDU was malformed and what status the
// request must be answered with.
type ParseError struct {
	Command CommandID
	Field   string
	Status  Status
	Err     error
}

func (e *ParseError) Error() string {
	return "pdu: " + e.Command.String() + ": " + e.Field + ": " + e.Err.Error()
}

func (e *ParseError) Unwrap() error { return e.Err }

// StatusOf returns the SMPP status to answer a request whose parse failed
// with err: the ParseError's status, ESME_RINVCMDLEN for framing errors,
// otherwise ESME_RSYSERR.
func StatusOf(err error) Status {
	var pe *ParseError
	if errors.As(err, &pe) {
		return pe.Status
	}
	var fe *FrameError
	if errors.As(err, &fe) {
		return StatusInvCmdLen
	}
	return StatusSysErr
}

// FrameError is a framing failure: the header was readable (so a
// generic_nack can echo the sequence number) but the length is not
// acceptable. The connection cannot be resynchronised and must be closed.
type FrameError struct {
	Length uint32
	ID     CommandID
	Seq    uint32
	Max    int
}

func (e *FrameError) Error() string {
	return "pdu: command_length " + strconv.FormatUint(uint64(e.Length), 10) +
		" outside [16, " + strconv.Itoa(e.Max) + "]"
}

func (e *FrameError) Unwrap() error { return ErrBadLength }
