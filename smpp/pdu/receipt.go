package pdu

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"time"
	"unsafe"
)

// Message states (SMPP v3.4 section 5.2.28) used in receipts.
const (
	StateDelivered     byte = 2
	StateExpired       byte = 3
	StateDeleted       byte = 4
	StateUndeliverable byte = 5
	StateAccepted      byte = 6
	StateRejected      byte = 8
)

var stateStat = [...]string{2: "DELIVRD", 3: "EXPIRED", 4: "DELETED", 5: "UNDELIV", 6: "ACCEPTD", 7: "UNKNOWN", 8: "REJECTD"}

// Receipt describes a delivery receipt smsfw originates (simulator, or the
// fake receipt of a silently dropped message).
type Receipt struct {
	MessageID string
	// Src is the original recipient (the receipt's source), Dst the original sender.
	SrcTON, SrcNPI byte
	Src            string
	DstTON, DstNPI byte
	Dst            string
	State          byte
	Err            int
	Submitted      time.Time
	Done           time.Time
	Text           string // first characters of the original text (20 at most are kept)
}

// AppendReceipt appends a deliver_sm carrying r in both the text form
// ("id:... stat:DELIVRD ...") and the receipted_message_id / message_state
// TLVs, as most SMSCs send it.
func AppendReceipt(dst []byte, seq uint32, r *Receipt) []byte {
	stat := "UNKNOWN"
	if int(r.State) < len(stateStat) && stateStat[r.State] != "" {
		stat = stateStat[r.State]
	}
	dlvrd := "000"
	if r.State == StateDelivered {
		dlvrd = "001"
	}
	text := r.Text
	if len(text) > 20 {
		text = text[:20]
	}
	errs := strconv.Itoa(r.Err)
	for len(errs) < 3 {
		errs = "0" + errs
	}
	sm := "id:" + r.MessageID + " sub:001 dlvrd:" + dlvrd +
		" submit date:" + r.Submitted.UTC().Format("0601021504") +
		" done date:" + r.Done.UTC().Format("0601021504") +
		" stat:" + stat + " err:" + errs + " text:" + text
	b := NewBuilder(dst, DeliverSM, 0, seq)
	b.CString("").Addr(r.SrcTON, r.SrcNPI, r.Src).Addr(r.DstTON, r.DstNPI, r.Dst).
		Byte(ESMTypeReceipt).Byte(0).Byte(0).CString("").CString("").
		Byte(0).Byte(0).Byte(0).Byte(0).SM([]byte(sm)).
		TLV(TagReceiptedMessageID, append([]byte(r.MessageID), 0)).
		TLV(TagMessageState, []byte{r.State})
	return b.Done()
}

// RewriteReceiptID returns a copy of deliver_sm receipt p (parsed as m) in
// which the message id from is replaced by to, in the text ("id:...") and in
// receipted_message_id; ok is false when p is not such a receipt or carries
// neither. Used for released quarantined messages: the peer knows them by
// smsfw's id, the SMSC's receipt carries its own.
func RewriteReceiptID(p PDU, m *Message, from, to string) (PDU, bool) {
	if m.Cmd != DeliverSM || !m.IsReceipt() || from == "" || len(to) > 64 {
		return nil, false
	}
	sm := m.ShortMessage
	if len(sm) == 0 {
		return nil, false
	}
	// short_message aliases p: its offset locates sm_length before it and
	// the TLVs after it.
	off := int(uintptr(unsafe.Pointer(unsafe.SliceData(sm))) - uintptr(unsafe.Pointer(unsafe.SliceData(p))))
	if off < HeaderLen+1 || off+len(sm) > len(p) {
		return nil, false
	}
	newSM, changed := sm, false
	if i := bytes.Index(sm, []byte("id:"+from)); i >= 0 && (i+3+len(from) == len(sm) || sm[i+3+len(from)] == ' ') {
		newSM = make([]byte, 0, len(sm)+len(to))
		newSM = append(append(append(newSM, sm[:i+3]...), to...), sm[i+3+len(from):]...)
		changed = true
	}
	if len(newSM) > 254 {
		return nil, false
	}
	tlvStart := off + len(sm)
	out := make([]byte, 0, len(p)+2*len(to))
	out = append(out, p[:off-1]...)
	out = append(out, byte(len(newSM)))
	out = append(out, newSM...)
	it := TLVs(p[tlvStart:]).Iter()
	for {
		tag, val, ok := it.Next()
		if !ok {
			break
		}
		if tag == TagReceiptedMessageID && string(bytes.TrimRight(val, "\x00")) == from {
			val = append([]byte(to), 0)
			changed = true
		}
		out = binary.BigEndian.AppendUint16(out, tag)
		out = binary.BigEndian.AppendUint16(out, uint16(len(val)))
		out = append(out, val...)
	}
	if !changed {
		return nil, false
	}
	binary.BigEndian.PutUint32(out[0:4], uint32(len(out)))
	return PDU(out), true
}
