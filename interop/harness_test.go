package interop

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/smsfw/smsfw/internal/app"
	"github.com/smsfw/smsfw/internal/config"
	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/rules"
	"github.com/smsfw/smsfw/sim"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// What the Go-driven interop tests share: an in-process simulator that
// records every PDU it reads, smsfw built by internal/app in either mode,
// and a recording TCP tap that sits between a third-party peer and
// whatever it talks to (smsfw, or the SMSC directly for the baseline).

// ---------------------------------------------------------------------------
// SMSC simulator

// smsc is an in-process simulator and what it read.
type smsc struct {
	*sim.Server
	addr string
	rec  *recorder
}

// startSMSC runs a simulator on 127.0.0.1:0; cfg.OnPDU is taken by the
// recorder.
func startSMSC(t *testing.T, cfg sim.Config) *smsc {
	t.Helper()
	rec := &recorder{}
	cfg.OnPDU = func(_ string, p pdu.PDU) { rec.add(p) }
	s := sim.New(cfg, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(s.Close)
	return &smsc{Server: s, addr: ln.Addr().String(), rec: rec}
}

// recorder keeps copies of PDUs in the order they were seen.
type recorder struct {
	mu   sync.Mutex
	pdus [][]byte
}

func (r *recorder) add(p []byte) {
	c := append([]byte(nil), p...)
	r.mu.Lock()
	r.pdus = append(r.pdus, c)
	r.mu.Unlock()
}

// of returns the recorded PDUs with command id id.
func (r *recorder) of(id pdu.CommandID) [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out [][]byte
	for _, p := range r.pdus {
		if pdu.PDU(p).ID() == id {
			out = append(out, p)
		}
	}
	return out
}

func (r *recorder) count(id pdu.CommandID) int { return len(r.of(id)) }

// checkHeld checks the answers a peer got to the parts of long messages
// (resps): straight to the SMSC each carries an id the SMSC issued;
// through smsfw, which holds the parts and answers each at once, none
// does. It returns how many carry an id the SMSC did not issue.
func checkHeld(t *testing.T, name string, s *smsc, resps [][]byte, direct bool) int {
	t.Helper()
	smscIDs := map[string]bool{}
	for _, m := range s.Messages() {
		smscIDs[m.MessageID] = true
	}
	held := 0
	for _, p := range resps {
		var mr pdu.MessageResp
		if err := pdu.ParseMessageResp(p, &mr); err != nil || len(mr.MessageID) == 0 {
			t.Errorf("%s: a part answered without a message id (%v): %x", name, err, p)
		} else if !smscIDs[string(mr.MessageID)] {
			held++
		}
	}
	want := len(resps)
	if direct {
		want = 0
	}
	if held != want {
		t.Errorf("%s: %d of %d parts answered with an id the SMSC did not issue, want %d", name, held, len(resps), want)
	}
	return held
}

// ---------------------------------------------------------------------------
// smsfw

// smsfwMode is how smsfw is configured in front of the SMSC.
type smsfwMode int

const (
	passThrough smsfwMode = iota // --upstream: the peer's bind is relayed
	configMode                   // upstreams and peers from a configuration
)

func (m smsfwMode) String() string {
	if m == configMode {
		return "config"
	}
	return "pass-through"
}

// peerAccount is the peer system_id and password configMode knows; in
// pass-through mode any bind goes through to the SMSC.
const (
	peerSystemID = "interop"
	peerPassword = "pw"
)

// startSmsfwMode runs smsfw in front of upstream. In configMode one peer
// (peerSystemID/peerPassword) is configured; extra is appended to the
// configuration's top level. policy is a policy file relative to the
// module root ("": none, every message allowed).
func startSmsfwMode(t *testing.T, mode smsfwMode, upstream, extra, policy string) *app.App {
	t.Helper()
	a := startSmsfwApp(t, mode, upstream, extra, policy)
	// As a deployment behind /readyz: peers come once smsfw is ready (in
	// config mode, its upstream pools are bound).
	testutil.Eventually(t, 5*time.Second, "smsfw ready", func() bool { ok, _ := a.Proxy.Ready(); return ok })
	return a
}

// startSmsfwApp is startSmsfwMode without waiting until smsfw is ready.
func startSmsfwApp(t *testing.T, mode smsfwMode, upstream, extra, policy string) *app.App {
	t.Helper()
	o := app.Options{Listen: "127.0.0.1:0", NoAdmin: true, DB: "none", Logger: zaptest.NewLogger(t), WatchInterval: -1}
	if policy != "" {
		src := rules.FileSource(filepath.Join(moduleRoot(t), policy))
		o.Policy = &src
	}
	switch mode {
	case passThrough:
		o.Upstream = upstream
		if extra != "" {
			cfg, err := config.Parse("interop.yaml", []byte(extra))
			if err != nil {
				t.Fatal(err)
			}
			o.Config = cfg
		}
	case configMode:
		cfg, err := config.Parse("interop.yaml", []byte(fmt.Sprintf(`
upstreams:
  smsc: {address: %q, system_id: fw, password: fwpw}
peers:
  - {system_id: %s, password: %s, class: a2p}
%s
`, upstream, peerSystemID, peerPassword, extra)))
		if err != nil {
			t.Fatal(err)
		}
		o.Config = cfg
	}
	a, err := app.New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	a.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			t.Errorf("smsfw shutdown: %v", err)
		}
	})
	return a
}

