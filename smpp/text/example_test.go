package text_test

import (
	"fmt"

	smstext "github.com/smsfw/smsfw/smpp/text"
)

// A submit_sm with esm_class UDHI set: split off the UDH, note the
// concatenation info for reassembly, and decode the text.
func Example() {
	dataCoding := byte(0x08)
	shortMessage := []byte{
		0x05, 0x00, 0x03, 0x2A, 0x02, 0x01, // UDH: part 1 of 2, ref 42
		0x00, 0x48, 0x00, 0x69, 0x00, 0x20, 0xD8, 0x3D, 0xDE, 0x00, // "Hi 😀"
	}

	udhLen, c, hasConcat, err := smstext.ParseUDH(shortMessage)
	if err != nil {
		fmt.Println("bad UDH:", err)
		return
	}
	buf := make([]byte, 0, 256) // pooled in the proxy
	text, err := smstext.Decode(buf, dataCoding, shortMessage[udhLen:])
	fmt.Println(hasConcat, c.Ref, c.Seq, c.Total, smstext.AlphabetOf(dataCoding))
	fmt.Printf("%q %v\n", text, err)
	// Output:
	// true 42 1 2 UCS2
	// "Hi 😀" <nil>
}

func ExampleEncodeGSM7() {
	septets, err := smstext.EncodeGSM7(nil, "Price: 5€")
	fmt.Printf("% X %v\n", septets, err)
	_, err = smstext.EncodeGSM7(nil, "ok 😀")
	fmt.Println(err)
	// Output:
	// 50 72 69 63 65 3A 20 35 1B 65 <nil>
	// smstext: rune not representable in GSM 7-bit alphabet: '😀' at offset 3
}

func ExamplePackGSM7() {
	septets, _ := smstext.EncodeGSM7(nil, "hellohello")
	fmt.Printf("% X\n", smstext.PackGSM7(nil, septets, 0))
	// Output: E8 32 9B FD 46 97 D9 EC 37
}
