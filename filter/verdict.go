// Package filter is smsfw's inspection pipeline. This file holds the
// contract between the proxy and the filters: the request a filter sees and
// the verdict it returns. The proxy carries verdicts out; filters never touch
// sockets.
package filter

import (
	"github.com/smsfw/smsfw/smpp/pdu"
)

// Direction says which way a message travels.
type Direction uint8

const (
	// MT is a message from a peer toward the network (submit_sm, submit_multi, data_sm).
	MT Direction = iota
	// MO is a message from the network toward a peer (deliver_sm, data_sm), receipts included.
	MO
)

func (d Direction) String() string {
	if d == MO {
		return "mo"
	}
	return "mt"
}

// Request is what a filter inspects: one message and who sent it. Msg and
// the byte slices in it alias the PDU and are valid only during the call.
type Request struct {
	Direction Direction
	Peer      string // configured peer name, or the system_id in pass-through mode
	PeerClass string // a2p, p2p, enterprise, ... ("" when unknown)
	SystemID  string
	Msg       *pdu.Message
	// Parts are all segments of a concatenated message in part order (Msg is
	// the first); nil for a single-part message. The verdict applies to every
	// part.
	Parts []*pdu.Message
	// Incomplete is set when the segments were decided on a timeout before
	// all parts arrived.
	Incomplete bool
	// AwaitingAnswers is set (for receipts) when the peer has requests
	// awaiting the SMSC's answer: an unknown receipt id may be one whose
	// submit_sm_resp has not been read yet.
	AwaitingAnswers bool
	// Time is when the message arrived (unix nanos; 0: the inspector reads
	// the clock). The proxy passes the time of the socket read it came in,
	// which spares a clock read per message.
	Time int64
	// Shard is a small number the caller keeps per session (the proxy's
	// read loop's metrics shard): the inspector counts the message on
	// counters of that shard, cache lines the other sessions do not write,
	// so the per-message path shares none between cores.
	Shard uint8
}

// Segments returns the number of segments the verdict covers (rate limits
// and billing count segments, not messages).
func (r *Request) Segments() int {
	if len(r.Parts) > 0 {
		return len(r.Parts)
	}
	return 1
}

// Action is what the proxy does with a message.
type Action uint8

const (
	// Allow relays the message.
	Allow Action = iota
	// Flag relays the message and records the verdict for analysts.
	Flag
	// Reject answers the sender with Verdict.Status and relays nothing.
	Reject
	// Throttle answers with ESME_RTHROTTLED (temporary: the peer retries).
	Throttle
	// Drop accepts the message with a generated message_id and relays nothing;
	// a receipt may follow (Verdict.Receipt).
	Drop
	// Quarantine holds the message for an analyst to release or reject.
	Quarantine
	numActions
)

// NumActions is the number of Action values, for metric arrays.
const NumActions = int(numActions)

var actionNames = [...]string{"allow", "flag", "reject", "throttle", "drop", "quarantine"}

func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return "unknown"
}

// Decisive reports whether the action ends the chain (everything but Allow;
// Flag is decisive too: the first rule that flags explains the record).
func (a Action) Decisive() bool { return a != Allow }

// ReceiptMode says what a dropped message's sender hears later.
type ReceiptMode uint8

const (
	// NoReceipt sends no receipt.
	NoReceipt ReceiptMode = iota
	// ReceiptDelivered sends a fake DELIVRD receipt (silent drop).
	ReceiptDelivered
	// ReceiptFailed sends an UNDELIV receipt.
	ReceiptFailed
)

// Verdict is a filter's decision. The zero value allows.
type Verdict struct {
	Action Action
	// Status answers Reject (default ESME_RSUBMITFAIL for MT, ESME_RX_P_APPN
	// for MO) and Throttle (default ESME_RTHROTTLED).
	Status  pdu.Status
	Receipt ReceiptMode
	// RuleID, Reason and Evidence explain a non-allow verdict.
	RuleID   string
	Reason   string
	Evidence string
	// Event, when set, is the analysts' record of this message: the proxy
	// completes it with what it answered and emits it to its EventSink.
	// Inspectors set it for non-allow verdicts, monitor hits and samples.
	Event *Event
}

// AllowVerdict is the explicit default.
var AllowVerdict = Verdict{Action: Allow}

// Inspector decides on one message. An error means the inspector itself
// failed (a fault, counted and logged); it never means "blocked": the proxy
// then applies its configured fail mode.
type Inspector interface {
	Inspect(r *Request) (Verdict, error)
}

// AllowAll is the inspector used when no policy is loaded.
type AllowAll struct{}

// Inspect allows every message.
func (AllowAll) Inspect(*Request) (Verdict, error) { return AllowVerdict, nil }

// Func adapts a function to Inspector.
type Func func(r *Request) (Verdict, error)

// Inspect calls f.
func (f Func) Inspect(r *Request) (Verdict, error) { return f(r) }

// Detector is one inspection stage: it reads facts (and its own counters)
// and records findings in Detections. Configuration is immutable; counters
// live in state shared across policy reloads. Detect must be safe for
// concurrent use and must not retain f's strings.
type Detector interface {
	Name() string
	Detect(f *Facts, d *Detections, now int64)
}

// AcceptObserver is implemented by inspectors that want the message ids the
// SMSC accepted for a peer (fake-receipt detection). The proxy calls it from
// its read loop for every successful submit_sm/data_sm/submit_multi
// response; id aliases the PDU and is valid only during the call; now is
// the response's arrival time (unix nanos).
type AcceptObserver interface {
	Accepted(peer string, id []byte, now int64)
}
