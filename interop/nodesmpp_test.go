package interop

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/sim"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// node-smpp (npm package smpp, pinned in node/package-lock.json) as a
// third-party ESME, as an SMSC that does not retry and bursts without a
// window of its own, and as a peer unbinding with requests in flight; each
// straight to the other side (the baseline) and through smsfw in
// pass-through and config mode, with recording taps on both of smsfw's
// legs.

// needNode returns the node binary with interop/node's modules installed
// (npm ci in interop/node), or skips; under CI=true a missing one fails.
func needNode(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test with external processes; skipped in -short mode")
	}
	node, err := exec.LookPath("node")
	if err == nil {
		if _, err = os.Stat(filepath.Join("node", "node_modules", "smpp")); err != nil {
			err = &os.PathError{Op: "stat", Path: "interop/node/node_modules/smpp (run npm ci in interop/node)", Err: os.ErrNotExist}
		}
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("node-smpp: %v (CI=true: the CI script must install nodejs and run npm ci in interop/node)", err)
		}
		t.Skipf("node-smpp: %v", err)
	}
	return node
}

// route is how a peer reaches the other side.
type route struct {
	name   string
	direct bool      // straight to the other side, no smsfw
	mode   smsfwMode // otherwise
}

var routes = []route{{name: "direct", direct: true}, {name: "pass-through", mode: passThrough}, {name: "config", mode: configMode}}

// legs are the taps a route gives: peer sees the peer's connection
// (to smsfw, or to the SMSC when direct); smsc sees smsfw's upstream
// connection (nil when direct).
type legs struct {
	peer, smsc *tap
}

// connect builds r in front of the SMSC at smscAddr: taps on both of
// smsfw's legs, or one tap when direct. extra is appended to smsfw's
// configuration.
func connect(t *testing.T, r route, smscAddr, extra string) legs {
	t.Helper()
	if r.direct {
		return legs{peer: newTap(t, smscAddr)}
	}
	up := newTap(t, smscAddr)
	fw := startSmsfwMode(t, r.mode, up.addr(), extra, "")
	return legs{peer: newTap(t, fw.Addr()), smsc: up}
}

// waitUpstreamBound waits, through smsfw, until smsfw's upstream session
// (which a node SMSC sends its deliveries to) is bound; the peer must be
// bound already.
func (l legs) waitUpstreamBound(t *testing.T) {
	t.Helper()
	if l.smsc == nil {
		return
	}
	testutil.Eventually(t, 5*time.Second, "smsfw bound to the SMSC", func() bool {
		return len(l.smsc.sent(pdu.BindTransceiverResp, false))+len(l.smsc.sent(pdu.BindReceiverResp, false)) > 0
	})
}

// checkRelayed checks that every request on every tapped connection was
// answered exactly once, and that smsfw relayed the PDUs of the given
// kinds unchanged but for the sequence number, none lost or added:
// requests from the peer to the SMSC, and the answers and requests from
// the SMSC to the peer. When a request and its answer are both listed,
// each relayed request must also have got the very answer the other side
// gave to its copy (none swapped).
func (l legs) checkRelayed(t reporter, name string, toSMSC, toPeer []pdu.CommandID) {
	t.Helper()
	l.peer.check(t, name+": peer's connection")
	if l.smsc == nil {
		return
	}
	l.smsc.check(t, name+": smsfw's connection to the SMSC")
	for _, id := range toSMSC {
		if err := sameMultiset(l.peer.sent(id, true), l.smsc.sent(id, true)); err != nil {
			t.Errorf("%s: %v from the peer to the SMSC: %v", name, id, err)
		}
		if id.HasResponse() && slices.Contains(toPeer, id.Resp()) {
			if err := sameAnswers(l.peer.exchanges(id, true), l.smsc.exchanges(id, true)); err != nil {
				t.Errorf("%s: %v from the peer to the SMSC: %v", name, id, err)
			}
		}
	}
	for _, id := range toPeer {
		if err := sameMultiset(l.smsc.sent(id, false), l.peer.sent(id, false)); err != nil {
			t.Errorf("%s: %v from the SMSC to the peer: %v", name, id, err)
		}
		if id.HasResponse() && slices.Contains(toSMSC, id.Resp()) {
			if err := sameAnswers(l.smsc.exchanges(id, false), l.peer.exchanges(id, false)); err != nil {
				t.Errorf("%s: %v from the SMSC to the peer: %v", name, id, err)
			}
		}
	}
}

