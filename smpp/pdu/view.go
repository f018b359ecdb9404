package pdu

import (
	"bytes"
	"encoding/binary"

	smstext "github.com/smsfw/smsfw/smpp/text"
)

// Maximum sizes of C-octet strings, NUL included (SMPP v3.4 section 5.2).
const (
	maxSystemID     = 16
	maxPassword     = 9
	maxSystemType   = 13
	maxAddressRange = 41
	maxServiceType  = 6
	maxAddr         = 21
	maxAddr65       = 65 // data_sm and alert_notification addresses
	maxTime         = 17
	maxMessageID    = 65
	maxDLName       = 21
)

// decoder walks a PDU body. It lives on the caller's stack; fields are
// sub-slices of the body.
type decoder struct {
	b   []byte
	off int
	cmd CommandID
	err error
}

func (d *decoder) fail(field string, st Status, err error) {
	if d.err == nil {
		d.err = &ParseError{Command: d.cmd, Field: field, Status: st, Err: err}
	}
}

// cstring returns the string without its NUL. max counts the NUL.
func (d *decoder) cstring(field string, max int, st Status) []byte {
	if d.err != nil {
		return nil
	}
	rest := d.b[d.off:]
	lim := len(rest)
	if lim > max {
		lim = max
	}
	for i := 0; i < lim; i++ {
		if rest[i] == 0 {
			d.off += i + 1
			return rest[:i:i]
		}
	}
	if len(rest) >= max {
		d.fail(field, st, ErrTooLong)
	} else {
		d.fail(field, st, ErrMissingNUL)
	}
	return nil
}

func (d *decoder) byte1(field string) byte {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.b) {
		d.fail(field, StatusInvCmdLen, ErrTruncated)
		return 0
	}
	c := d.b[d.off]
	d.off++
	return c
}

func (d *decoder) bytes(field string, n int, st Status) []byte {
	if d.err != nil {
		return nil
	}
	if n > len(d.b)-d.off {
		d.fail(field, st, ErrTruncated)
		return nil
	}
	v := d.b[d.off : d.off+n : d.off+n]
	d.off += n
	return v
}

func (d *decoder) addr(field string, max int, st Status) Addr {
	var a Addr
	a.TON = d.byte1(field)
	a.NPI = d.byte1(field)
	a.Addr = d.cstring(field, max, st)
	return a
}

// tlvs validates the rest of the body as a TLV stream and returns it.
func (d *decoder) tlvs() TLVs {
	if d.err != nil {
		return nil
	}
	t := TLVs(d.b[d.off:])
	if err := t.Validate(); err != nil {
		d.fail("tlv", StatusInvOptParStream, err)
		return nil
	}
	d.off = len(d.b)
	return t
}

// end requires that the body is fully consumed (for PDUs without TLVs).
func (d *decoder) end() {
	if d.err == nil && d.off != len(d.b) {
		d.fail("body", StatusInvCmdLen, ErrBadValue)
	}
}

// Addr is a TON/NPI/address triple; Addr.Addr aliases the PDU.
type Addr struct {
	TON, NPI byte
	Addr     []byte
}

// TLVs is a raw TLV stream; iterate with Each or Range, look up with Get.
type TLVs []byte

// Validate checks that the stream is a sequence of complete TLVs.
func (t TLVs) Validate() error {
	for len(t) > 0 {
		if len(t) < 4 {
			return ErrBadTLV
		}
		n := int(binary.BigEndian.Uint16(t[2:4]))
		if 4+n > len(t) {
			return ErrBadTLV
		}
		t = t[4+n:]
	}
	return nil
}

// TLVIter iterates a validated TLV stream without allocating.
type TLVIter struct{ rest []byte }

// Iter returns an iterator over t.
func (t TLVs) Iter() TLVIter { return TLVIter{rest: t} }

