// Package sim is an SMSC simulator: it accepts ESME binds, answers
// submit_sm / submit_multi / data_sm with message ids, sends delivery
// receipts when asked, injects mobile-originated messages, and can add
// latency, errors and stalls. smsfw's tests, demo and benchmarks run against
// it because Debian has no usable SMPP server.
package sim

import (
	"context"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/smsfw/smsfw/smpp/link"
	"github.com/smsfw/smsfw/smpp/pdu"
	smstext "github.com/smsfw/smsfw/smpp/text"
)

// Config tunes the simulator.
type Config struct {
	// Latency delays every response to a message (submit_sm, data_sm, submit_multi).
	Latency time.Duration
	// ErrorRate is the fraction of messages answered with ErrorStatus.
	ErrorRate float64
	// ErrorStatus defaults to ESME_RSYSERR (temporary).
	ErrorStatus pdu.Status
	// ReceiptDelay is how long after the submit a requested receipt is sent (default 1s).
	ReceiptDelay time.Duration
	// ReceiptsElsewhere sends a receipt over another bound receiver of the
	// system_id than the bind that submitted the message, when there is
	// one (as SMSCs spreading deliveries over a system_id's binds do).
	ReceiptsElsewhere bool
	// MessageIDFormat is "dec" (default) or "hex".
	MessageIDFormat string
	// Accounts maps system_id to password; empty accepts every bind.
	Accounts map[string]string
	// Keep is how many recent messages are kept for Messages (default 10000;
	// negative keeps none and skips text decoding: benchmark mode).
	Keep int
	// OnPDU, when set, sees every PDU the simulator reads (tests check relayed bytes with it).
	OnPDU func(systemID string, p pdu.PDU)
	// Window bounds the deliveries (MO, receipts) unanswered per session
	// (0: no bound).
	Window int
	// RetrySchedule is when a delivery the ESME refused with a temporary
	// status (or did not answer, or had no receiver for) is tried again;
	// empty: never (every attempt is final). MaxPending bounds deliveries
	// waiting for a retry (default 100000); beyond it they expire.
	RetrySchedule []time.Duration
	MaxPending    int
	// DeliveryTimeout is how long a delivery waits for the ESME's answer
	// (default 30s).
	DeliveryTimeout time.Duration
}

// Message is a message the simulator accepted.
type Message struct {
	SystemID           string    `json:"system_id"`
	From               string    `json:"from"`
	To                 string    `json:"to"`
	Text               string    `json:"text"`
	DataCoding         int       `json:"data_coding"`
	RegisteredDelivery int       `json:"registered_delivery"`
	ESMClass           int       `json:"esm_class"`
	MessageID          string    `json:"message_id"`
	Command            string    `json:"command"`
	Time               time.Time `json:"time"`
}

// Stats are the simulator's counters.
type Stats struct {
	Binds    uint64 `json:"binds"`
	Sessions int    `json:"sessions"`
	// Connections are the open connections, bound or not.
	Connections int    `json:"connections"`
	Messages    uint64 `json:"messages"`
	Errors      uint64 `json:"errors"`
	Receipts    uint64 `json:"receipts"` // receipts the ESMEs accepted
	MO          uint64 `json:"mo"`       // MO the ESMEs accepted
	Duplicates  uint64 `json:"duplicate_sequence_numbers"`
	// Deliveries (MO and receipts) not accepted: retried (attempts after
	// the first), refused for good, expired (the schedule ran out, or no
	// schedule), dropped (MaxPending were waiting for a retry), and waiting
	// for a retry now.
	Retries uint64 `json:"delivery_retries"`
	Refused uint64 `json:"deliveries_refused"`
	Expired uint64 `json:"deliveries_expired"`
	Dropped uint64 `json:"deliveries_dropped"`
	Pending int64  `json:"deliveries_pending"`
	// The same per kind.
	MODelivery      DeliveryStats `json:"mo_delivery"`
	ReceiptDelivery DeliveryStats `json:"receipt_delivery"`
}

// ErrNoReceiver is returned by InjectMO when no receiver/transceiver is bound.
var ErrNoReceiver = errors.New("sim: no receiver or transceiver bound")

// Server is the simulator.
type Server struct {
	cfg Config
	log *zap.Logger

	mu       sync.Mutex
	sessions map[*session]struct{} // bound
	conns    map[*session]struct{} // every connection, bound or not
	closed   bool
	msgs     []Message
	next     int
	full     bool
	lns      []net.Listener

	stalled  atomic.Bool
	ids      atomic.Uint64
	binds    atomic.Uint64
	messages atomic.Uint64
	errs     atomic.Uint64
	receipts atomic.Uint64
	mo       atomic.Uint64
	dups     atomic.Uint64
	pending  atomic.Int64
	wg       sync.WaitGroup

	moCounts, receiptCounts kindCounters
}