// pending is the number of requests on the tapped connections, both
// ways, not answered yet.
func (l legs) pending() int {
	n := l.peer.pending()
	if l.smsc != nil {
		n += l.smsc.pending()
	}
	return n
}

type nodeESMEResult struct {
	Result     string         `json:"result"`
	Sent       int            `json:"sent"`
	Answered   int            `json:"answered"`
	Dup        int            `json:"dup"`
	Statuses   map[string]int `json:"statuses"`
	Receipts   int            `json:"receipts"`
	AnsweredMs int            `json:"answeredMs"`
	ReceiptsMs int            `json:"receiptsMs"`
}

// runNode runs a node script to completion (bounded) and decodes the
// JSON line it prints last.
func runNode(t *testing.T, node string, out any, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %v: %v\n%s", args, err, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("node %v: %v: %q", args, err, b)
	}
}

// node-smpp as an ESME sends 3,000 MT with receipts requested (window 50):
// every submit_sm answered once with success, every receipt back and
// answered once; through smsfw the SMSC gets every submit_sm and the peer
// every receipt byte for byte but the sequence number.
func TestNodeSMPPESME(t *testing.T) {
	node := needNode(t)
	const count = 3000
	for _, r := range routes {
		t.Run(r.name, func(t *testing.T) {
			smsc := startSMSC(t, sim.Config{ReceiptDelay: 10 * time.Millisecond, Keep: -1})
			l := connect(t, r, smsc.addr, "")
			var res nodeESMEResult
			start := time.Now()
			runNode(t, node, &res, "node/esme.js", l.peer.addr(), strconv.Itoa(count), "50", peerSystemID, peerPassword)
			wall := time.Since(start)
			t.Logf("%s: %+v", r.name, res)
			if res.Result != "ok" || res.Answered != count || res.Dup != 0 || res.Statuses["0"] != count || res.Receipts != count {
				t.Errorf("%s: %+v; want %d answered once with 0 and %d receipts", r.name, res, count, count)
			}
			testutil.Eventually(t, 5*time.Second, "every request answered on the tapped connections", func() bool {
				return l.pending() == 0
			})
			if n := smsc.Stats().Messages; n != count {
				t.Errorf("%s: the SMSC got %d submit_sm, want %d", r.name, n, count)
			}
			if got := len(l.peer.sent(pdu.SubmitSMResp, false)); got != count {
				t.Errorf("%s: %d submit_sm_resp reached the peer, want %d", r.name, got, count)
			}
			if got := len(l.peer.sent(pdu.DeliverSM, false)); got != count {
				t.Errorf("%s: %d deliver_sm reached the peer, want %d", r.name, got, count)
			}
			l.checkRelayed(t, r.name, []pdu.CommandID{pdu.SubmitSM, pdu.DeliverSMResp}, []pdu.CommandID{pdu.SubmitSMResp, pdu.DeliverSM})
			logFigure(t, figure{test: "node-smpp ESME", path: r.name, n: count, d: time.Duration(res.AnsweredMs) * time.Millisecond,
				note: fmt.Sprintf("MT answered (window 50); all receipts back after %d ms; process wall %v", res.ReceiptsMs, wall.Round(time.Millisecond))})
		})
	}
}

// nodeLongCount is how many 3-part messages TestNodeSMPPLongMessages sends.
const nodeLongCount = 1000