// Next returns the next TLV; ok is false at the end or on a malformed tail.
func (it *TLVIter) Next() (tag uint16, val []byte, ok bool) {
	if len(it.rest) < 4 {
		return 0, nil, false
	}
	n := int(binary.BigEndian.Uint16(it.rest[2:4]))
	if 4+n > len(it.rest) {
		it.rest = nil
		return 0, nil, false
	}
	tag = binary.BigEndian.Uint16(it.rest[0:2])
	val = it.rest[4 : 4+n : 4+n]
	it.rest = it.rest[4+n:]
	return tag, val, true
}

// Get returns the value of the first TLV with the given tag.
func (t TLVs) Get(tag uint16) ([]byte, bool) {
	it := t.Iter()
	for {
		tg, v, ok := it.Next()
		if !ok {
			return nil, false
		}
		if tg == tag {
			return v, true
		}
	}
}

// Bind is a view of bind_transmitter / bind_receiver / bind_transceiver.
type Bind struct {
	SystemID, Password, SystemType []byte
	InterfaceVersion               byte
	AddrTON, AddrNPI               byte
	AddressRange                   []byte
}

// ParseBind parses a bind request body.
func ParseBind(p PDU, b *Bind) error {
	d := decoder{b: p.Body(), cmd: p.ID()}
	b.SystemID = d.cstring("system_id", maxSystemID, StatusInvSysID)
	b.Password = d.cstring("password", maxPassword, StatusInvPaswd)
	b.SystemType = d.cstring("system_type", maxSystemType, StatusInvSysTyp)
	b.InterfaceVersion = d.byte1("interface_version")
	b.AddrTON = d.byte1("addr_ton")
	b.AddrNPI = d.byte1("addr_npi")
	b.AddressRange = d.cstring("address_range", maxAddressRange, StatusInvCmdLen)
	// v5.0 allows no TLVs on bind; tolerate trailing TLVs as some peers send them.
	d.tlvs()
	return d.err
}

// BindResp is a view of a bind_*_resp (or outbind's system_id/password).
type BindResp struct {
	SystemID []byte
	TLVs     TLVs
}

// ParseBindResp parses a bind response. Error responses may have no body.
func ParseBindResp(p PDU, r *BindResp) error {
	*r = BindResp{}
	if len(p.Body()) == 0 {
		return nil
	}
	d := decoder{b: p.Body(), cmd: p.ID()}
	r.SystemID = d.cstring("system_id", maxSystemID, StatusInvSysID)
	r.TLVs = d.tlvs()
	return d.err
}

// OutbindBody is a view of outbind.
type OutbindBody struct{ SystemID, Password []byte }

// ParseOutbind parses outbind.
func ParseOutbind(p PDU, o *OutbindBody) error {
	d := decoder{b: p.Body(), cmd: p.ID()}
	o.SystemID = d.cstring("system_id", maxSystemID, StatusInvSysID)
	o.Password = d.cstring("password", maxPassword, StatusInvPaswd)
	d.end()
	return d.err
}

// Message is a view of the message-carrying PDUs: submit_sm, deliver_sm,
// data_sm and submit_multi. Fields a command does not have are zero.
type Message struct {
	Cmd                  CommandID
	ServiceType          []byte
	Src, Dst             Addr
	ESMClass             byte
	ProtocolID           byte
	PriorityFlag         byte
	ScheduleDeliveryTime []byte
	ValidityPeriod       []byte
	RegisteredDelivery   byte
	ReplaceIfPresent     byte
	DataCoding           byte
	SMDefaultMsgID       byte
	ShortMessage         []byte
	TLVs                 TLVs

	// submit_multi: the raw destination list and its count; Dst is the
	// first SME destination for convenience.
	NumDests int
	DestList []byte

	payload    []byte
	hasPayload bool
}