// New returns a simulator.
func New(cfg Config, log *zap.Logger) *Server {
	if cfg.ReceiptDelay == 0 {
		cfg.ReceiptDelay = time.Second
	}
	if cfg.ErrorStatus == 0 {
		cfg.ErrorStatus = pdu.StatusSysErr
	}
	if cfg.Keep == 0 {
		cfg.Keep = 10000
	}
	if cfg.MaxPending == 0 {
		cfg.MaxPending = 100000
	}
	if cfg.DeliveryTimeout == 0 {
		cfg.DeliveryTimeout = 30 * time.Second
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Server{cfg: cfg, log: log.Named("sim"), sessions: map[*session]struct{}{}, conns: map[*session]struct{}{}}
}

// Serve accepts ESMEs on ln until Close.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	s.lns = append(s.lns, ln)
	s.mu.Unlock()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serve(nc)
		}()
	}
}

// Close stops listening and drops every session.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	for _, ln := range s.lns {
		_ = ln.Close()
	}
	for ss := range s.conns {
		ss.c.Abort()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// DropConnections aborts every session at once (an SMSC crash).
func (s *Server) DropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ss := range s.sessions {
		ss.c.Abort()
	}
}

// Stall makes the simulator stop answering messages (they are never answered) while on.
func (s *Server) Stall(on bool) { s.stalled.Store(on) }

// SetLatency changes the response latency.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	s.cfg.Latency = d
	s.mu.Unlock()
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	n, conns := len(s.sessions), len(s.conns)
	s.mu.Unlock()
	mo, rc := s.moCounts.snapshot(), s.receiptCounts.snapshot()
	return Stats{Binds: s.binds.Load(), Sessions: n, Connections: conns, Messages: s.messages.Load(), Errors: s.errs.Load(),
		Receipts: s.receipts.Load(), MO: s.mo.Load(), Duplicates: s.dups.Load(),
		Retries: mo.Retries + rc.Retries, Refused: mo.Refused + rc.Refused, Expired: mo.Expired + rc.Expired,
		Dropped: mo.Dropped + rc.Dropped, Pending: s.pending.Load(), MODelivery: mo, ReceiptDelivery: rc}
}

// Messages returns the kept messages, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.full {
		return append([]Message(nil), s.msgs...)
	}
	out := make([]Message, 0, len(s.msgs))
	out = append(out, s.msgs[s.next:]...)
	return append(out, s.msgs[:s.next]...)
}

func (s *Server) keep(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.msgs) < s.cfg.Keep {
		s.msgs = append(s.msgs, m)
		return
	}
	s.full = true
	s.msgs[s.next] = m
	s.next = (s.next + 1) % len(s.msgs)
}

// appendID appends message id number n in the configured format.
func (s *Server) appendID(dst []byte, n uint64) []byte {
	if s.cfg.MessageIDFormat == "hex" {
		return strconv.AppendUint(dst, n+0xA000000, 16)
	}
	return strconv.AppendUint(dst, n+1000000, 10)
}

type session struct {
	s        *Server
	c        *link.Conn
	systemID string
	bind     pdu.CommandID

	mu      sync.Mutex
	waiting map[uint32]chan pdu.Status // MO and receipts awaiting deliver_sm_resp
	open    map[uint32]struct{}        // messages not yet answered: a reused sequence number is a duplicate
	drained chan struct{}              // signalled when a delayed answer leaves open (unbind waits for it)
	done    chan struct{}              // closed when the connection ends: nobody will answer
	window  chan struct{}              // deliveries unanswered (nil: no bound)
}

func (ss *session) canReceive() bool {
	return ss.bind == pdu.BindReceiver || ss.bind == pdu.BindTransceiver
}

func (s *Server) serve(nc net.Conn) {
	ss := &session{s: s, c: link.New(nc, 0, 30*time.Second), waiting: map[uint32]chan pdu.Status{}, open: map[uint32]struct{}{}, done: make(chan struct{}), drained: make(chan struct{}, 1)}
	if s.cfg.Window > 0 {
		ss.window = make(chan struct{}, s.cfg.Window)
	}
	s.mu.Lock()
	s.conns[ss] = struct{}{}
	closed := s.closed
	s.mu.Unlock()
	if closed {
		ss.c.Abort()
	}
	defer func() {
		s.mu.Lock()
		delete(s.sessions, ss)
		delete(s.conns, ss)
		s.mu.Unlock()
		ss.c.Close()
		close(ss.done)
	}()
	for {
		p, err := ss.c.Read()
		if err != nil {
			var fe *pdu.FrameError
			if errors.As(err, &fe) {
				_ = ss.c.Write(pdu.AppendGenericNack(nil, pdu.StatusInvCmdLen, fe.Seq))
			}
			return
		}
		if !ss.handle(p) {
			return
		}
		if ss.c.Buffered() == 0 {
			ss.c.Flush()
		}
	}
}

