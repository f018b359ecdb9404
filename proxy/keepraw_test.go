package proxy

import (
	"bytes"
	"testing"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// keepRaw keeps every PDU of a message or none: quarantine always (release
// needs them), others within RawMax, never for a throttle or masked text.
func TestKeepRaw(t *testing.T) {
	seg := func(n int) pdu.PDU {
		return pdu.PDU(pdu.AppendSM(nil, pdu.SubmitSM, 1, &pdu.SMFields{Src: "1", Dst: "2", ShortMessage: bytes.Repeat([]byte("x"), n)}))
	}
	small, big := seg(100), pdu.PDU(pdu.AppendSM(nil, pdu.SubmitSM, 1, &pdu.SMFields{Src: "1", Dst: "2",
		TLVs: pdu.AppendTLV(nil, pdu.TagMessagePayload, bytes.Repeat([]byte("x"), 60_000))}))
	for _, tc := range []struct {
		name string
		ev   filter.Event
		ps   []pdu.PDU
		want int // PDUs kept
	}{
		{"default cap, small", filter.Event{}, []pdu.PDU{small}, 1},
		{"default cap, 60 KB payload", filter.Event{}, []pdu.PDU{big}, 0},
		{"quarantine keeps a 60 KB payload", filter.Event{Quarantine: filter.QuarantineHeld, RawMax: -1, TextMasked: true}, []pdu.PDU{big}, 1},
		{"throttle", filter.Event{RawMax: -1}, []pdu.PDU{small}, 0},
		{"masked text", filter.Event{TextMasked: true}, []pdu.PDU{small}, 0},
		{"segments within the cap", filter.Event{RawMax: 1000}, []pdu.PDU{small, small, small}, 3},
		{"segments beyond the cap", filter.Event{RawMax: 300}, []pdu.PDU{small, small, small}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := tc.ev
			keepRaw(&ev, tc.ps...)
			if len(ev.Raw) != tc.want {
				t.Fatalf("kept %d PDUs, want %d", len(ev.Raw), tc.want)
			}
			for i, r := range ev.Raw {
				if !bytes.Equal(r, tc.ps[i]) || &r[0] == &tc.ps[i][0] {
					t.Fatalf("PDU %d not an exact copy", i)
				}
			}
			if tc.want == 0 {
				// The proxy calls again with the first part alone when it
				// applies the verdict: it must not keep a part of a message.
				keepRaw(&ev, tc.ps[0])
				if ev.Raw != nil {
					t.Fatal("a later call kept part of a refused message")
				}
			}
		})
	}
}
