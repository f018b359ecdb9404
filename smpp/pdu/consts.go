// Package pdu is smsfw's SMPP wire layer: length-prefixed framing over pooled
// buffers and zero-copy views over every PDU an inline proxy relays.
//
// Nothing here decodes a PDU into a map or re-encodes it: a view is a set of
// sub-slices of the original bytes, so the bytes relayed are the bytes
// received (only the sequence number is patched in place), and parsing a
// submit_sm allocates nothing.
package pdu

import "strconv"

// CommandID is an SMPP command_id.
type CommandID uint32

// SMPP v3.4 / v5.0 command ids.
const (
	GenericNack         CommandID = 0x80000000
	BindReceiver        CommandID = 0x00000001
	BindReceiverResp    CommandID = 0x80000001
	BindTransmitter     CommandID = 0x00000002
	BindTransmitterResp CommandID = 0x80000002
	QuerySM             CommandID = 0x00000003
	QuerySMResp         CommandID = 0x80000003
	SubmitSM            CommandID = 0x00000004
	SubmitSMResp        CommandID = 0x80000004
	DeliverSM           CommandID = 0x00000005
	DeliverSMResp       CommandID = 0x80000005
	Unbind              CommandID = 0x00000006
	UnbindResp          CommandID = 0x80000006
	ReplaceSM           CommandID = 0x00000007
	ReplaceSMResp       CommandID = 0x80000007
	CancelSM            CommandID = 0x00000008
	CancelSMResp        CommandID = 0x80000008
	BindTransceiver     CommandID = 0x00000009
	BindTransceiverResp CommandID = 0x80000009
	Outbind             CommandID = 0x0000000B
	EnquireLink         CommandID = 0x00000015
	EnquireLinkResp     CommandID = 0x80000015
	SubmitMulti         CommandID = 0x00000021
	SubmitMultiResp     CommandID = 0x80000021
	AlertNotification   CommandID = 0x00000102
	DataSM              CommandID = 0x00000103
	DataSMResp          CommandID = 0x80000103
)

// respBit marks a response command id.
const respBit CommandID = 0x80000000

// IsResponse reports whether id is a response (including generic_nack).
func (id CommandID) IsResponse() bool { return id&respBit != 0 }

// Resp returns the response id for a request id.
func (id CommandID) Resp() CommandID { return id | respBit }

// Request returns the request id a response answers.
func (id CommandID) Request() CommandID { return id &^ respBit }

// HasResponse reports whether a request expects a response. alert_notification
// and outbind do not.
func (id CommandID) HasResponse() bool {
	return !id.IsResponse() && id != AlertNotification && id != Outbind
}

// IsBind reports whether id is one of the three bind requests.
func (id CommandID) IsBind() bool {
	return id == BindReceiver || id == BindTransmitter || id == BindTransceiver
}

// IsMessage reports whether id carries a short message the firewall inspects.
func (id CommandID) IsMessage() bool {
	return id == SubmitSM || id == DeliverSM || id == DataSM || id == SubmitMulti
}

// Known reports whether id is a command id defined by SMPP 3.4/5.0.
func (id CommandID) Known() bool { return id.Index() != cmdOther }

// Command indexes, dense, for per-command metric arrays without map lookups.
const (
	cmdGenericNack = iota
	cmdBindReceiver
	cmdBindTransmitter
	cmdQuerySM
	cmdSubmitSM
	cmdDeliverSM
	cmdUnbind
	cmdReplaceSM
	cmdCancelSM
	cmdBindTransceiver
	cmdOutbind
	cmdEnquireLink
	cmdSubmitMulti
	cmdAlertNotification
	cmdDataSM
	cmdOther
	// NumCommands is the number of values Index returns.
	NumCommands
)

// Index maps a command id (request or response) to a dense index in
// [0, NumCommands): requests and their responses share an index.
func (id CommandID) Index() int {
	switch id.Request() {
	case 0:
		if id == GenericNack {
			return cmdGenericNack
		}
	case BindReceiver:
		return cmdBindReceiver
	case BindTransmitter:
		return cmdBindTransmitter
	case QuerySM:
		return cmdQuerySM
	case SubmitSM:
		return cmdSubmitSM
	case DeliverSM:
		return cmdDeliverSM
	case Unbind:
		return cmdUnbind
	case ReplaceSM:
		return cmdReplaceSM
	case CancelSM:
		return cmdCancelSM
	case BindTransceiver:
		return cmdBindTransceiver
	case Outbind:
		if !id.IsResponse() {
			return cmdOutbind
		}
	case EnquireLink:
		return cmdEnquireLink
	case SubmitMulti:
		return cmdSubmitMulti
	case AlertNotification:
		if !id.IsResponse() {
			return cmdAlertNotification
		}
	case DataSM:
		return cmdDataSM
	}
	return cmdOther
}

var commandNames = [NumCommands]string{
	cmdGenericNack:       "generic_nack",
	cmdBindReceiver:      "bind_receiver",
	cmdBindTransmitter:   "bind_transmitter",
	cmdQuerySM:           "query_sm",
	cmdSubmitSM:          "submit_sm",
	cmdDeliverSM:         "deliver_sm",
	cmdUnbind:            "unbind",
	cmdReplaceSM:         "replace_sm",
	cmdCancelSM:          "cancel_sm",
	cmdBindTransceiver:   "bind_transceiver",
	cmdOutbind:           "outbind",
	cmdEnquireLink:       "enquire_link",
	cmdSubmitMulti:       "submit_multi",
	cmdAlertNotification: "alert_notification",
	cmdDataSM:            "data_sm",
	cmdOther:             "other",
}

// CommandName returns the request name for a dense command index; used for
// metric label values so they come from a fixed set.
func CommandName(index int) string { return commandNames[index] }

