package filter

import "github.com/smsfw/smsfw/filter/counters"

// Message classes.
const (
	ClassA2P     = "a2p"
	ClassP2P     = "p2p"
	ClassMO      = "mo"
	ClassReceipt = "receipt"
)

// Peer classes: what a route is contracted and billed as (a peer's class in
// the configuration, msg.peer_class).
const (
	PeerA2P          = "a2p"          // application-to-person aggregators
	PeerP2P          = "p2p"          // person-to-person routes (billed as retail P2P)
	PeerEnterprise   = "enterprise"   // a business's own connection
	PeerInterconnect = "interconnect" // another operator's or a hub's interconnect
	PeerMNO          = "mno"          // the home network's own core: the operator's subscribers
)

// PeerClasses lists the peer classes.
var PeerClasses = []string{PeerA2P, PeerP2P, PeerEnterprise, PeerInterconnect, PeerMNO}

// BilledAsP2P reports whether traffic on a peer of this class is billed as
// person-to-person: A2P traffic on it is a grey route.
func BilledAsP2P(class string) bool { return class == PeerP2P || class == PeerMNO }

// Sender kinds.
const (
	KindAlphanumeric = "alphanumeric"
	KindShortCode    = "shortcode"
	KindNumber       = "number"
	KindEmpty        = "empty"
)

// Facts are computed once per message from the request and shared by every
// detector and rule; detectors read facts and counters, they do not parse
// PDUs. Field tags are the names rule expressions use (msg.sender, ...).
//
// The strings alias the PDU and a scratch buffer without copying: they are
// valid only while the message is inspected. Anything kept longer (counter
// keys, evidence) must be hashed or cloned.
type Facts struct {
	Direction string `expr:"direction" json:"direction"` // "mt" or "mo"
	Peer      string `expr:"peer" json:"peer"`
	PeerClass string `expr:"peer_class" json:"peer_class"` // the route's contracted class: a2p, p2p, enterprise, interconnect
	SystemID  string `expr:"system_id" json:"system_id"`
	Receipt   bool   `expr:"receipt" json:"receipt"`       // a delivery receipt (deliver_sm / data_sm with esm_class receipt bits)
	ReceiptID string `expr:"receipt_id" json:"receipt_id"` // the message id a receipt refers to (TLV, else the text's id:)

	// Number facts (country, type, validity) come from libphonenumber. A
	// number seen for the first time gets its country from the calling code
	// at once and is parsed off the hot path: its type and validity are
	// known from the next message on (Valid false, Type "" until then).
	// The sender's are computed only when something reads them
	// (OnDemandFacts).
	Sender        string `expr:"sender" json:"sender"`
	SenderKind    string `expr:"sender_kind" json:"sender_kind"` // alphanumeric, shortcode, number, empty
	SenderCountry string `expr:"sender_country" json:"sender_country"`
	SenderType    string `expr:"sender_type" json:"sender_type"` // mobile, fixed_line, premium_rate, ... ("" unknown)
	SenderValid   bool   `expr:"sender_valid" json:"sender_valid"`

	Dest        string `expr:"dest" json:"dest"`
	DestCountry string `expr:"dest_country" json:"dest_country"`
	DestType    string `expr:"dest_type" json:"dest_type"`
	DestValid   bool   `expr:"dest_valid" json:"dest_valid"`
	DestPremium bool   `expr:"dest_premium" json:"dest_premium"` // in the policy's premium / high-cost ranges
	DestCount   int    `expr:"dest_count" json:"dest_count"`     // submit_multi destinations (1 otherwise)

	DataCoding int    `expr:"dcs" json:"dcs"`
	Binary     bool   `expr:"binary" json:"binary"` // 8-bit data: no text
	Text       string `expr:"text" json:"text"`     // decoded text of all parts, UDH removed
	Norm       string `expr:"text_norm" json:"text_norm"`
	// NormStarts are the offsets in Norm where a whole word can start
	// (textscan.WordStarts), shared by the keyword matchers that run over
	// Norm (nil: each finds them itself). Aliases scratch memory like Norm.
	NormStarts []int32 `expr:"-" json:"-"`
	Segments   int     `expr:"segments" json:"segments"`
	Incomplete bool    `expr:"incomplete" json:"incomplete"` // decided before every part arrived
	// AwaitingAnswers: the peer has requests awaiting the SMSC's answer.
	AwaitingAnswers bool `expr:"awaiting_answers" json:"awaiting_answers"`

	// Text shape (textscan.ShapeOf): words, and numbers that read as a
	// one-time code (4-8 digits) or a phone number (9-15 digits), e-mail
	// addresses: a callback number or address makes a text actionable.
	Words  int `expr:"words" json:"words"`
	Codes  int `expr:"codes" json:"codes"`
	Phones int `expr:"phones" json:"phones"`
	Emails int `expr:"emails" json:"emails"`
	Money  int `expr:"money" json:"money"` // currencies beside amounts
	// Handoffs: messengers named to move the talk off SMS (WhatsApp, ...).
	Handoffs int `expr:"handoffs" json:"handoffs"`

	URLCount    int    `expr:"url_count" json:"url_count"`
	FirstDomain string `expr:"domain" json:"domain"` // registrable domain of the first URL
	Fingerprint uint64 `expr:"-" json:"fingerprint"`

	Class string `expr:"class" json:"class"` // a2p, p2p, mo, receipt

	// Hashes of sender, destination and peer, computed on first use (see
	// SenderHash): several detectors key counters on them; and the same
	// passed through counters.Mix (see SenderMix), for the keys that
	// combine them.
	senderKey, destKey, peerKey uint64
	senderMix, destMix, peerMix uint64
	// ClassReasons is a bit set of Reason* values explaining Class.
	ClassReasons uint32 `expr:"-" json:"-"`
}

