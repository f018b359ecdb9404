package filter

import "github.com/smsfw/smsfw/filter/counters"

// Message classes.
const (
	ClassA2P     = "a2p"
	ClassP2P     = "p2p"
	ClassMO      = "mo"
	ClassReceipt = "receipt"
)

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
	Segments   int    `expr:"segments" json:"segments"`
	Incomplete bool   `expr:"incomplete" json:"incomplete"` // decided before every part arrived
	// AwaitingAnswers: the peer has requests awaiting the SMSC's answer.
	AwaitingAnswers bool `expr:"awaiting_answers" json:"awaiting_answers"`

	URLCount    int    `expr:"url_count" json:"url_count"`
	FirstDomain string `expr:"domain" json:"domain"` // registrable domain of the first URL
	Fingerprint uint64 `expr:"-" json:"fingerprint"`

	Class string `expr:"class" json:"class"` // a2p, p2p, mo, receipt

	// Hashes of sender, destination and peer, computed on first use (see
	// SenderHash): several detectors key counters on them.
	senderKey, destKey, peerKey uint64
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
)

var reasonNames = []string{"alphanumeric_sender", "short_code_sender", "binary_or_flash_coding",
	"template_to_many_recipients", "sender_velocity", "contains_url", "multiple_destinations",
	"consumer_profile"}

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

// Detections are the detectors' findings for one message, read by rules as
// det.<name>. Numbers carry the counter value behind a finding.
type Detections struct {
	GreyRoute     bool    `expr:"grey_route" json:"grey_route"`         // A2P traffic on a route billed as P2P
	LeakageAmount float64 `expr:"leakage_amount" json:"leakage_amount"` // estimated revenue lost on this message

	SenderSpoofed   bool   `expr:"sender_spoofed" json:"sender_spoofed"`     // a protected sender ID from a peer not allowed to use it
	SenderLookalike bool   `expr:"sender_lookalike" json:"sender_lookalike"` // a near copy of a protected sender ID
	ProtectedSender string `expr:"protected_sender" json:"protected_sender"` // the registry entry involved

	Keyword        bool   `expr:"keyword" json:"keyword"` // a blocked keyword
	KeywordHit     string `expr:"keyword_hit" json:"keyword_hit"`
	Regex          bool   `expr:"regex" json:"regex"`
	RegexHit       string `expr:"regex_hit" json:"regex_hit"`
	BlockedDomain  bool   `expr:"blocked_domain" json:"blocked_domain"`
	AllowedDomains bool   `expr:"allowed_domains" json:"allowed_domains"` // every URL's domain is on the allow list
	Phishing       bool   `expr:"phishing" json:"phishing"`               // shortener + brand word, IP-literal URL, lookalike domain
	PhishingWhy    string `expr:"phishing_why" json:"phishing_why"`

	Campaign         bool `expr:"campaign" json:"campaign"`                   // one fingerprint from many senders
	CampaignSenders  int  `expr:"campaign_senders" json:"campaign_senders"`   // distinct senders of this fingerprint in the window
	Fanout           bool `expr:"fanout" json:"fanout"`                       // one P2P sender to many recipients
	FanoutRecipients int  `expr:"fanout_recipients" json:"fanout_recipients"` // distinct recipients of this sender in the window

	Pumping        bool   `expr:"pumping" json:"pumping"` // artificially inflated traffic
	PumpingWhy     string `expr:"pumping_why" json:"pumping_why"`
	PremiumBurst   int    `expr:"premium_burst" json:"premium_burst"`       // messages to premium ranges from this peer in the window
	SequentialRun  int    `expr:"sequential_run" json:"sequential_run"`     // consecutive destination numbers
	NewDestCountry bool   `expr:"new_dest_country" json:"new_dest_country"` // a country this peer never sent to before

	SIMFarm   bool `expr:"sim_farm" json:"sim_farm"`     // many MSISDNs sending one text to one short code
	MOSenders int  `expr:"mo_senders" json:"mo_senders"` // distinct MO senders of this text to this destination
	MOSpam    bool `expr:"mo_spam" json:"mo_spam"`

	FakeReceipt bool `expr:"fake_receipt" json:"fake_receipt"` // a receipt for a message id never accepted for this peer
	// ReceiptEarly: a receipt for an id not known yet while the peer has
	// messages awaiting the SMSC's answer (the receipt may have overtaken
	// its submit_sm_resp); refuse it temporarily, never deliver it.
	ReceiptEarly bool `expr:"receipt_early" json:"receipt_early"`

	RateLimited bool   `expr:"rate_limited" json:"rate_limited"`
	LimitID     string `expr:"limit_id" json:"limit_id"`
}

// SenderHash returns counters.KeyString(f.Sender), computed once per message.
func (f *Facts) SenderHash() uint64 {
	if f.senderKey == 0 {
		f.senderKey = counters.KeyString(f.Sender)
	}
	return f.senderKey
}

// DestHash returns counters.KeyString(f.Dest), computed once per message.
func (f *Facts) DestHash() uint64 {
	if f.destKey == 0 {
		f.destKey = counters.KeyString(f.Dest)
	}
	return f.destKey
}

// PeerHash returns counters.KeyString(f.Peer), computed once per message.
func (f *Facts) PeerHash() uint64 {
	if f.peerKey == 0 {
		f.peerKey = counters.KeyString(f.Peer)
	}
	return f.peerKey
}
