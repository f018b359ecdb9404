package interop

import (
	"fmt"
	"strings"
	"testing"

	"github.com/smsfw/smsfw/smpp/pdu"
)

// The taps' checks are the oracle of every interop test: these tests feed
// them recorded traffic with one fault each and check that the fault is
// reported, and that clean traffic is not.

// errRecorder is a reporter that keeps what the checks report.
type errRecorder struct{ errs []string }

func (r *errRecorder) Helper() {}
func (r *errRecorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// frame is one PDU as a tap would see it: from the client (up) or from
// the server.
type frame struct {
	up bool
	p  []byte
}

// c is a request or response from the client, s one from the server;
// text is the short_message of a submit_sm or deliver_sm, or the
// message_id of a response to one.
func c(id pdu.CommandID, seq uint32, text string) frame {
	return frame{up: true, p: fakePDU(id, seq, text)}
}
func s(id pdu.CommandID, seq uint32, text string) frame { return frame{p: fakePDU(id, seq, text)} }

func fakePDU(id pdu.CommandID, seq uint32, text string) []byte {
	switch {
	case id == pdu.SubmitSMResp || id == pdu.DeliverSMResp:
		return pdu.AppendResp(nil, id.Request(), 0, seq, text)
	case id == pdu.SubmitSM || id == pdu.DeliverSM:
		return pdu.AppendSM(nil, id, seq, &pdu.SMFields{Src: "12345", Dst: "4915112345678", ShortMessage: []byte(text)})
	default:
		return pdu.AppendHeaderOnly(nil, id, 0, seq)
	}
}

// fakeTap is a tap that saw frames on one connection, in that order.
func fakeTap(frames ...frame) *tap {
	tp := &tap{}
	tc := newTapConn()
	tp.conns = []*tapConn{tc}
	for _, f := range frames {
		tp.record(tc, f.p, f.up)
	}
	return tp
}

func TestTapChecks(t *testing.T) {
	for _, tc := range []struct {
		name   string
		frames []frame
		want   []string // substrings of the errors, one each; none for clean traffic
	}{
		{"clean", []frame{c(pdu.BindTransceiver, 1, ""), s(pdu.BindTransceiverResp, 1, ""), c(pdu.SubmitSM, 2, "a"),
			s(pdu.DeliverSM, 2, "mo"), c(pdu.DeliverSMResp, 2, ""), s(pdu.SubmitSMResp, 2, "1001"),
			c(pdu.Unbind, 3, ""), s(pdu.UnbindResp, 3, "")}, nil},
		{"answers out of order", []frame{c(pdu.SubmitSM, 2, "a"), c(pdu.SubmitSM, 3, "b"), s(pdu.SubmitSMResp, 3, "1002"),
			s(pdu.SubmitSMResp, 2, "1001")}, nil},
		{"sequence number used again once answered", []frame{c(pdu.SubmitSM, 2, "a"), s(pdu.SubmitSMResp, 2, "1001"),
			c(pdu.SubmitSM, 2, "b"), s(pdu.SubmitSMResp, 2, "1002")}, nil},
		{"generic_nack answers", []frame{c(pdu.SubmitSM, 2, "a"), s(pdu.GenericNack, 2, "")}, nil},
		{"no answer expected", []frame{s(pdu.AlertNotification, 5, "")}, nil},
		{"unanswered", []frame{c(pdu.SubmitSM, 2, "a"), c(pdu.SubmitSM, 3, "b"), s(pdu.SubmitSMResp, 3, "1001")},
			[]string{"the client's submit_sm seq 2 never answered"}},
		{"the server's request unanswered", []frame{s(pdu.DeliverSM, 7, "mo")},
			[]string{"the server's deliver_sm seq 7 never answered"}},
		{"answered twice", []frame{c(pdu.SubmitSM, 2, "a"), s(pdu.SubmitSMResp, 2, "1001"), s(pdu.SubmitSMResp, 2, "1001")},
			[]string{"server→client: submit_sm_resp seq 2 answers no open request"}},
		{"answer to nothing", []frame{s(pdu.DeliverSMResp, 7, "")},
			[]string{"server→client: deliver_sm_resp seq 7 answers no open request"}},
		{"answer in the wrong direction", []frame{c(pdu.SubmitSM, 2, "a"), c(pdu.SubmitSMResp, 2, "1001")},
			[]string{"client→server: submit_sm_resp seq 2 answers no open request", "the client's submit_sm seq 2 never answered"}},
		{"wrong command", []frame{c(pdu.SubmitSM, 2, "a"), s(pdu.DataSMResp, 2, "")},
			[]string{"data_sm_resp seq 2 answers a submit_sm"}},
		{"sequence number reused in flight", []frame{c(pdu.SubmitSM, 2, "a"), c(pdu.SubmitSM, 2, "b"), s(pdu.SubmitSMResp, 2, "1001")},
			[]string{"submit_sm seq 2 sent while submit_sm seq 2 is unanswered"}},
		{"unbind_resp before the answers", []frame{c(pdu.SubmitSM, 2, "a"), c(pdu.Unbind, 3, ""), s(pdu.UnbindResp, 3, ""),
			s(pdu.SubmitSMResp, 2, "1001")},
			[]string{"server→client: unbind_resp seq 3 before the answers to 1 request(s) in flight at the unbind: submit_sm seq 2"}},
		{"the SMSC's unbind_resp before the answers", []frame{s(pdu.DeliverSM, 9, "mo"), s(pdu.Unbind, 10, ""),
			c(pdu.UnbindResp, 10, ""), c(pdu.DeliverSMResp, 9, "")},
			[]string{"client→server: unbind_resp seq 10 before the answers to 1 request(s) in flight at the unbind: deliver_sm seq 9"}},
		{"a request after the unbind may wait", []frame{c(pdu.SubmitSM, 2, "a"), s(pdu.SubmitSMResp, 2, "1001"), c(pdu.Unbind, 3, ""),
			c(pdu.EnquireLink, 4, ""), s(pdu.UnbindResp, 3, ""), s(pdu.EnquireLinkResp, 4, "")}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r errRecorder
			fakeTap(tc.frames...).check(&r, "tap")
			checkReported(t, r.errs, tc.want)
		})
	}
}