// Reasons behind a classification.
const (
	ReasonAlphaSender uint32 = 1 << iota
	ReasonShortCode
	ReasonBinaryCoding
	ReasonTemplateFanout
	ReasonSenderVelocity
	ReasonURL
	ReasonMultiDest
	ReasonConsumerProfile
	ReasonBusinessText
)

var reasonNames = []string{"alphanumeric_sender", "short_code_sender", "binary_or_flash_coding",
	"template_to_many_recipients", "sender_velocity", "contains_url", "multiple_destinations",
	"consumer_profile", "business_text"}

// ReasonNames lists the reasons in r (for evidence, not the hot path).
func ReasonNames(r uint32) []string {
	var out []string
	for i, n := range reasonNames {
		if r&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// SenderHash returns counters.KeyString(f.Sender), computed once per message.
func (f *Facts) SenderHash() uint64 {
	if f.senderKey != 0 { // the accessors inline to this test
		return f.senderKey
	}
	f.senderKey = counters.KeyString1(f.Sender)
	return f.senderKey
}

// DestHash returns counters.KeyString(f.Dest), computed once per message.
func (f *Facts) DestHash() uint64 {
	if f.destKey != 0 {
		return f.destKey
	}
	f.destKey = counters.KeyString1(f.Dest)
	return f.destKey
}

// PeerHash returns counters.KeyString(f.Peer), computed once per message.
func (f *Facts) PeerHash() uint64 {
	if f.peerKey != 0 {
		return f.peerKey
	}
	f.peerKey = counters.KeyString1(f.Peer)
	return f.peerKey
}

// SenderMix returns counters.Mix(f.SenderHash()), computed once per
// message: counters.KeyMixed2(f.SenderMix(), f.PeerMix()) is
// counters.KeyUint64(f.SenderHash(), f.PeerHash()) without mixing either
// again (rate limits, sender ID and pumping key on the same parts).
func (f *Facts) SenderMix() uint64 {
	if f.senderMix != 0 {
		return f.senderMix
	}
	return f.mixSender()
}

// DestMix returns counters.Mix(f.DestHash()), computed once per message.
func (f *Facts) DestMix() uint64 {
	if f.destMix != 0 {
		return f.destMix
	}
	return f.mixDest()
}

// PeerMix returns counters.Mix(f.PeerHash()), computed once per message.
func (f *Facts) PeerMix() uint64 {
	if f.peerMix != 0 {
		return f.peerMix
	}
	return f.mixPeer()
}

func (f *Facts) mixSender() uint64 {
	f.senderMix = counters.Mix(f.SenderHash())
	return f.senderMix
}

func (f *Facts) mixDest() uint64 {
	f.destMix = counters.Mix(f.DestHash())
	return f.destMix
}

func (f *Facts) mixPeer() uint64 {
	f.peerMix = counters.Mix(f.PeerHash())
	return f.peerMix
}
