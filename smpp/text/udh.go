package text

// Information element identifiers for concatenated short messages
// (3GPP TS 23.040 clause 9.2.3.24.1 and 9.2.3.24.8).
const (
	ieiConcat8  = 0x00
	ieiConcat16 = 0x08
)

// Concat is the concatenated-short-message information element of a UDH:
// the parts of one long message share Ref (and the originator/recipient
// pair) and are numbered Seq = 1..Total. The firewall reassembles on it so
// that content split across parts cannot slip past the rules.
type Concat struct {
	Ref   uint16 // reference number, 0..255 unless Ref16
	Total uint8  // number of parts, >= 1
	Seq   uint8  // this part, 1..Total
	Ref16 bool   // true for IEI 0x08 (16-bit reference)
}

// ParseUDH validates the user data header at the start of ud (the UDHL
// octet followed by information elements as IEI, length, data) and returns
// its length in octets including the UDHL octet, and the concatenation IE
// if there is one (IEI 0x00 with an 8-bit reference and 3 data octets, or
// IEI 0x08 with a 16-bit reference and 4).
//
// Every failure wraps ErrBadUDH: an empty ud, a UDHL beyond ud, an IE whose
// header or data runs past the UDH, a concatenation IE with the wrong
// length, Total 0, Seq 0 or Seq > Total, or more than one concatenation
// IE. 23.040 tells a handset to ignore a concatenation IE with a bad
// sequence number and to use the last of repeated IEs, but a firewall that
// followed a different copy than the handset could be evaded, so such
// headers are reported and policy decides. Other IEs are skipped without
// interpretation.
//
// When the UDHL octet itself fits in ud, udhLen is returned even with an
// error, so a caller can still skip the header and inspect the text;
// otherwise it is 0. c and hasConcat are only set when err is nil.
// ParseUDH does not allocate.
func ParseUDH(ud []byte) (udhLen int, c Concat, hasConcat bool, err error) {
	if len(ud) == 0 {
		return 0, Concat{}, false, errUDHEmpty
	}
	udhLen = 1 + int(ud[0])
	if udhLen > len(ud) {
		return 0, Concat{}, false, errUDHLen
	}
	for ies := ud[1:udhLen]; len(ies) > 0; {
		if len(ies) < 2 {
			return udhLen, Concat{}, false, errIEHeader
		}
		iei, n := ies[0], int(ies[1])
		if 2+n > len(ies) {
			return udhLen, Concat{}, false, errIELen
		}
		data := ies[2 : 2+n]
		ies = ies[2+n:]
		if iei != ieiConcat8 && iei != ieiConcat16 {
			continue
		}
		if hasConcat {
			return udhLen, Concat{}, false, errConcatRepeat
		}
		switch {
		case iei == ieiConcat8 && n == 3:
			c = Concat{Ref: uint16(data[0]), Total: data[1], Seq: data[2]}
		case iei == ieiConcat16 && n == 4:
			c = Concat{Ref: uint16(data[0])<<8 | uint16(data[1]), Total: data[2], Seq: data[3], Ref16: true}
		default:
			return udhLen, Concat{}, false, errConcatLen
		}
		if c.Total == 0 {
			return udhLen, Concat{}, false, errConcatTotal
		}
		if c.Seq == 0 || c.Seq > c.Total {
			return udhLen, Concat{}, false, errConcatSeq
		}
		hasConcat = true
	}
	return udhLen, c, hasConcat, nil
}

// FillBits returns the number of padding bits between a UDH of udhLen
// octets (including the UDHL octet) and the first GSM 7-bit septet, which
// 23.040 aligns to a septet boundary counted from the start of the user
// data: (7 - (udhLen*8)%7) % 7. It is 0 for udhLen <= 0.
func FillBits(udhLen int) int {
	if udhLen <= 0 {
		return 0
	}
	return (7 - (udhLen*8)%7) % 7
}