// ParseMessage parses a message-carrying PDU into m without allocating.
func ParseMessage(p PDU, m *Message) error {
	*m = Message{Cmd: p.ID()}
	d := decoder{b: p.Body(), cmd: p.ID()}
	switch m.Cmd {
	case SubmitSM, DeliverSM:
		m.ServiceType = d.cstring("service_type", maxServiceType, StatusInvSerTyp)
		m.Src = d.addr("source_addr", maxAddr, StatusInvSrcAdr)
		m.Dst = d.addr("destination_addr", maxAddr, StatusInvDstAdr)
		parseSMTail(&d, m)
	case SubmitMulti:
		m.ServiceType = d.cstring("service_type", maxServiceType, StatusInvSerTyp)
		m.Src = d.addr("source_addr", maxAddr, StatusInvSrcAdr)
		n := int(d.byte1("number_of_dests"))
		if d.err == nil && (n == 0 || n > 255) {
			d.fail("number_of_dests", StatusInvNumDests, ErrBadValue)
		}
		start := d.off
		for i := 0; i < n && d.err == nil; i++ {
			switch flag := d.byte1("dest_flag"); flag {
			case 1:
				a := d.addr("dest_address", maxAddr, StatusInvDstAdr)
				if m.Dst.Addr == nil {
					m.Dst = a
				}
			case 2:
				d.cstring("dl_name", maxDLName, StatusInvDstAdr)
			default:
				d.fail("dest_flag", StatusInvDestFlag, ErrBadValue)
			}
		}
		m.NumDests = n
		if d.err == nil {
			m.DestList = d.b[start:d.off:d.off]
		}
		parseSMTail(&d, m)
	case DataSM:
		m.ServiceType = d.cstring("service_type", maxServiceType, StatusInvSerTyp)
		m.Src = d.addr("source_addr", maxAddr65, StatusInvSrcAdr)
		m.Dst = d.addr("destination_addr", maxAddr65, StatusInvDstAdr)
		m.ESMClass = d.byte1("esm_class")
		m.RegisteredDelivery = d.byte1("registered_delivery")
		m.DataCoding = d.byte1("data_coding")
		m.TLVs = d.tlvs()
	default:
		return &ParseError{Command: m.Cmd, Field: "command_id", Status: StatusInvCmdID, Err: ErrNotMessage}
	}
	if d.err != nil {
		return d.err
	}
	return m.checkTLVs()
}

// checkTLVs reads message_payload and refuses what peers read differently
// (ESME_RINVOPTPARAMVAL, which SMPP 5.0 calls ESME_RINVTLVVAL and Kannel
// answers for the same cases): message_payload with a short_message, a
// second message_payload or sar_* TLV (one peer takes the first, another
// the last), and sar_* TLVs beside a UDH concatenation IE (the firewall
// would assemble by one, the SMSC by the other). One pass, no allocation.
func (m *Message) checkTLVs() error {
	var seen [4]uint8 // message_payload, sar_msg_ref_num, sar_total_segments, sar_segment_seqnum
	it := m.TLVs.Iter()
	for {
		tag, v, ok := it.Next()
		if !ok {
			break
		}
		var i int
		switch tag {
		case TagMessagePayload:
			i = 0
			if seen[0] == 0 {
				m.payload, m.hasPayload = v, true
			}
		case TagSARMsgRefNum:
			i = 1
		case TagSARTotalSegments:
			i = 2
		case TagSARSegmentSeqnum:
			i = 3
		default:
			continue
		}
		if seen[i]++; seen[i] > 1 {
			m.payload, m.hasPayload = nil, false
			return &ParseError{Command: m.Cmd, Field: tagName(tag), Status: StatusInvOptParamVal, Err: ErrDuplicateTLV}
		}
	}
	if m.hasPayload && len(m.ShortMessage) != 0 {
		m.payload, m.hasPayload = nil, false
		return &ParseError{Command: m.Cmd, Field: "message_payload", Status: StatusInvOptParamVal, Err: ErrBadValue}
	}
	if seen[1]|seen[2]|seen[3] != 0 && m.UDHI() {
		if _, conflict := m.concat(); conflict {
			return &ParseError{Command: m.Cmd, Field: "sar_msg_ref_num", Status: StatusInvOptParamVal, Err: ErrConcatConflict}
		}
	}
	return nil
}

