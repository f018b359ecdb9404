package pdu

import (
	"strconv"
	"time"
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
