package pdu

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"sync"
)

// PDU is a view over one whole SMPP PDU, header included. It does not own
// its bytes: a PDU returned by Reader.Next is valid until the next call.
type PDU []byte

// Len returns command_length as carried in the header.
func (p PDU) Len() uint32 { return binary.BigEndian.Uint32(p[0:4]) }

// ID returns command_id.
func (p PDU) ID() CommandID { return CommandID(binary.BigEndian.Uint32(p[4:8])) }

// Status returns command_status.
func (p PDU) Status() Status { return Status(binary.BigEndian.Uint32(p[8:12])) }

// Seq returns sequence_number.
func (p PDU) Seq() uint32 { return binary.BigEndian.Uint32(p[12:16]) }

// SetSeq patches sequence_number in place: the only byte change a relay makes.
func (p PDU) SetSeq(seq uint32) { binary.BigEndian.PutUint32(p[12:16], seq) }

// Body returns the bytes after the header.
func (p PDU) Body() []byte { return p[HeaderLen:] }

// ErrBadStored is returned by FromBytes for bytes that are not one whole PDU.
var ErrBadStored = errors.New("pdu: stored bytes are not one whole PDU")

// FromBytes checks that b holds exactly one PDU (a header whose
// command_length is len(b)) and returns it as a view; for PDUs read back
// from storage.
func FromBytes(b []byte) (PDU, error) {
	if len(b) < HeaderLen || int(binary.BigEndian.Uint32(b[0:4])) != len(b) {
		return nil, ErrBadStored
	}
	return PDU(b), nil
}

// Reader frames PDUs from a stream. Small PDUs are returned as views into
// the bufio buffer (no copy); PDUs larger than the buffer are read into a
// pooled buffer. Either way the returned PDU is valid until the next call.
type Reader struct {
	br      *bufio.Reader
	max     int
	discard int
	big     *[]byte
}

// DefaultReadBuffer is the bufio size: large enough that a window of small
// PDUs arrives in one read syscall.
const DefaultReadBuffer = 16 * 1024

// NewReader frames r with a cap of maxLen octets per PDU (DefaultMaxLen when
// maxLen <= 0).
func NewReader(r io.Reader, maxLen int) *Reader {
	if maxLen <= 0 {
		maxLen = DefaultMaxLen
	}
	return &Reader{br: bufio.NewReaderSize(r, DefaultReadBuffer), max: maxLen}
}

// Buffered returns the number of bytes already read and waiting, so a caller
// can flush its writes before blocking in the next read.
func (r *Reader) Buffered() int { return r.br.Buffered() - r.discard }

// Next returns the next PDU. A command_length below 16 or above the cap
// returns a *FrameError carrying the header so the caller can generic_nack
// it; the stream cannot be trusted after that.
func (r *Reader) Next() (PDU, error) {
	if r.discard > 0 {
		_, _ = r.br.Discard(r.discard)
		r.discard = 0
	}
	if r.big != nil {
		bigPool.Put(r.big)
		r.big = nil
	}
	h, err := r.br.Peek(HeaderLen)
	if err != nil {
		if err == io.EOF && len(h) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	n := binary.BigEndian.Uint32(h[0:4])
	if n < HeaderLen || n > uint32(r.max) {
		return nil, &FrameError{Length: n, ID: CommandID(binary.BigEndian.Uint32(h[4:8])),
			Seq: binary.BigEndian.Uint32(h[12:16]), Max: r.max}
	}
	if int(n) <= r.br.Size() {
		p, err := r.br.Peek(int(n))
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		r.discard = int(n)
		return PDU(p), nil
	}
	bp := bigPool.Get().(*[]byte)
	if cap(*bp) < int(n) {
		*bp = make([]byte, r.max)
	}
	b := (*bp)[:n]
	if _, err := io.ReadFull(r.br, b); err != nil {
		bigPool.Put(bp)
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	r.big = bp
	return PDU(b), nil
}

var bigPool = sync.Pool{New: func() any { b := make([]byte, 0, DefaultMaxLen); return &b }}

// Buf is a pooled copy of a PDU for the few cases that must keep one beyond
// the next read (held deliveries, segments awaiting reassembly).
type Buf struct{ b []byte }

var bufPool = sync.Pool{New: func() any { return &Buf{b: make([]byte, 0, 512)} }}

// Clone copies p into a pooled Buf. Release it when done.
func Clone(p PDU) *Buf {
	b := bufPool.Get().(*Buf)
	b.b = append(b.b[:0], p...)
	return b
}

// PDU returns the held PDU.
func (b *Buf) PDU() PDU { return PDU(b.b) }

// Release returns the buffer to the pool; the PDU must not be used after.
func (b *Buf) Release() {
	if cap(b.b) > DefaultMaxLen {
		return
	}
	bufPool.Put(b)
}