// tagName names the TLVs checkTLVs refuses, for ParseError.Field.
func tagName(tag uint16) string {
	switch tag {
	case TagMessagePayload:
		return "message_payload"
	case TagSARMsgRefNum:
		return "sar_msg_ref_num"
	case TagSARTotalSegments:
		return "sar_total_segments"
	case TagSARSegmentSeqnum:
		return "sar_segment_seqnum"
	}
	return "tlv"
}

func parseSMTail(d *decoder, m *Message) {
	m.ESMClass = d.byte1("esm_class")
	m.ProtocolID = d.byte1("protocol_id")
	m.PriorityFlag = d.byte1("priority_flag")
	m.ScheduleDeliveryTime = d.cstring("schedule_delivery_time", maxTime, StatusInvSched)
	m.ValidityPeriod = d.cstring("validity_period", maxTime, StatusInvExpiry)
	m.RegisteredDelivery = d.byte1("registered_delivery")
	m.ReplaceIfPresent = d.byte1("replace_if_present_flag")
	m.DataCoding = d.byte1("data_coding")
	m.SMDefaultMsgID = d.byte1("sm_default_msg_id")
	n := int(d.byte1("sm_length"))
	m.ShortMessage = d.bytes("short_message", n, StatusInvMsgLen)
	m.TLVs = d.tlvs()
}

// Payload returns the user data: message_payload when present, otherwise
// short_message. UDH, if any, is still at its start.
func (m *Message) Payload() []byte {
	if m.hasPayload {
		return m.payload
	}
	return m.ShortMessage
}

// HasMessagePayload reports whether the text came in message_payload.
func (m *Message) HasMessagePayload() bool { return m.hasPayload }

// UDHI reports whether esm_class flags a user data header.
func (m *Message) UDHI() bool { return m.ESMClass&ESMUDHI != 0 }

// IsReceipt reports whether a deliver_sm/data_sm is an SMSC delivery receipt
// or intermediate notification rather than a mobile-originated message.
func (m *Message) IsReceipt() bool {
	if m.Cmd != DeliverSM && m.Cmd != DataSM {
		return false
	}
	t := m.ESMClass & ESMTypeMask
	return t == ESMTypeReceipt || t == ESMTypeIntermed
}

// ReceiptID returns the message id a receipt refers to: the
// receipted_message_id TLV (NULs trimmed), else the "id:" field of the text;
// nil when there is neither. It aliases m's bytes.
func (m *Message) ReceiptID() []byte {
	if v, ok := m.TLVs.Get(TagReceiptedMessageID); ok {
		return bytes.TrimRight(v, "\x00")
	}
	sm := m.Payload()
	i := bytes.Index(sm, []byte("id:"))
	if i < 0 {
		return nil
	}
	id := sm[i+3:]
	if j := bytes.IndexByte(id, ' '); j >= 0 {
		id = id[:j]
	}
	return id
}

// Dest is one destination of a submit_multi.
type Dest struct {
	Flag   byte // 1 SME address, 2 distribution list
	Addr   Addr // for Flag 1
	DLName []byte
}

// DestIter iterates a submit_multi destination list.
type DestIter struct{ d decoder }

// Dests returns an iterator over a submit_multi's destinations.
func (m *Message) Dests() DestIter {
	return DestIter{d: decoder{b: m.DestList, cmd: m.Cmd}}
}

// Next returns the next destination.
func (it *DestIter) Next() (Dest, bool) {
	if it.d.err != nil || it.d.off >= len(it.d.b) {
		return Dest{}, false
	}
	var dst Dest
	dst.Flag = it.d.byte1("dest_flag")
	if dst.Flag == 1 {
		dst.Addr = it.d.addr("dest_address", maxAddr, StatusInvDstAdr)
	} else {
		dst.DLName = it.d.cstring("dl_name", maxDLName, StatusInvDstAdr)
	}
	return dst, it.d.err == nil
}