// respond queues a response from the read loop; the loop flushes at the end of each batch.
func (ss *session) respond(req pdu.CommandID, st pdu.Status, seq uint32, id string) {
	_ = ss.c.AppendWith(func(b []byte) []byte { return pdu.AppendResp(b, req, st, seq, id) })
}

func (ss *session) handle(p pdu.PDU) bool {
	s := ss.s
	id := p.ID()
	if s.cfg.OnPDU != nil {
		s.cfg.OnPDU(ss.systemID, p)
	}
	if id.IsResponse() {
		ss.mu.Lock()
		ch := ss.waiting[p.Seq()]
		delete(ss.waiting, p.Seq())
		ss.mu.Unlock()
		if ch != nil {
			ch <- p.Status()
		}
		return true
	}
	if id.IsMessage() {
		// parsed in onMessage
	} else if err := pdu.Validate(p); err != nil {
		if id.Known() {
			ss.respond(id, pdu.StatusOf(err), p.Seq(), "")
		} else {
			_ = ss.c.Write(pdu.AppendGenericNack(nil, pdu.StatusInvCmdID, p.Seq()))
		}
		return true
	}
	switch {
	case id.IsBind():
		var b pdu.Bind
		_ = pdu.ParseBind(p, &b)
		if ss.bind != 0 {
			ss.respond(id, pdu.StatusAlyBnd, p.Seq(), "")
			return true
		}
		if len(s.cfg.Accounts) > 0 {
			pw, ok := s.cfg.Accounts[string(b.SystemID)]
			if !ok {
				ss.respond(id, pdu.StatusInvSysID, p.Seq(), "")
				return true
			}
			if pw != string(b.Password) {
				ss.respond(id, pdu.StatusInvPaswd, p.Seq(), "")
				return true
			}
		}
		ss.systemID, ss.bind = string(b.SystemID), id
		s.mu.Lock()
		s.sessions[ss] = struct{}{}
		s.mu.Unlock()
		s.binds.Add(1)
		ss.respond(id, pdu.StatusOK, p.Seq(), "smsfwsim")
	case id == pdu.EnquireLink:
		ss.respond(id, pdu.StatusOK, p.Seq(), "")
	case id == pdu.Unbind:
		// Like a real SMSC, answer what was accepted before confirming.
		ss.awaitAnswers()
		ss.respond(id, pdu.StatusOK, p.Seq(), "")
		return false
	case ss.bind == 0:
		ss.respond(id, pdu.StatusInvBndSts, p.Seq(), "")
	case id == pdu.SubmitSM || id == pdu.DataSM || id == pdu.SubmitMulti:
		ss.onMessage(p)
	case id == pdu.QuerySM:
		var q pdu.Query
		_ = pdu.ParseQuery(p, &q)
		b := pdu.NewBuilder(nil, pdu.QuerySMResp, 0, p.Seq())
		b.CBytes(q.MessageID).CString("").Byte(pdu.StateDelivered).Byte(0)
		_ = ss.c.Write(b.Done())
	case id == pdu.CancelSM || id == pdu.ReplaceSM:
		ss.respond(id, pdu.StatusOK, p.Seq(), "")
	default:
		ss.respond(id, pdu.StatusInvBndSts, p.Seq(), "")
	}
	return true
}