// metric returns the value of the counter or gauge name whose label has
// value (label "" for a metric without labels), 0 when absent.
func metric(t *testing.T, a *app.App, name, label, value string) float64 {
	t.Helper()
	mfs, err := a.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := label == ""
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					match = true
				}
			}
			if !match {
				continue
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

// ---------------------------------------------------------------------------
// Tap

// tap is a TCP relay between a peer (the client side) and a server (smsfw
// or the SMSC) that records every PDU both ways, unchanged, and keeps a
// ledger of requests and responses per connection and direction: each
// request must get exactly one response with its sequence number.
type tap struct {
	t      *testing.T
	ln     net.Listener
	target string

	// down: connections are accepted and closed at once (the server is
	// unreachable), as while an SMSC restarts.
	down atomic.Bool

	mu       sync.Mutex
	conns    []*tapConn
	problems []string
	wg       sync.WaitGroup
}

// tapConn is one relayed connection.
type tapConn struct {
	// up: PDUs the client sent (toward the server); down: PDUs the server
	// sent, each in stream order.
	up, down [][]byte
	// fromClient: the client's requests and the server's answers to them;
	// fromServer: the server's requests and the client's answers.
	fromClient, fromServer ledger
}

func newTapConn() *tapConn {
	return &tapConn{fromClient: ledger{open: map[uint32]*exchange{}}, fromServer: ledger{open: map[uint32]*exchange{}}}
}

// ledger tracks one side's requests by sequence number.
type ledger struct {
	open      map[uint32]*exchange // awaiting their answer
	all       []*exchange          // every request, in stream order
	responses int
}

// exchange is a request a tap saw and the response that answered it.
type exchange struct {
	req, resp pdu.PDU // resp is nil while the request is unanswered
	n         int     // the request's place in its ledger
}

func newTap(t *testing.T, target string) *tap {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tp := &tap{t: t, ln: ln, target: target}
	tp.wg.Add(1)
	go tp.accept()
	t.Cleanup(tp.close)
	return tp
}

func (tp *tap) addr() string { return tp.ln.Addr().String() }

func (tp *tap) close() {
	_ = tp.ln.Close()
	tp.wg.Wait()
}

func (tp *tap) accept() {
	defer tp.wg.Done()
	var open []net.Conn
	var mu sync.Mutex
	defer func() {
		mu.Lock()
		for _, c := range open {
			_ = c.Close()
		}
		mu.Unlock()
	}()
	for {
		c, err := tp.ln.Accept()
		if err != nil {
			return
		}
		if tp.down.Load() {
			_ = c.Close()
			continue
		}
		s, err := net.DialTimeout("tcp", tp.target, 5*time.Second)
		if err != nil {
			// Not a problem in itself (smsfw reconnecting to an SMSC that
			// is gone); whatever it loses shows in the ledgers.
			tp.t.Logf("tap: dial %s: %v", tp.target, err)
			_ = c.Close()
			continue
		}
		tc := newTapConn()
		tp.mu.Lock()
		tp.conns = append(tp.conns, tc)
		tp.mu.Unlock()
		mu.Lock()
		open = append(open, c, s)
		mu.Unlock()
		tp.wg.Add(2)
		go tp.pipe(tc, c, s, true)
		go tp.pipe(tc, s, c, false)
	}
}

// pipe copies PDUs from src to dst, recording each before it is written.
func (tp *tap) pipe(tc *tapConn, src, dst net.Conn, up bool) {
	defer tp.wg.Done()
	defer func() {
		if tcp, ok := dst.(*net.TCPConn); ok {
			_ = tcp.CloseWrite()
		}
	}()
	var hdr [pdu.HeaderLen]byte
	for {
		if _, err := io.ReadFull(src, hdr[:]); err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !isReset(err) {
				tp.problem("read: %v", err)
			}
			return
		}
		n := binary.BigEndian.Uint32(hdr[:4])
		if n < pdu.HeaderLen || n > 1<<20 {
			tp.problem("bad command_length %d", n)
			return
		}
		p := make([]byte, n)
		copy(p, hdr[:])
		if _, err := io.ReadFull(src, p[pdu.HeaderLen:]); err != nil {
			tp.problem("read body: %v", err)
			return
		}
		tp.record(tc, p, up)
		if _, err := dst.Write(p); err != nil {
			return
		}
	}
}