// String returns the SMPP name, "_resp" appended for responses.
func (id CommandID) String() string {
	i := id.Index()
	if i == cmdOther {
		return "0x" + strconv.FormatUint(uint64(id), 16)
	}
	if id.IsResponse() && id != GenericNack {
		return commandNames[i] + "_resp"
	}
	return commandNames[i]
}

// Status is an SMPP command_status.
type Status uint32

// Command status values used by smsfw (SMPP v3.4 section 5.1.3, v5.0 for 0x101).
const (
	StatusOK              Status = 0x00000000 // ESME_ROK
	StatusInvMsgLen       Status = 0x00000001 // ESME_RINVMSGLEN
	StatusInvCmdLen       Status = 0x00000002 // ESME_RINVCMDLEN
	StatusInvCmdID        Status = 0x00000003 // ESME_RINVCMDID
	StatusInvBndSts       Status = 0x00000004 // ESME_RINVBNDSTS
	StatusAlyBnd          Status = 0x00000005 // ESME_RALYBND
	StatusSysErr          Status = 0x00000008 // ESME_RSYSERR
	StatusInvSrcAdr       Status = 0x0000000A // ESME_RINVSRCADR
	StatusInvDstAdr       Status = 0x0000000B // ESME_RINVDSTADR
	StatusInvMsgID        Status = 0x0000000C // ESME_RINVMSGID
	StatusBindFail        Status = 0x0000000D // ESME_RBINDFAIL
	StatusInvPaswd        Status = 0x0000000E // ESME_RINVPASWD
	StatusInvSysID        Status = 0x0000000F // ESME_RINVSYSID
	StatusMsgQFul         Status = 0x00000014 // ESME_RMSGQFUL
	StatusInvSerTyp       Status = 0x00000015 // ESME_RINVSERTYP: bad service_type
	StatusInvNumDests     Status = 0x00000033 // ESME_RINVNUMDESTS
	StatusInvDestFlag     Status = 0x00000040 // ESME_RINVDESTFLAG
	StatusInvESMClass     Status = 0x00000043 // ESME_RINVESMCLASS
	StatusSubmitFail      Status = 0x00000045 // ESME_RSUBMITFAIL
	StatusInvSysTyp       Status = 0x00000053 // ESME_RINVSYSTYP: bad system_type (bind)
	StatusThrottled       Status = 0x00000058 // ESME_RTHROTTLED
	StatusInvSched        Status = 0x00000061 // ESME_RINVSCHED
	StatusInvExpiry       Status = 0x00000062 // ESME_RINVEXPIRY
	StatusXTAppn          Status = 0x00000064 // ESME_RX_T_APPN: temporary, peer retries
	StatusXPAppn          Status = 0x00000065 // ESME_RX_P_APPN: permanent
	StatusXRAppn          Status = 0x00000066 // ESME_RX_R_APPN: rejected by application
	StatusInvOptParStream Status = 0x000000C0 // ESME_RINVOPTPARSTREAM
	StatusOptParNotAllwd  Status = 0x000000C1 // ESME_ROPTPARNOTALLWD
	StatusInvParLen       Status = 0x000000C2 // ESME_RINVPARLEN
	StatusMissingOptParam Status = 0x000000C3 // ESME_RMISSINGOPTPARAM
	StatusInvOptParamVal  Status = 0x000000C4 // ESME_RINVOPTPARAMVAL (v5.0: ESME_RINVTLVVAL)
	StatusDeliveryFailure Status = 0x000000FE // ESME_RDELIVERYFAILURE
	StatusUnknownErr      Status = 0x000000FF // ESME_RUNKNOWNERR
	StatusProhibited      Status = 0x00000101 // ESME_RPROHIBITED (v5.0)
)

// Temporary reports whether peers treat s as retryable.
func (s Status) Temporary() bool {
	switch s {
	case StatusThrottled, StatusMsgQFul, StatusSysErr, StatusXTAppn:
		return true
	}
	return false
}

// String returns the hex form, e.g. "0x00000058", as SMPP logs show it.
func (s Status) String() string {
	const hex = "0123456789abcdef"
	var b [10]byte
	b[0], b[1] = '0', 'x'
	for i := 0; i < 8; i++ {
		b[9-i] = hex[(s>>(4*i))&0xf]
	}
	return string(b[:])
}

// TLV tags the firewall reads. Others are relayed untouched.
const (
	TagDestAddrSubunit    uint16 = 0x0005
	TagReceiptedMessageID uint16 = 0x001E
	TagSARMsgRefNum       uint16 = 0x020C
	TagSARTotalSegments   uint16 = 0x020E
	TagSARSegmentSeqnum   uint16 = 0x020F
	TagSCInterfaceVersion uint16 = 0x0210
	TagNetworkErrorCode   uint16 = 0x0423
	TagMessagePayload     uint16 = 0x0424
	TagMessageState       uint16 = 0x0427
	TagCongestionState    uint16 = 0x0428
)

// esm_class bits.
const (
	ESMUDHI         byte = 0x40
	ESMTypeMask     byte = 0x3C
	ESMTypeReceipt  byte = 0x04 // SMSC delivery receipt
	ESMTypeSMEAck   byte = 0x08
	ESMTypeUserAck  byte = 0x10
	ESMTypeConvAbrt byte = 0x18
	ESMTypeIntermed byte = 0x20 // intermediate delivery notification
)

// HeaderLen is the length of the fixed SMPP header.
const HeaderLen = 16

// DefaultMaxLen is the default cap on command_length: long message_payload
// PDUs up to 64 KiB are what tolerant peers accept.
const DefaultMaxLen = 64 * 1024