func (ss *session) onMessage(p pdu.PDU) {
	s := ss.s
	var m pdu.Message
	if err := pdu.ParseMessage(p, &m); err != nil {
		ss.respond(p.ID(), pdu.StatusOf(err), p.Seq(), "")
		return
	}
	s.messages.Add(1)
	id := p.ID()
	seq := p.Seq()
	ss.mu.Lock()
	if _, dup := ss.open[seq]; dup {
		s.dups.Add(1)
	}
	ss.open[seq] = struct{}{}
	ss.mu.Unlock()
	st := pdu.StatusOK
	if s.cfg.ErrorRate > 0 && rand.Float64() < s.cfg.ErrorRate {
		st = s.cfg.ErrorStatus
		s.errs.Add(1)
	}
	var idNum uint64
	var msgID string
	if st == pdu.StatusOK {
		idNum = s.ids.Add(1)
		if s.cfg.Keep > 0 || m.RegisteredDelivery&0x03 != 0 || s.stalled.Load() || s.latency() > 0 {
			msgID = string(s.appendID(nil, idNum))
		}
	}
	if s.cfg.Keep > 0 && st == pdu.StatusOK {
		s.keep(Message{SystemID: ss.systemID, From: string(m.Src.Addr), To: string(m.Dst.Addr), Text: text(&m),
			DataCoding: int(m.DataCoding), RegisteredDelivery: int(m.RegisteredDelivery), ESMClass: int(m.ESMClass),
			MessageID: msgID, Command: id.String(), Time: time.Now()})
	}
	if st == pdu.StatusOK && m.RegisteredDelivery&0x03 != 0 {
		r := &pdu.Receipt{MessageID: msgID, SrcTON: m.Dst.TON, SrcNPI: m.Dst.NPI, Src: string(m.Dst.Addr),
			DstTON: m.Src.TON, DstNPI: m.Src.NPI, Dst: string(m.Src.Addr), State: pdu.StateDelivered,
			Submitted: time.Now(), Text: receiptText(&m)}
		time.AfterFunc(s.cfg.ReceiptDelay, func() { s.sendReceipt(ss, r) })
	}
	if s.stalled.Load() {
		return
	}
	if lat := s.latency(); lat > 0 {
		time.AfterFunc(lat, func() { ss.answer(id, st, seq, msgID) })
		return
	}
	ss.mu.Lock()
	delete(ss.open, seq)
	ss.mu.Unlock()
	// The common case allocates nothing: the id is formatted into the write buffer.
	_ = ss.c.AppendWith(func(b []byte) []byte {
		r := pdu.NewBuilder(b, id.Resp(), st, seq)
		if st == pdu.StatusOK {
			var tmp [24]byte
			r.CBytes(s.appendID(tmp[:0], idNum))
			if id == pdu.SubmitMulti {
				r.Byte(0) // no_unsuccess
			}
		}
		return r.Done()
	})
}

func (s *Server) latency() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg.Latency
}

// answer writes a delayed response (from a timer, not the read loop).
func (ss *session) answer(id pdu.CommandID, st pdu.Status, seq uint32, msgID string) {
	// Written before it leaves open, so an unbind_resp never overtakes it.
	_ = ss.c.WriteWith(func(b []byte) []byte { return pdu.AppendResp(b, id, st, seq, msgID) })
	ss.mu.Lock()
	delete(ss.open, seq)
	ss.mu.Unlock()
	select {
	case ss.drained <- struct{}{}:
	default:
	}
}

// awaitAnswers waits until every message of the session has had its
// (delayed) answer, for at most the latency plus a second; stalled
// messages are never answered, so it does not wait for them.
func (ss *session) awaitAnswers() {
	if ss.s.stalled.Load() {
		return
	}
	deadline := time.NewTimer(ss.s.latency() + time.Second)
	defer deadline.Stop()
	for {
		ss.mu.Lock()
		n := len(ss.open)
		ss.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-ss.drained:
		case <-deadline.C:
			return
		}
	}
}

// text decodes a message's text for display (UDH stripped).
func text(m *pdu.Message) string {
	ud := m.Payload()
	if m.UDHI() {
		if n, _, _, err := smstext.ParseUDH(ud); err == nil {
			ud = ud[n:]
		}
	}
	out, err := smstext.Decode(nil, m.DataCoding, ud)
	if err != nil {
		return "hex:" + hex.EncodeToString(ud)
	}
	return string(out)
}

// receiptText is the receipt's "text:" field: the first 20 characters of
// the original. The receipt is sent with data_coding 0 (GSM 03.38,
// unpacked), so only characters that are the same octet in GSM 03.38 and
// ASCII are kept; anything else is written '?'.
func receiptText(m *pdu.Message) string {
	var b []byte
	for _, r := range text(m) {
		if len(b) == 20 {
			break
		}
		if !sameInGSM(r) {
			r = '?'
		}
		b = append(b, byte(r))
	}
	return string(b)
}

// sameInGSM reports whether r is the same octet in ASCII and in the GSM
// 03.38 default alphabet ('@', '$', '_', '`' and the escape-table
// characters [ \ ] ^ { | } ~ are not).
func sameInGSM(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	}
	return strings.ContainsRune(" !\"#%&'()*+,-./:;<=>?", r)
}