// TestRelayChecks feeds legs.checkRelayed a peer leg and an SMSC leg as
// smsfw would have relayed them, with one fault each.
func TestRelayChecks(t *testing.T) {
	// The peer's leg: two submit_sm and their answers, one MO and its answer.
	peer := fakeTap(c(pdu.SubmitSM, 2, "first"), c(pdu.SubmitSM, 3, "second"), s(pdu.SubmitSMResp, 2, "1001"),
		s(pdu.SubmitSMResp, 3, "1002"), s(pdu.DeliverSM, 1, "mo"), c(pdu.DeliverSMResp, 1, ""))
	toSMSC := []pdu.CommandID{pdu.SubmitSM, pdu.DeliverSMResp}
	toPeer := []pdu.CommandID{pdu.SubmitSMResp, pdu.DeliverSM}
	for _, tc := range []struct {
		name string
		smsc []frame // smsfw's leg to the SMSC
		want []string
	}{
		{"same bytes, other sequence numbers and order", []frame{c(pdu.SubmitSM, 8, "second"), c(pdu.SubmitSM, 9, "first"),
			s(pdu.SubmitSMResp, 9, "1001"), s(pdu.SubmitSMResp, 8, "1002"), s(pdu.DeliverSM, 77, "mo"), c(pdu.DeliverSMResp, 77, "")}, nil},
		{"request lost", []frame{c(pdu.SubmitSM, 8, "second"), s(pdu.SubmitSMResp, 8, "1002"), s(pdu.DeliverSM, 77, "mo"),
			c(pdu.DeliverSMResp, 77, "")}, []string{
			"submit_sm from the peer to the SMSC: 1 of 2 sent PDUs missing or changed, 0 unexpected received",
			// The peer's answer 1001 was given by no SMSC.
			"submit_sm_resp from the SMSC to the peer: 0 of 1 sent PDUs missing or changed, 1 unexpected received",
			"submit_sm from the peer to the SMSC: 1 of 2 requests got another answer"}},
		{"request altered", []frame{c(pdu.SubmitSM, 8, "second"), c(pdu.SubmitSM, 9, "firsT"), s(pdu.SubmitSMResp, 9, "1001"),
			s(pdu.SubmitSMResp, 8, "1002"), s(pdu.DeliverSM, 77, "mo"), c(pdu.DeliverSMResp, 77, "")}, []string{
			"submit_sm from the peer to the SMSC: 1 of 2 sent PDUs missing or changed, 1 unexpected received",
			"submit_sm from the peer to the SMSC: 1 of 2 requests got another answer"}},
		{"request duplicated", []frame{c(pdu.SubmitSM, 7, "first"), c(pdu.SubmitSM, 8, "second"), c(pdu.SubmitSM, 9, "first"),
			s(pdu.SubmitSMResp, 7, "1001"), s(pdu.SubmitSMResp, 8, "1002"), s(pdu.SubmitSMResp, 9, "1003"),
			s(pdu.DeliverSM, 77, "mo"), c(pdu.DeliverSMResp, 77, "")}, []string{
			"submit_sm from the peer to the SMSC: 0 of 2 sent PDUs missing or changed, 1 unexpected received",
			"submit_sm_resp from the SMSC to the peer: 1 of 3 sent PDUs missing or changed, 0 unexpected received"}},
		{"answers swapped", []frame{c(pdu.SubmitSM, 8, "first"), c(pdu.SubmitSM, 9, "second"), s(pdu.SubmitSMResp, 8, "1002"),
			s(pdu.SubmitSMResp, 9, "1001"), s(pdu.DeliverSM, 77, "mo"), c(pdu.DeliverSMResp, 77, "")}, []string{
			"submit_sm from the peer to the SMSC: 2 of 2 requests got another answer than the other side gave to their copy"}},
		{"delivery lost", []frame{c(pdu.SubmitSM, 8, "first"), c(pdu.SubmitSM, 9, "second"), s(pdu.SubmitSMResp, 8, "1001"),
			s(pdu.SubmitSMResp, 9, "1002")}, []string{
			"deliver_sm from the SMSC to the peer: 0 of 0 sent PDUs missing or changed, 1 unexpected received",
			"deliver_sm_resp from the peer to the SMSC: 1 of 1 sent PDUs missing or changed, 0 unexpected received"}},
		{"delivery answered by smsfw, not relayed", []frame{c(pdu.SubmitSM, 8, "first"), c(pdu.SubmitSM, 9, "second"),
			s(pdu.SubmitSMResp, 8, "1001"), s(pdu.SubmitSMResp, 9, "1002"), s(pdu.DeliverSM, 77, "mo"), c(pdu.DeliverSMResp, 77, "x")}, []string{
			"deliver_sm_resp from the peer to the SMSC: 1 of 1 sent PDUs missing or changed, 1 unexpected received",
			"deliver_sm from the SMSC to the peer: 1 of 1 requests got another answer"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r errRecorder
			legs{peer: peer, smsc: fakeTap(tc.smsc...)}.checkRelayed(&r, "relay", toSMSC, toPeer)
			checkReported(t, r.errs, tc.want)
		})
	}

	// Requests with the same bytes may get their answers in either order.
	same := fakeTap(c(pdu.SubmitSM, 2, "same"), c(pdu.SubmitSM, 3, "same"), s(pdu.SubmitSMResp, 2, "1001"), s(pdu.SubmitSMResp, 3, "1002"))
	crossed := fakeTap(c(pdu.SubmitSM, 5, "same"), c(pdu.SubmitSM, 6, "same"), s(pdu.SubmitSMResp, 5, "1002"), s(pdu.SubmitSMResp, 6, "1001"))
	var r errRecorder
	legs{peer: same, smsc: crossed}.checkRelayed(&r, "relay", []pdu.CommandID{pdu.SubmitSM}, []pdu.CommandID{pdu.SubmitSMResp})
	checkReported(t, r.errs, nil)
}

// checkReported checks that errs are exactly one error containing each
// of want.
func checkReported(t *testing.T, errs, want []string) {
	t.Helper()
	if len(errs) != len(want) {
		t.Errorf("%d error(s) reported, want %d:\n  %s", len(errs), len(want), strings.Join(errs, "\n  "))
	}
	for _, w := range want {
		found := false
		for _, e := range errs {
			found = found || strings.Contains(e, w)
		}
		if !found {
			t.Errorf("no error contains %q; got:\n  %s", w, strings.Join(errs, "\n  "))
		}
	}
}