func isReset(err error) bool {
	return strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "use of closed")
}

func (tp *tap) record(tc *tapConn, p pdu.PDU, up bool) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	reqs, resps := &tc.fromServer, &tc.fromClient // a request from the server, a response to the client's
	if up {
		tc.up = append(tc.up, p)
		reqs, resps = &tc.fromClient, &tc.fromServer
	} else {
		tc.down = append(tc.down, p)
	}
	id, seq := p.ID(), p.Seq()
	dir := "server→client"
	if up {
		dir = "client→server"
	}
	switch {
	case id.IsResponse(): // generic_nack included
		resps.responses++
		e, ok := resps.open[seq]
		if !ok {
			tp.problems = append(tp.problems, fmt.Sprintf("%s: %v seq %d answers no open request (a duplicate or a stray)", dir, id, seq))
			return
		}
		want := e.req.ID()
		if id != pdu.GenericNack && id != want.Resp() {
			tp.problems = append(tp.problems, fmt.Sprintf("%s: %v seq %d answers a %v", dir, id, seq, want))
		}
		delete(resps.open, seq)
		e.resp = p
		if id == pdu.UnbindResp {
			// An unbind is answered after everything sent before it.
			var late []string
			for _, o := range resps.open {
				if o.n < e.n {
					late = append(late, fmt.Sprintf("%v seq %d", o.req.ID(), o.req.Seq()))
				}
			}
			if len(late) > 0 {
				sort.Strings(late)
				tp.problems = append(tp.problems, fmt.Sprintf("%s: unbind_resp seq %d before the answers to %d request(s) in flight at the unbind: %s",
					dir, seq, len(late), firstN(late, 3)))
			}
		}
	case id.HasResponse():
		if prev, ok := reqs.open[seq]; ok {
			tp.problems = append(tp.problems, fmt.Sprintf("%s: %v seq %d sent while %v seq %d is unanswered", dir, id, seq, prev.req.ID(), seq))
		}
		e := &exchange{req: p, n: len(reqs.all)}
		reqs.all = append(reqs.all, e)
		reqs.open[seq] = e
	}
}

