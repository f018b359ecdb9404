package filter

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"
)

// Event is the analysts' record of one message: every non-allow verdict,
// every monitor-mode hit and a sample of allowed traffic. The inspector
// creates it (it has the facts), the proxy completes it with what it
// answered and hands it to an EventSink; the store persists it. Events are
// built off the allow path only, so they may allocate.
type Event struct {
	ID   int64     `json:"id,string"` // NewEventID: time-ordered, unique per process, node bits across processes
	Time time.Time `json:"time"`      // when the message arrived

	Direction string `json:"direction"` // mt, mo
	Peer      string `json:"peer"`
	SystemID  string `json:"system_id,omitempty"`
	PeerClass string `json:"peer_class,omitempty"` // the route's contracted class
	Class     string `json:"class"`                // a2p, p2p, mo, receipt

	Sender      string `json:"sender"`
	SenderKind  string `json:"sender_kind,omitempty"`
	Dest        string `json:"dest"`
	DestCountry string `json:"dest_country,omitempty"`
	DestCount   int    `json:"dest_count,omitempty"` // submit_multi destinations

	// Text is the decoded text of all parts, or a masked form of it
	// (events.text config); TextMasked says which.
	Text        string      `json:"text"`
	TextMasked  bool        `json:"text_masked,omitempty"`
	DataCoding  int         `json:"data_coding"`
	Segments    int         `json:"segments"`
	Fingerprint Fingerprint `json:"fingerprint"` // SimHash of the normalized text, digits masked (0: none)

	RuleID   string `json:"rule_id"`
	Action   string `json:"action"`            // allow flag reject throttle drop quarantine (Action.String)
	Monitor  bool   `json:"monitor,omitempty"` // a monitor-mode rule matched: Action is what it would have done; the message went on
	Sampled  bool   `json:"sampled,omitempty"` // an allowed message kept as a sample
	Reason   string `json:"reason,omitempty"`
	Evidence string `json:"evidence,omitempty"`
	// Highlight is the part of Text the evidence points at (a keyword, a
	// domain, a lookalike sender is not in Text), for the console.
	Highlight string  `json:"highlight,omitempty"`
	Leakage   float64 `json:"leakage,omitempty"` // estimated revenue lost (grey route)

	// Status is the SMPP command_status the sender got (submit_sm_resp to a
	// peer for MT, deliver_sm_resp to the SMSC for MO).
	Status uint32 `json:"status"`
	// MessageID is the message_id the peer got (the SMSC's for relayed
	// messages, smsfw's own for drop and quarantine).
	MessageID string `json:"message_id,omitempty"`

	// Quarantine state: "" (not quarantined), held, released, rejected, expired.
	Quarantine string `json:"quarantine,omitempty"`
	// UpstreamMessageID is the SMSC's id of a released message.
	UpstreamMessageID string     `json:"upstream_message_id,omitempty"`
	DecidedAt         *time.Time `json:"decided_at,omitempty"` // release / reject / expiry time
	DecidedBy         string     `json:"decided_by,omitempty"`

	// Raw holds the message's PDUs as received (every segment), for release
	// from quarantine and for replay. Kept for quarantined messages always,
	// for the others per KeepsRaw.
	Raw [][]byte `json:"-"`
	// RawMax bounds the PDU bytes Raw keeps for a message that is not
	// quarantined: all of its PDUs when they fit, none otherwise. 0 takes
	// DefaultRawMax; negative keeps none (throttled messages: the peer
	// sends them again).
	RawMax int `json:"-"`

	// Stored, when set, is called once by the sink after the event is
	// durable (err nil) or could not be stored (err non-nil). The proxy uses
	// it to answer a quarantined message only once it is safe on disk.
	Stored func(err error) `json:"-"`
}

// DefaultRawMax is the default of Event.RawMax (events.raw_max_bytes):
// every segment of a long message fits, a 64 KiB message_payload does not.
const DefaultRawMax = 16 << 10

// KeepsRaw says whether an event keeps PDUs of n bytes in all: always when
// quarantined (release needs them), never when its text is masked or
// RawMax is negative, else when n is within RawMax.
func (ev *Event) KeepsRaw(n int) bool {
	switch {
	case ev.Quarantine != "":
		return true
	case ev.TextMasked || ev.RawMax < 0:
		return false
	case ev.RawMax == 0:
		return n <= DefaultRawMax
	}
	return n <= ev.RawMax
}

// eventOverhead approximates an event's memory beside its variable parts:
// the struct, string and slice headers, the allocations' rounding, the
// pointer in the queue.
const eventOverhead = 640