// receiver picks a bound session of systemID ("" = any) that can receive.
func (s *Server) receiver(systemID string, prefer *session) *session {
	if prefer != nil && prefer.canReceive() && !prefer.c.IsClosed() {
		return prefer
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for ss := range s.sessions {
		if ss.canReceive() && (systemID == "" || ss.systemID == systemID) && !ss.c.IsClosed() {
			return ss
		}
	}
	return nil
}

func (s *Server) sendReceipt(origin *session, r *pdu.Receipt) {
	r.Done = time.Now()
	prefer := origin
	if s.cfg.ReceiptsElsewhere {
		if other := s.otherReceiver(origin); other != nil {
			prefer = other
		}
	}
	s.deliverAsync(&delivery{kind: kindReceipt, systemID: origin.systemID, prefer: prefer, raw: pdu.AppendReceipt(nil, 0, r)})
}

// otherReceiver picks a bound receiver of origin's system_id other than origin.
func (s *Server) otherReceiver(origin *session) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ss := range s.sessions {
		if ss != origin && ss.canReceive() && ss.systemID == origin.systemID && !ss.c.IsClosed() {
			return ss
		}
	}
	return nil
}

// request sends a deliver_sm and waits for its response.
func (ss *session) request(ctx context.Context, raw []byte) (pdu.Status, error) {
	seq := ss.c.NextSeq()
	pdu.PDU(raw).SetSeq(seq)
	ch := make(chan pdu.Status, 1)
	ss.mu.Lock()
	ss.waiting[seq] = ch
	ss.mu.Unlock()
	defer func() {
		ss.mu.Lock()
		delete(ss.waiting, seq)
		ss.mu.Unlock()
	}()
	if err := ss.c.Write(raw); err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, ss.s.cfg.DeliveryTimeout)
	defer cancel()
	select {
	case st := <-ch:
		return st, nil
	case <-ss.done:
		return 0, net.ErrClosed
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// MO is a mobile-originated message to inject.
type MO struct {
	SystemID string `json:"system_id"`
	From     string `json:"from"`
	To       string `json:"to"`
	Text     string `json:"text"`
}

// InjectMO sends a deliver_sm to a bound receiver (of mo.SystemID if set)
// and returns the status of the first attempt; with a RetrySchedule, a
// temporary refusal is retried in the background.
func (s *Server) InjectMO(ctx context.Context, mo MO) (pdu.Status, error) {
	st, _, err := s.deliverSync(ctx, &delivery{kind: kindMO, systemID: mo.SystemID, raw: moPDU(mo)})
	return st, err
}

// DeliverMO is InjectMO that also says whether the MO is still on its way
// (retrying: a retry is scheduled) when the first attempt was not accepted.
func (s *Server) DeliverMO(ctx context.Context, mo MO) (st pdu.Status, retrying bool, err error) {
	return s.deliverSync(ctx, &delivery{kind: kindMO, systemID: mo.SystemID, raw: moPDU(mo)})
}

func moPDU(mo MO) []byte {
	f := &pdu.SMFields{SrcTON: 1, SrcNPI: 1, Src: mo.From, DstTON: 0, DstNPI: 1, Dst: mo.To}
	var ud []byte
	if smstext.CanGSM7(mo.Text) {
		ud, _ = smstext.EncodeGSM7(nil, mo.Text)
	} else {
		f.DataCoding = 8
		ud = smstext.EncodeUCS2(nil, mo.Text)
	}
	if len(ud) <= 254 {
		f.ShortMessage = ud
	} else {
		f.TLVs = pdu.AppendTLV(nil, pdu.TagMessagePayload, ud)
	}
	return pdu.AppendSM(nil, pdu.DeliverSM, 0, f)
}

// InjectReceipt sends a delivery receipt for messageID (which the simulator
// need not have issued: tests use it to forge receipts) to a bound receiver
// of systemID ("" = any) and returns the status it answered with.
func (s *Server) InjectReceipt(ctx context.Context, systemID, from, to, messageID string) (pdu.Status, error) {
	target := s.receiver(systemID, nil)
	if target == nil {
		return 0, ErrNoReceiver
	}
	now := time.Now()
	r := &pdu.Receipt{MessageID: messageID, SrcTON: 1, SrcNPI: 1, Src: from, DstTON: 5, Dst: to,
		State: pdu.StateDelivered, Submitted: now, Done: now}
	st, _, err := s.deliverSync(ctx, &delivery{kind: kindReceipt, systemID: systemID, prefer: target, raw: pdu.AppendReceipt(nil, 0, r)})
	return st, err
}