func (tp *tap) problem(format string, a ...any) {
	tp.mu.Lock()
	tp.problems = append(tp.problems, fmt.Sprintf(format, a...))
	tp.mu.Unlock()
}

// pending is the number of requests, both ways, not answered yet.
func (tp *tap) pending() int {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	n := 0
	for _, c := range tp.conns {
		n += len(c.fromClient.open) + len(c.fromServer.open)
	}
	return n
}

// sent returns the PDUs with command id id (0: all) that the client sent
// (up) or received (!up), over all connections, each in stream order.
func (tp *tap) sent(id pdu.CommandID, up bool) [][]byte { return tp.sentOn(0, id, up) }

// sentOn is sent over the connections the client opened with bind (0:
// all), such as only its receiver session.
func (tp *tap) sentOn(bind, id pdu.CommandID, up bool) [][]byte {
	var out [][]byte
	for _, l := range tp.byConn(bind, id, up) {
		out = append(out, l...)
	}
	return out
}

// byConn is sentOn by connection, in the order the tap accepted them.
func (tp *tap) byConn(bind, id pdu.CommandID, up bool) [][][]byte {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	var out [][][]byte
	for _, c := range tp.conns {
		if bind != 0 && (len(c.up) == 0 || pdu.PDU(c.up[0]).ID() != bind) {
			continue
		}
		l := c.down
		if up {
			l = c.up
		}
		var ps [][]byte
		for _, p := range l {
			if id == 0 || pdu.PDU(p).ID() == id {
				ps = append(ps, p)
			}
		}
		out = append(out, ps)
	}
	return out
}

// tapCounts are a tap's totals over its connections.
type tapCounts struct {
	ClientRequests, ClientAnswered int // the client's requests, answers to them
	ServerRequests, ServerAnswered int // the server's requests (deliver_sm, ...), the client's answers
	Open                           int
}

func (tp *tap) counts() tapCounts {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	var c tapCounts
	for _, tc := range tp.conns {
		c.ClientRequests += len(tc.fromClient.all)
		c.ClientAnswered += tc.fromClient.responses
		c.ServerRequests += len(tc.fromServer.all)
		c.ServerAnswered += tc.fromServer.responses
		c.Open += len(tc.fromClient.open) + len(tc.fromServer.open)
	}
	return c
}

// exchanges returns the requests with command id id that the client
// (up) or the server (!up) sent, over all connections, each with the
// answer it got so far.
func (tp *tap) exchanges(id pdu.CommandID, up bool) []exchange {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	var out []exchange
	for _, c := range tp.conns {
		l := c.fromServer
		if up {
			l = c.fromClient
		}
		for _, e := range l.all {
			if e.req.ID() == id {
				out = append(out, *e)
			}
		}
	}
	return out
}

// answers counts the answers to the requests with command id id that the
// client (up) or the server (!up) sent, by status; generic_nack counts
// under its status too.
func (tp *tap) answers(id pdu.CommandID, up bool) map[pdu.Status]int {
	out := map[pdu.Status]int{}
	for _, e := range tp.exchanges(id, up) {
		if e.resp != nil {
			out[e.resp.Status()]++
		}
	}
	return out
}

// reporter is the part of *testing.T the checks use, so that the checks'
// own tests can record what they report.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
}

// check fails the test for every request not answered exactly once
// (both ways) and every relay problem seen.
func (tp *tap) check(t reporter, name string) {
	t.Helper()
	tp.mu.Lock()
	defer tp.mu.Unlock()
	for _, p := range tp.problems {
		t.Errorf("%s: %s", name, p)
	}
	for i, c := range tp.conns {
		for seq, e := range c.fromClient.open {
			t.Errorf("%s: connection %d: the client's %v seq %d never answered", name, i, e.req.ID(), seq)
		}
		for seq, e := range c.fromServer.open {
			t.Errorf("%s: connection %d: the server's %v seq %d never answered", name, i, e.req.ID(), seq)
		}
	}
}