// Size estimates the memory an event holds, in bytes: a constant for the
// struct plus its strings and raw PDUs. It is what the event writer's byte
// budgets count; cheap (no walk beyond the Raw slice headers).
func (ev *Event) Size() int {
	n := eventOverhead + len(ev.Direction) + len(ev.Peer) + len(ev.SystemID) + len(ev.PeerClass) + len(ev.Class) +
		len(ev.Sender) + len(ev.SenderKind) + len(ev.Dest) + len(ev.DestCountry) + len(ev.Text) + len(ev.RuleID) +
		len(ev.Action) + len(ev.Reason) + len(ev.Evidence) + len(ev.Highlight) + len(ev.MessageID) +
		len(ev.Quarantine) + len(ev.UpstreamMessageID) + len(ev.DecidedBy)
	for _, r := range ev.Raw {
		n += 24 + cap(r)
	}
	return n
}

// Quarantine states.
const (
	QuarantineHeld     = "held"
	QuarantineReleased = "released"
	QuarantineRejected = "rejected"
	QuarantineExpired  = "expired"
)

// EventSink takes events off the hot path. Emit must not block: it returns
// false when the event was not queued (the sink is full or closed); it then
// calls ev.Stored(err) itself if Stored is set.
type EventSink interface {
	Emit(ev *Event) bool
}

var (
	lastEventID atomic.Int64
	// eventNode tells this process's ids from another's writing to the same
	// (PostgreSQL) store: random per process.
	eventNode = int64(rand.Uint32() & (1<<eventNodeBits - 1))
)

const (
	eventNodeBits = 10
	eventSeqBits  = 10
)

// NewEventID returns a time-ordered id: unix milliseconds, then a random
// 10-bit node number of this process, then a 10-bit sequence within the
// millisecond (beyond 1024 ids in a millisecond the next millisecond's are
// borrowed). Ids are unique within a process and sort by arrival; two
// processes sharing a store collide only if they drew the same node number
// and used the same millisecond and sequence. Good until the year 2248.
func NewEventID() int64 {
	now := time.Now().UnixMilli()
	for {
		last := lastEventID.Load()
		ms, seq := last>>(eventNodeBits+eventSeqBits), last&(1<<eventSeqBits-1)
		switch {
		case now > ms:
			ms, seq = now, 0
		case seq < 1<<eventSeqBits-1:
			seq++
		default:
			ms, seq = ms+1, 0
		}
		id := ms<<(eventNodeBits+eventSeqBits) | eventNode<<eventSeqBits | seq
		if lastEventID.CompareAndSwap(last, id) {
			return id
		}
	}
}

// Fingerprint is a text fingerprint (SimHash). JSON, the API's filters and
// the console show it in hex.
type Fingerprint uint64

// MarshalText renders fp in hex.
func (fp Fingerprint) MarshalText() ([]byte, error) {
	return strconv.AppendUint(nil, uint64(fp), 16), nil
}

// UnmarshalText reads hex.
func (fp *Fingerprint) UnmarshalText(b []byte) error {
	v, err := strconv.ParseUint(string(b), 16, 64)
	if err != nil {
		return fmt.Errorf("fingerprint %q: not a hex number of at most 16 digits", b)
	}
	*fp = Fingerprint(v)
	return nil
}

// FormatFingerprint renders a fingerprint the way the API and console show it.
func FormatFingerprint[T ~uint64](fp T) string { return strconv.FormatUint(uint64(fp), 16) }

// Override is an analyst's decision the live inspector applies over the
// rules: allow (a false positive) or block a sender, a text fingerprint or a
// sender with a fingerprint. Overrides are stored and survive restarts and
// policy reloads.
type Override struct {
	ID          int64       `json:"id,string"`
	Kind        string      `json:"kind"` // sender, fingerprint, sender_fingerprint
	Sender      string      `json:"sender,omitempty"`
	Fingerprint Fingerprint `json:"fingerprint,omitempty"`
	Action      string      `json:"action"` // allow or block
	Reason      string      `json:"reason"`
	Author      string      `json:"author"`
	EventID     int64       `json:"event_id,string,omitempty"` // the event it was made from
	Created     time.Time   `json:"created"`
	Expires     *time.Time  `json:"expires,omitempty"`
}

// Override kinds and actions.
const (
	OverrideSender            = "sender"
	OverrideFingerprint       = "fingerprint"
	OverrideSenderFingerprint = "sender_fingerprint"
	OverrideAllow             = "allow"
	OverrideBlock             = "block"
)

// OverrideSetter is implemented by inspectors that apply analysts'
// overrides; Set replaces the whole set atomically.
type OverrideSetter interface {
	SetOverrides(o []Override)
}