// node-smpp as an ESME sends 1,000 concatenated messages of 3 parts (window
// 60 parts), each message's parts at once rather than stop-and-wait: GSM
// with 8-bit references and UCS-2 with 16-bit ones, every third message
// last part first; on one session, or with the parts of each message
// spread over two sessions of the same system_id. Every part answered
// once with 0 (through smsfw with smsfw's own id: held and judged whole);
// the SMSC gets every part once, byte for byte but the sequence number,
// through smsfw the parts of each message in order 1, 2, 3 whatever order
// they were sent in; one receipt comes back, and is answered 0, for every
// id the ESME was given, under that id (TLV and text alike).
func TestNodeSMPPLongMessages(t *testing.T) {
	node := needNode(t)
	const parts = 3
	for _, sessions := range []int{1, 2} {
		for _, r := range routes {
			name := fmt.Sprintf("%d-sessions/%s", sessions, r.name)
			t.Run(name, func(t *testing.T) {
				smsc := startSMSC(t, sim.Config{ReceiptDelay: 10 * time.Millisecond})
				l := connect(t, r, smsc.addr, "")
				var res struct {
					Result                            string
					Messages, Parts, Answered, Dup    int
					Statuses                          map[string]int
					Given, Receipts, Covered, Unknown int
					Twice, Mismatched                 int
					AnsweredMs, ReceiptsMs            int
				}
				start := time.Now()
				runNode(t, node, &res, "node/longmsg.js", l.peer.addr(), strconv.Itoa(nodeLongCount), "60", strconv.Itoa(sessions),
					peerSystemID, peerPassword)
				wall := time.Since(start)
				t.Logf("%s: %+v", name, res)
				n := nodeLongCount * parts
				if res.Result != "ok" || res.Answered != n || res.Dup != 0 || res.Statuses["0"] != n {
					t.Errorf("%s: %+v; want %d parts answered once with 0", name, res, n)
				}
				if res.Given != n || res.Covered != n || res.Receipts != n || res.Unknown != 0 || res.Twice != 0 || res.Mismatched != 0 {
					t.Errorf("%s: receipts %+v; want one per id given (%d), under that id in the TLV and the text", name, res, n)
				}
				testutil.Eventually(t, 5*time.Second, "every request answered on the tapped connections", func() bool { return l.pending() == 0 })
				sent := l.peer.sent(pdu.SubmitSM, true)
				if len(sent) != n {
					t.Errorf("%s: the ESME sent %d parts, want %d", name, len(sent), n)
				}
				if st := l.peer.answers(pdu.SubmitSM, true); st[0] != n || len(st) != 1 {
					t.Errorf("%s: the parts were answered %v (status: count), want %d with 0", name, st, n)
				}
				atSMSC := smsc.rec.of(pdu.SubmitSM)
				if err := sameMultiset(sent, atSMSC); err != nil {
					t.Errorf("%s: parts at the SMSC: %v", name, err)
				}
				if !r.direct {
					// No part overtakes an earlier one on any of smsfw's
					// connections to the SMSC, and every message is whole.
					checkPartOrder(t, name, l.smsc.byConn(0, pdu.SubmitSM, true)...)
				}
				// Over all connections, for the messages the ESME sent part 1
				// first (longmsg.js: message i goes to 49151 and i in 8
				// digits, last part first when i%3 == 2): with the parts on
				// two sessions the SMSC reads part 3 (session 1) before part 2
				// (session 2) for most of them straight, and so through smsfw
				// in pass-through, which relays each part on its own session's
				// leg; config mode relays them on one session, in order.
				// Logged for comparison, not a failure.
				var inOrder [][]byte
				for _, p := range atSMSC {
					var m pdu.Message
					if err := pdu.ParseMessage(p, &m); err == nil && len(m.Dst.Addr) > 5 {
						if i, err := strconv.Atoi(string(m.Dst.Addr[5:])); err == nil && i%3 != 2 {
							inOrder = append(inOrder, p)
						}
					}
				}
				var across errRecorder
				checkPartOrder(&across, name, inOrder)
				order := fmt.Sprintf("; of the messages sent part 1 first, %d parts read by the SMSC after a later part", len(across.errs))
				checkHeld(t, name, smsc, l.peer.sent(pdu.SubmitSMResp, false), r.direct)
				if st := l.peer.answers(pdu.DeliverSM, false); st[0] != n || len(st) != 1 {
					t.Errorf("%s: the ESME answered the receipts %v (status: count), want %d with 0", name, st, n)
				}
				if got := smsc.Stats().Receipts; got != uint64(n) {
					t.Errorf("%s: the SMSC's receipts accepted: %d, want %d", name, got, n)
				}
				l.checkRelayed(t, name, []pdu.CommandID{pdu.SubmitSM}, nil)
				logFigure(t, figure{test: fmt.Sprintf("node-smpp long messages, %d session(s)", sessions), path: r.name, n: nodeLongCount,
					d: time.Duration(res.AnsweredMs) * time.Millisecond,
					note: fmt.Sprintf("3-part messages, parts all answered; all %d receipts back after %d ms; process wall %v%s",
						n, res.ReceiptsMs, wall.Round(time.Millisecond), order)})
			})
		}
	}
}

type nodeSMSCResult struct {
	Result   string         `json:"result"`
	Sent     int            `json:"sent"`
	Answered int            `json:"answered"`
	Statuses map[string]int `json:"statuses"`
	Ms       int            `json:"ms"`
}

// nodeProc is a running node script: its stdin, and its stdout by line.
type nodeProc struct {
	stdin io.WriteCloser
	lines chan string
}