// MessageResp is a view of submit_sm_resp, deliver_sm_resp, data_sm_resp
// and submit_multi_resp.
type MessageResp struct {
	MessageID []byte
	// submit_multi_resp only: the raw unsuccess_sme list and its count.
	NumUnsuccess int
	Unsuccess    []byte
	TLVs         TLVs
}

// ParseMessageResp parses a message response. Error responses usually have
// no body (SMPP 3.4: "not returned if command_status is non-zero").
func ParseMessageResp(p PDU, r *MessageResp) error {
	*r = MessageResp{}
	body := p.Body()
	if len(body) == 0 {
		return nil
	}
	d := decoder{b: body, cmd: p.ID()}
	r.MessageID = d.cstring("message_id", maxMessageID, StatusInvMsgID)
	if p.ID() == SubmitMultiResp {
		n := int(d.byte1("no_unsuccess"))
		start := d.off
		for i := 0; i < n && d.err == nil; i++ {
			d.addr("dest_addr", maxAddr, StatusInvDstAdr)
			d.bytes("error_status_code", 4, StatusInvCmdLen)
		}
		r.NumUnsuccess = n
		if d.err == nil {
			r.Unsuccess = d.b[start:d.off:d.off]
		}
	}
	r.TLVs = d.tlvs()
	return d.err
}

// Query is a view of query_sm, cancel_sm and replace_sm: the fields that
// reference an earlier message.
type Query struct {
	ServiceType  []byte // cancel_sm
	MessageID    []byte
	Src, Dst     Addr // Dst: cancel_sm
	ShortMessage []byte
	TLVs         TLVs
}

// ParseQuery parses query_sm, cancel_sm or replace_sm.
func ParseQuery(p PDU, q *Query) error {
	*q = Query{}
	d := decoder{b: p.Body(), cmd: p.ID()}
	switch p.ID() {
	case QuerySM:
		q.MessageID = d.cstring("message_id", maxMessageID, StatusInvMsgID)
		q.Src = d.addr("source_addr", maxAddr, StatusInvSrcAdr)
		d.end()
	case CancelSM:
		q.ServiceType = d.cstring("service_type", maxServiceType, StatusInvSerTyp)
		q.MessageID = d.cstring("message_id", maxMessageID, StatusInvMsgID)
		q.Src = d.addr("source_addr", maxAddr, StatusInvSrcAdr)
		q.Dst = d.addr("destination_addr", maxAddr, StatusInvDstAdr)
		d.end()
	case ReplaceSM:
		q.MessageID = d.cstring("message_id", maxMessageID, StatusInvMsgID)
		q.Src = d.addr("source_addr", maxAddr, StatusInvSrcAdr)
		d.cstring("schedule_delivery_time", maxTime, StatusInvSched)
		d.cstring("validity_period", maxTime, StatusInvExpiry)
		d.byte1("registered_delivery")
		d.byte1("sm_default_msg_id")
		n := int(d.byte1("sm_length"))
		q.ShortMessage = d.bytes("short_message", n, StatusInvMsgLen)
		q.TLVs = d.tlvs() // v5.0 allows message_payload
	default:
		return &ParseError{Command: p.ID(), Field: "command_id", Status: StatusInvCmdID, Err: ErrBadValue}
	}
	return d.err
}

// Alert is a view of alert_notification.
type Alert struct {
	Src, ESME Addr
	TLVs      TLVs
}

// ParseAlert parses alert_notification.
func ParseAlert(p PDU, a *Alert) error {
	d := decoder{b: p.Body(), cmd: p.ID()}
	a.Src = d.addr("source_addr", maxAddr65, StatusInvSrcAdr)
	a.ESME = d.addr("esme_addr", maxAddr65, StatusInvDstAdr)
	a.TLVs = d.tlvs()
	return d.err
}

