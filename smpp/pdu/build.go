package pdu

import "encoding/binary"

// Builder appends one PDU to a byte slice. It is used for the PDUs smsfw
// originates (local responses, enquire_link, binds, receipts, simulator and
// load-generator traffic); relayed PDUs are never rebuilt.
type Builder struct {
	b     []byte
	start int
}

// NewBuilder starts a PDU at the end of dst.
func NewBuilder(dst []byte, id CommandID, st Status, seq uint32) Builder {
	start := len(dst)
	dst = binary.BigEndian.AppendUint32(dst, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(id))
	dst = binary.BigEndian.AppendUint32(dst, uint32(st))
	dst = binary.BigEndian.AppendUint32(dst, seq)
	return Builder{b: dst, start: start}
}

// Byte appends one octet.
func (b *Builder) Byte(c byte) *Builder { b.b = append(b.b, c); return b }

// CString appends s and a NUL.
func (b *Builder) CString(s string) *Builder { b.b = append(append(b.b, s...), 0); return b }

// CBytes appends s and a NUL.
func (b *Builder) CBytes(s []byte) *Builder { b.b = append(append(b.b, s...), 0); return b }

// Addr appends ton, npi and a C-string address.
func (b *Builder) Addr(ton, npi byte, addr string) *Builder {
	b.b = append(b.b, ton, npi)
	return b.CString(addr)
}

// Raw appends bytes as they are.
func (b *Builder) Raw(p []byte) *Builder { b.b = append(b.b, p...); return b }

// SM appends sm_length and short_message (at most 255 octets are legal; the
// caller ensures it).
func (b *Builder) SM(sm []byte) *Builder {
	b.b = append(b.b, byte(len(sm)))
	b.b = append(b.b, sm...)
	return b
}

// TLV appends one TLV.
func (b *Builder) TLV(tag uint16, v []byte) *Builder {
	b.b = binary.BigEndian.AppendUint16(b.b, tag)
	b.b = binary.BigEndian.AppendUint16(b.b, uint16(len(v)))
	b.b = append(b.b, v...)
	return b
}

// Done patches command_length and returns the slice with the PDU appended.
func (b *Builder) Done() []byte {
	binary.BigEndian.PutUint32(b.b[b.start:], uint32(len(b.b)-b.start))
	return b.b
}

// AppendHeaderOnly appends a 16-octet PDU (enquire_link, unbind, their
// responses, generic_nack, error responses without body).
func AppendHeaderOnly(dst []byte, id CommandID, st Status, seq uint32) []byte {
	b := NewBuilder(dst, id, st, seq)
	return b.Done()
}

// AppendResp appends the response to a request with the given status. A
// successful message response carries messageID; error responses to
// message-carrying requests carry no body, as SMPP 3.4 specifies; bind
// responses carry systemID.
func AppendResp(dst []byte, req CommandID, st Status, seq uint32, id string) []byte {
	b := NewBuilder(dst, req.Resp(), st, seq)
	switch req {
	case SubmitSM, DeliverSM, DataSM:
		if st == StatusOK {
			b.CString(id)
		}
	case SubmitMulti:
		if st == StatusOK {
			b.CString(id).Byte(0)
		}
	case BindReceiver, BindTransmitter, BindTransceiver:
		b.CString(id)
	}
	return b.Done()
}

// AppendGenericNack appends a generic_nack echoing seq.
func AppendGenericNack(dst []byte, st Status, seq uint32) []byte {
	return AppendHeaderOnly(dst, GenericNack, st, seq)
}

// BindFields are the fields of a bind request smsfw originates.
type BindFields struct {
	SystemID, Password, SystemType string
	InterfaceVersion               byte
	AddrTON, AddrNPI               byte
	AddressRange                   string
}

// AppendBind appends a bind request.
func AppendBind(dst []byte, id CommandID, seq uint32, f BindFields) []byte {
	v := f.InterfaceVersion
	if v == 0 {
		v = 0x34
	}
	b := NewBuilder(dst, id, 0, seq)
	b.CString(f.SystemID).CString(f.Password).CString(f.SystemType).
		Byte(v).Byte(f.AddrTON).Byte(f.AddrNPI).CString(f.AddressRange)
	return b.Done()
}

// SMFields are the fields of a submit_sm or deliver_sm smsfw originates.
type SMFields struct {
	ServiceType        string
	SrcTON, SrcNPI     byte
	Src                string
	DstTON, DstNPI     byte
	Dst                string
	ESMClass           byte
	ProtocolID         byte
	PriorityFlag       byte
	RegisteredDelivery byte
	DataCoding         byte
	ShortMessage       []byte
	// TLVs are appended raw after the mandatory fields.
	TLVs []byte
}

// AppendSM appends a submit_sm or deliver_sm.
func AppendSM(dst []byte, id CommandID, seq uint32, f *SMFields) []byte {
	b := NewBuilder(dst, id, 0, seq)
	b.CString(f.ServiceType).Addr(f.SrcTON, f.SrcNPI, f.Src).Addr(f.DstTON, f.DstNPI, f.Dst).
		Byte(f.ESMClass).Byte(f.ProtocolID).Byte(f.PriorityFlag).
		CString("").CString(""). // schedule_delivery_time, validity_period
		Byte(f.RegisteredDelivery).Byte(0).Byte(f.DataCoding).Byte(0).
		SM(f.ShortMessage).Raw(f.TLVs)
	return b.Done()
}

// AppendTLV appends one encoded TLV (for SMFields.TLVs).
func AppendTLV(dst []byte, tag uint16, v []byte) []byte {
	out := binary.BigEndian.AppendUint16(dst, tag)
	out = binary.BigEndian.AppendUint16(out, uint16(len(v)))
	return append(out, v...)
}