// startNode starts a node script, killed at the end of the test.
func startNode(t *testing.T, node string, args ...string) *nodeProc {
	t.Helper()
	cmd := exec.Command(node, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	p := &nodeProc{stdin: stdin, lines: make(chan string, 4)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	return p
}

// nodeSMSC is a node SMSC script and its address.
type nodeSMSC struct {
	*nodeProc
	addr string
}

// startNodeSMSC starts a node SMSC script, which prints its port first.
func startNodeSMSC(t *testing.T, node string, args ...string) *nodeSMSC {
	t.Helper()
	p := startNode(t, node, args...)
	var port struct{ Port int }
	readLine(t, p.lines, &port)
	if port.Port == 0 {
		t.Fatal("node smsc printed no port")
	}
	return &nodeSMSC{nodeProc: p, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port.Port))}
}

// node-smpp as an SMSC that does not retry bursts 3,000 MO and 3,000
// receipts at once, without a window, at an ESME bound through smsfw: every
// one is delivered once and answered 0, none refused (smsfw queues what
// exceeds the ESME's window instead of answering 0x58), byte for byte but
// the sequence number.
func TestNodeSMPPNonRetryingSMSCBurst(t *testing.T) {
	node := needNode(t)
	const count = 3000
	for _, r := range routes {
		t.Run(r.name, func(t *testing.T) {
			smsc := startNodeSMSC(t, node, "node/smsc.js", strconv.Itoa(count))
			l := connect(t, r, smsc.addr, "")
			var got atomic.Int32
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			cl, err := esme.Dial(ctx, l.peer.addr(), esme.Options{SystemID: peerSystemID, Password: peerPassword,
				OnDeliver: func(pdu.PDU) pdu.Status { got.Add(1); return 0 }})
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			l.waitUpstreamBound(t)
			start := time.Now()
			if _, err := io.WriteString(smsc.stdin, "go\n"); err != nil {
				t.Fatal(err)
			}
			var res nodeSMSCResult
			readLine(t, smsc.lines, &res)
			wall := time.Since(start)
			t.Logf("%s: %+v, ESME got %d, in %v", r.name, res, got.Load(), wall.Round(time.Millisecond))
			if res.Result != "ok" || res.Answered != 2*count || res.Statuses["0"] != 2*count {
				t.Errorf("%s: the SMSC's deliveries: %+v; want all %d answered 0", r.name, res, 2*count)
			}
			testutil.Eventually(t, 5*time.Second, "every request answered on the tapped connections", func() bool {
				return l.pending() == 0
			})
			if n := got.Load(); n != 2*count {
				t.Errorf("%s: the ESME got %d deliveries, want %d", r.name, n, 2*count)
			}
			if n := len(l.peer.sent(pdu.DeliverSM, false)); n != 2*count {
				t.Errorf("%s: %d deliver_sm reached the ESME, want %d", r.name, n, 2*count)
			}
			l.checkRelayed(t, r.name, []pdu.CommandID{pdu.DeliverSMResp}, []pdu.CommandID{pdu.DeliverSM})
			logFigure(t, figure{test: "node-smpp non-retrying SMSC burst", path: r.name, n: 2 * count, d: time.Duration(res.Ms) * time.Millisecond,
				note: fmt.Sprintf("%d MO + %d receipts in one burst, no SMSC window; statuses %v", count, count, res.Statuses)})
		})
	}
}