// Validate checks the body of any PDU the proxy relays. Header-only PDUs
// (enquire_link, unbind, their responses, generic_nack) must be exactly 16
// octets; unknown command ids return ESME_RINVCMDID.
func Validate(p PDU) error {
	switch id := p.ID(); id {
	case BindReceiver, BindTransmitter, BindTransceiver:
		var b Bind
		return ParseBind(p, &b)
	case BindReceiverResp, BindTransmitterResp, BindTransceiverResp:
		var r BindResp
		return ParseBindResp(p, &r)
	case Outbind:
		var o OutbindBody
		return ParseOutbind(p, &o)
	case SubmitSM, DeliverSM, DataSM, SubmitMulti:
		var m Message
		return ParseMessage(p, &m)
	case SubmitSMResp, DeliverSMResp, DataSMResp, SubmitMultiResp:
		var r MessageResp
		return ParseMessageResp(p, &r)
	case QuerySM, CancelSM, ReplaceSM:
		var q Query
		return ParseQuery(p, &q)
	case QuerySMResp:
		if len(p.Body()) == 0 {
			return nil
		}
		d := decoder{b: p.Body(), cmd: id}
		d.cstring("message_id", maxMessageID, StatusInvMsgID)
		d.cstring("final_date", maxTime, StatusInvCmdLen)
		d.byte1("message_state")
		d.byte1("error_code")
		d.end()
		return d.err
	case AlertNotification:
		var a Alert
		return ParseAlert(p, &a)
	case EnquireLink, EnquireLinkResp, Unbind, UnbindResp, GenericNack, CancelSMResp, ReplaceSMResp:
		if len(p.Body()) != 0 {
			return &ParseError{Command: id, Field: "body", Status: StatusInvCmdLen, Err: ErrBadValue}
		}
		return nil
	}
	return &ParseError{Command: p.ID(), Field: "command_id", Status: StatusInvCmdID, Err: ErrBadValue}
}

// SAR returns the sar_* TLV concatenation info, if all three are present
// and well-formed.
func (m *Message) SAR() (ref uint16, total, seq uint8, ok bool) {
	var have int
	it := m.TLVs.Iter()
	for {
		tag, v, more := it.Next()
		if !more {
			break
		}
		switch tag {
		case TagSARMsgRefNum:
			if len(v) == 2 {
				ref = binary.BigEndian.Uint16(v)
				have |= 1
			}
		case TagSARTotalSegments:
			if len(v) == 1 {
				total = v[0]
				have |= 2
			}
		case TagSARSegmentSeqnum:
			if len(v) == 1 {
				seq = v[0]
				have |= 4
			}
		}
	}
	return ref, total, seq, have == 7
}

// Concat describes one segment of a concatenated message, from the UDH
// (IEI 0x00 or 0x08) or the sar_* TLVs.
type Concat struct {
	Ref         uint16
	Total, Part uint8
	FromUDH     bool
}

// Concat returns the message's concatenation info. ok is false for single
// messages and for malformed headers (which are inspected as they are).
// conflict is set when both a UDH concatenation IE and sar_* TLVs are
// present: peers such as Kannel reject that, and it is an evasion vector.
// ParseMessage refuses such messages, so conflict is never set for a
// message it accepted.
func (m *Message) Concat() (c Concat, ok, conflict bool) {
	c, conflict = m.concat()
	return c, c.Total > 1, conflict
}

func (m *Message) concat() (c Concat, conflict bool) {
	ref, total, seq, sar := m.SAR()
	if m.UDHI() {
		if _, u, has, err := smstext.ParseUDH(m.Payload()); err == nil && has {
			return Concat{Ref: u.Ref, Total: u.Total, Part: u.Seq, FromUDH: true}, sar
		}
	}
	if sar && total > 0 && seq > 0 && seq <= total {
		return Concat{Ref: ref, Total: total, Part: seq}, false
	}
	return Concat{}, false
}
