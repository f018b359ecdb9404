package interop

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"


	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/sim"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// node-smpp (npm package smpp, pinned in node/package-lock.json) as a
// third-party ESME and as an SMSC that does not retry and bursts without a
// window of its own, both through smsfw in pass-through mode.

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

type nodeESMEResult struct {
	Result   string         `json:"result"`
	Sent     int            `json:"sent"`
	Answered int            `json:"answered"`
	Dup      int            `json:"dup"`
	Statuses map[string]int `json:"statuses"`
	Receipts int            `json:"receipts"`
}

// 3,000 MT with receipts from node-smpp through smsfw: every submit_sm
// answered once with success, every receipt back; the same run straight
// to the simulator is the baseline.
func TestNodeSMPPESME(t *testing.T) {
	node := needNode(t)
	const count = 3000
	run := func(name, addr string) nodeESMEResult {
		start := time.Now()
		out, err := exec.Command(node, "node/esme.js", addr, "3000", "50").Output()
		if err != nil {
			t.Fatalf("%s: node esme: %v\n%s", name, err, out)
		}
		var r nodeESMEResult
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("%s: %v: %q", name, err, out)
		}
		t.Logf("%s: %+v in %v", name, r, time.Since(start).Round(time.Millisecond))
		return r
	}
	s := sim.New(sim.Config{ReceiptDelay: 10 * time.Millisecond, Keep: -1}, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(s.Close)
	direct := run("direct", ln.Addr().String())
	a := startSmsfw(t, ln.Addr().String())
	through := run("through smsfw", a.Addr())
	for name, r := range map[string]nodeESMEResult{"direct": direct, "through smsfw": through} {
		if r.Result != "ok" || r.Answered != count || r.Dup != 0 || r.Statuses["0"] != count || r.Receipts != count {
			t.Errorf("%s: %+v; want %d answered once with 0 and %d receipts", name, r, count, count)
		}
	}
	if n := s.Stats().Messages; n != 2*count {
		t.Errorf("simulator got %d submit_sm, want %d", n, 2*count)
	}
}

type nodeSMSCResult struct {
	Result   string         `json:"result"`
	Sent     int            `json:"sent"`
	Answered int            `json:"answered"`
	Statuses map[string]int `json:"statuses"`
}

// node-smpp as an SMSC that does not retry bursts 3,000 MO and 3,000
// receipts at an ESME bound through smsfw, without a window: every one is
// delivered and acknowledged, none refused (smsfw queues what exceeds the
// ESME's window instead of answering 0x58).
func TestNodeSMPPNonRetryingSMSCBurst(t *testing.T) {
	node := needNode(t)
	const count = 3000
	cmd := exec.Command(node, "node/smsc.js", "3000")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 2)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var port struct{ Port int }
	select {
	case l := <-lines:
		if err := json.Unmarshal([]byte(l), &port); err != nil || port.Port == 0 {
			t.Fatalf("node smsc: %q", l)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("node smsc did not start")
	}
	a := startSmsfw(t, net.JoinHostPort("127.0.0.1", itoa(port.Port)))
	var got atomic.Int32
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cl, err := esme.Dial(ctx, a.Addr(), esme.Options{SystemID: "app", Password: "pw",
		OnDeliver: func(pdu.PDU) pdu.Status { got.Add(1); return 0 }})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	start := time.Now()
	var r nodeSMSCResult
	select {
	case l := <-lines:
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("node smsc: %q", l)
		}
	case <-time.After(90 * time.Second):
		t.Fatal("node smsc did not finish")
	}
	t.Logf("through smsfw: %+v, ESME got %d, in %v", r, got.Load(), time.Since(start).Round(time.Millisecond))
	if r.Result != "ok" || r.Answered != 2*count || r.Statuses["0"] != 2*count {
		t.Fatalf("SMSC's deliveries: %+v; want all %d answered 0", r, 2*count)
	}
	testutil.Eventually(t, 5*time.Second, "ESME got every delivery", func() bool { return int(got.Load()) == 2*count })
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// node-smpp unbinds with 20 submits in flight while the SMSC answers them
// 500 ms later: each gets the SMSC's answer, then the unbind_resp.
func TestNodeSMPPUnbindWithRequestsInFlight(t *testing.T) {
	node := needNode(t)
	s := sim.New(sim.Config{Latency: 500 * time.Millisecond, Keep: -1}, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(s.Close)
	a := startSmsfw(t, ln.Addr().String())
	out, err := exec.Command(node, "node/unbind.js", a.Addr(), "20").Output()
	if err != nil {
		t.Fatalf("node unbind: %v\n%s", err, out)
	}
	var r struct {
		Result     string         `json:"result"`
		Answers    int            `json:"answers"`
		Statuses   map[string]int `json:"statuses"`
		UnbindLast bool           `json:"unbindLast"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("%v: %q", err, out)
	}
	t.Logf("%+v", r)
	if r.Result != "ok" || r.Answers != 20 || r.Statuses["0"] != 20 || !r.UnbindLast {
		t.Fatalf("%+v: want 20 answered 0 by the SMSC, then unbind_resp", r)
	}
	if n := s.Stats().Messages; n != 20 {
		t.Fatalf("SMSC got %d", n)
	}
}