// ---------------------------------------------------------------------------
// Comparing relayed bytes

// sameMultiset reports how the PDUs got differ from want when sequence
// numbers are ignored: every PDU wanted must have been received exactly as
// often, byte for byte; nothing else may have been received.
func sameMultiset(want, got [][]byte) error {
	key := func(p []byte) string {
		k := append([]byte(nil), p...)
		binary.BigEndian.PutUint32(k[12:16], 0)
		return string(k)
	}
	m := map[string]int{}
	for _, p := range want {
		m[key(p)]++
	}
	for _, p := range got {
		m[key(p)]--
	}
	var missing, extra []string
	nMissing, nExtra := 0, 0
	for k, n := range m {
		switch {
		case n > 0:
			missing = append(missing, fmt.Sprintf("%d× %x", n, k))
			nMissing += n
		case n < 0:
			extra = append(extra, fmt.Sprintf("%d× %x", -n, k))
			nExtra -= n
		}
	}
	if len(missing) == 0 && len(extra) == 0 {
		return nil
	}
	sort.Strings(missing)
	sort.Strings(extra)
	return fmt.Errorf("%d of %d sent PDUs missing or changed, %d unexpected received (sequence numbers ignored)\nmissing: %s\nunexpected: %s",
		nMissing, len(want), nExtra, firstN(missing, 3), firstN(extra, 3))
}

// sameAnswers reports whether every request relayed (in: as received,
// out: as sent on) got the answer the other side gave to its copy, byte
// for byte but the sequence number: answers swapped between requests, or
// one changed, show here though the answers as a multiset may be intact.
// Requests with the same bytes may share their answers in any order.
func sameAnswers(in, out []exchange) error {
	key := func(p []byte) string {
		if p == nil {
			return "unanswered"
		}
		k := append([]byte(nil), p...)
		binary.BigEndian.PutUint32(k[12:16], 0)
		return string(k)
	}
	answers := map[string]map[string]int{} // request -> answer -> count
	for _, e := range in {
		k := key(e.req)
		if answers[k] == nil {
			answers[k] = map[string]int{}
		}
		answers[k][key(e.resp)]++
	}
	for _, e := range out {
		k := key(e.req)
		if answers[k] == nil {
			answers[k] = map[string]int{}
		}
		answers[k][key(e.resp)]--
	}
	var diff []string
	n := 0
	for req, m := range answers {
		for resp, c := range m {
			if c > 0 { // an answer relayed that the other side did not give to this request
				n += c
				diff = append(diff, fmt.Sprintf("%d× %x answered %x", c, req, resp))
			}
		}
	}
	if n == 0 {
		return nil
	}
	sort.Strings(diff)
	return fmt.Errorf("%d of %d requests got another answer than the other side gave to their copy (sequence numbers ignored): %s",
		n, len(in), firstN(diff, 3))
}

func firstN(s []string, n int) string {
	if len(s) > n {
		return strings.Join(s[:n], "\n  ") + fmt.Sprintf("\n  … %d more", len(s)-n)
	}
	return strings.Join(s, "\n  ")
}

// ---------------------------------------------------------------------------
// Measurements

// figure is one measured run, logged so the README's table can be
// refreshed from `go test -v` output.
type figure struct {
	test, path string
	n          int
	d          time.Duration
	note       string
}

func logFigure(t *testing.T, f figure) {
	t.Helper()
	rate := ""
	if f.d > 0 && f.n > 0 {
		rate = fmt.Sprintf(" (%.0f/s)", float64(f.n)/f.d.Seconds())
	}
	t.Logf("FIGURE %s | %s | %d | %v%s | %s", f.test, f.path, f.n, f.d.Round(time.Millisecond), rate, f.note)
}
