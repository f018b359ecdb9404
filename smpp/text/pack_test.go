package text

// The packed GSM 7-bit encoder is test code: SMPP carries GSM 03.38
// unpacked, and smsfw never originates packed text; the tests use it to
// make packed input for DecodeGSM7Packed and UnpackGSM7.

// PackGSM7 appends septets packed seven bits each, least significant bit
// first, to dst, preceded by fillBits (0..6) zero bits so that the first
// septet starts on a septet boundary after a UDH (see FillBits). Only the
// low seven bits of each septet are used. The output is
// ceil((fillBits+7*len(septets))/8) octets, or none for no septets; spare
// bits in the last octet are zero, as for SMS where the UDL counts septets
// (the CR padding rule of 23.038 clause 6.1.2.3.1 applies to USSD and is
// left to the caller).
//
// PackGSM7 panics if fillBits is outside 0..6: that is a programming error,
// not a property of input data.
func PackGSM7(dst []byte, septets []byte, fillBits int) []byte {
	if fillBits < 0 || fillBits > 6 {
		panic("smstext: PackGSM7 fillBits out of range 0..6")
	}
	if len(septets) == 0 {
		return dst
	}
	var acc uint
	nb := fillBits
	for _, s := range septets {
		acc |= uint(s&0x7F) << nb
		nb += 7
		if nb >= 8 {
			dst = append(dst, byte(acc))
			acc >>= 8
			nb -= 8
		}
	}
	if nb > 0 {
		dst = append(dst, byte(acc))
	}
	return dst
}