// node-smpp unbinds with 20 submits in flight while the SMSC answers them
// 500 ms later: through smsfw each gets the SMSC's answer (the same bytes
// but the sequence number), then the unbind_resp.
func TestNodeSMPPUnbindWithRequestsInFlight(t *testing.T) {
	node := needNode(t)
	const count = 20
	for _, r := range routes {
		t.Run(r.name, func(t *testing.T) {
			smsc := startSMSC(t, sim.Config{Latency: 500 * time.Millisecond})
			l := connect(t, r, smsc.addr, "")
			var res struct {
				Result     string         `json:"result"`
				Answers    int            `json:"answers"`
				Statuses   map[string]int `json:"statuses"`
				IDs        []string       `json:"ids"`
				UnbindMs   int            `json:"unbindMs"`
				UnbindLast bool           `json:"unbindLast"`
			}
			runNode(t, node, &res, "node/unbind.js", l.peer.addr(), strconv.Itoa(count), peerSystemID, peerPassword)
			t.Logf("%s: %+v", r.name, res)
			logFigure(t, figure{test: "node-smpp unbind with 20 in flight", path: r.name, n: res.Answers, d: time.Duration(res.UnbindMs) * time.Millisecond,
				note: fmt.Sprintf("answers before unbind_resp: %v; statuses %v (SMSC latency 500 ms)", res.UnbindLast, res.Statuses)})
			if r.direct {
				// The baseline shows what the simulator does; smsfw's promise
				// is checked on the other routes.
				return
			}
			if res.Result != "ok" || res.Answers != count || res.Statuses["0"] != count || !res.UnbindLast {
				t.Errorf("%s: %+v: want %d answered 0 by the SMSC, then unbind_resp", r.name, res, count)
			}
			if n := smsc.Stats().Messages; n != count {
				t.Errorf("%s: the SMSC got %d submit_sm, want %d", r.name, n, count)
			}
			// On the wire: every submit_sm_resp before the unbind_resp.
			seenUnbind := false
			for _, p := range l.peer.sent(0, false) {
				switch pdu.PDU(p).ID() {
				case pdu.UnbindResp:
					seenUnbind = true
				case pdu.SubmitSMResp:
					if seenUnbind {
						t.Errorf("%s: submit_sm_resp seq %d after unbind_resp", r.name, pdu.PDU(p).Seq())
					}
				}
			}
			testutil.Eventually(t, 5*time.Second, "smsfw's upstream requests answered", func() bool { return l.smsc.pending() == 0 })
			l.checkRelayed(t, r.name, []pdu.CommandID{pdu.SubmitSM}, []pdu.CommandID{pdu.SubmitSMResp})
		})
	}
}

// node-smpp as an SMSC unbinds with 20 MO in flight toward an ESME that
// answers each 500 ms after it arrives: the SMSC gets all 20 answers (the
// ESME's, byte for byte but the sequence number) before its unbind_resp.
func TestNodeSMPPSMSCUnbindWithDeliveriesInFlight(t *testing.T) {
	node := needNode(t)
	const count = 20
	for _, r := range routes {
		t.Run(r.name, func(t *testing.T) {
			smsc := startNodeSMSC(t, node, "node/smsc_unbind.js", strconv.Itoa(count))
			l := connect(t, r, smsc.addr, "")
			peer := startNode(t, node, "node/slow_esme.js", l.peer.addr(), "500", peerSystemID, peerPassword)
			var bound struct{ Bound bool }
			if readLine(t, peer.lines, &bound); !bound.Bound {
				t.Fatal("the node ESME did not bind")
			}
			l.waitUpstreamBound(t)
			if _, err := io.WriteString(smsc.stdin, "go\n"); err != nil {
				t.Fatal(err)
			}
			var res struct {
				Result     string         `json:"result"`
				Answers    int            `json:"answers"`
				Statuses   map[string]int `json:"statuses"`
				UnbindMs   int            `json:"unbindMs"`
				UnbindLast bool           `json:"unbindLast"`
			}
			readLine(t, smsc.lines, &res)
			t.Logf("%s: SMSC %+v", r.name, res)
			logFigure(t, figure{test: "node-smpp SMSC unbind with 20 in flight", path: r.name, n: res.Answers, d: time.Duration(res.UnbindMs) * time.Millisecond,
				note: fmt.Sprintf("answers before unbind_resp: %v; statuses %v (ESME answers after 500 ms)", res.UnbindLast, res.Statuses)})
			if res.Result != "ok" || res.Answers != count || res.Statuses["0"] != count || !res.UnbindLast {
				t.Errorf("%s: SMSC %+v: want %d deliveries answered 0, then unbind_resp", r.name, res, count)
			}
			// Pass-through, smsfw unbinds the ESME after its answers (its
			// session was the SMSC's); in config mode the ESME stays bound
			// to smsfw, whose upstream pool reconnects.
			testutil.Eventually(t, 5*time.Second, "every request answered on the tapped connections", func() bool {
				return l.pending() == 0
			})
			if n := len(l.peer.sent(pdu.DeliverSMResp, true)); n != count {
				t.Errorf("%s: the ESME answered %d deliveries, want %d", r.name, n, count)
			}
			l.checkRelayed(t, r.name, []pdu.CommandID{pdu.DeliverSMResp}, []pdu.CommandID{pdu.DeliverSM})
		})
	}
}

// readLine decodes the next JSON line from lines (bounded).
func readLine(t *testing.T, lines <-chan string, out any) {
	t.Helper()
	select {
	case line, ok := <-lines:
		if !ok {
			t.Fatal("node process ended without a result")
		}
		if err := json.Unmarshal([]byte(line), out); err != nil {
			t.Fatalf("node: %v: %q", err, line)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("node process gave no result within 60 s")
	}
}
