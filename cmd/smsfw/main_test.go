package main

// End-to-end tests of the smsfw binary: each test runs `smsfw sim`,
// `smsfw run`, ... as subprocesses (built once in TestMain, with -race when
// the tests run with -race) on loopback ports chosen by the kernel; the
// addresses are read from the processes' JSON logs.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/sim"
	"github.com/smsfw/smsfw/smpp/pdu"
)

var smsfwBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "smsfw-main-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	smsfwBin = filepath.Join(dir, "smsfw")
	if err := build(smsfwBin); err != nil {
		fmt.Fprintln(os.Stderr, err)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// build compiles this package into out, with the race detector when this
// test binary has it.
func build(out string) error {
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	args := []string{"build", "-o", out}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" && s.Value == "true" {
				args = append(args, "-race")
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, append(args, ".")...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return nil
}

// syncBuffer is a bytes.Buffer safe for the process's copier and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// logBuffer keeps a process's stderr and parses its JSON log lines.
type logBuffer struct {
	mu      sync.Mutex
	raw     bytes.Buffer
	partial []byte
	entries []map[string]any
	changed chan struct{}
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.raw.Write(p)
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		var e map[string]any
		if json.Unmarshal(l.partial[:i], &e) == nil {
			l.entries = append(l.entries, e)
		}
		l.partial = l.partial[i+1:]
	}
	close(l.changed)
	l.changed = make(chan struct{})
	return len(p), nil
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.raw.String()
}

// find returns the first entry with message msg, and a channel closed at the next write.
func (l *logBuffer) find(msg string) (map[string]any, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.entries {
		if e["msg"] == msg {
			return e, nil
		}
	}
	return nil, l.changed
}

// proc is a running smsfw subprocess, killed (with its process group) at
// the end of the test.
type proc struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	stdout syncBuffer
	stderr logBuffer
	done   chan struct{}
	err    error // cmd.Wait's result, set before done is closed
}

func startProc(t *testing.T, args ...string) *proc {
	t.Helper()
	return startCmd(t, exec.Command(smsfwBin, args...))
}

// startCmd starts cmd (smsfw, possibly through a wrapper such as ip netns
// exec) as a proc.
func startCmd(t *testing.T, cmd *exec.Cmd) *proc {
	t.Helper()
	p := &proc{t: t, name: strings.Join(cmd.Args, " "), done: make(chan struct{}), cmd: cmd}
	p.stderr.changed = make(chan struct{})
	p.cmd.Stdout = &p.stdout
	p.cmd.Stderr = &p.stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p.cmd.WaitDelay = 5 * time.Second
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				t.Errorf("%s: not reaped after SIGKILL", p.name)
			}
		}
		if strings.Contains(p.stderr.String(), "WARNING: DATA RACE") {
			t.Errorf("%s: data race", p.name)
		}
		if t.Failed() {
			t.Logf("%s\n--- stderr:\n%s--- stdout:\n%s", p.name, p.stderr.String(), p.stdout.String())
		}
	})
	return p
}

// wait waits for the process to exit and returns its exit code (-1 when
// killed by a signal).
func (p *proc) wait(d time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		p.t.Fatalf("%s: still running after %v", p.name, d)
	}
	var ee *exec.ExitError
	if p.err != nil && !errors.As(p.err, &ee) {
		p.t.Fatalf("%s: %v", p.name, p.err)
	}
	return p.cmd.ProcessState.ExitCode()
}

// logged waits for a log entry with message msg.
func (p *proc) logged(msg string, d time.Duration) map[string]any {
	p.t.Helper()
	timeout := time.After(d)
	for {
		e, changed := p.stderr.find(msg)
		if e != nil {
			return e
		}
		select {
		case <-changed:
		case <-p.done:
			if e, _ := p.stderr.find(msg); e != nil {
				return e
			}
			p.t.Fatalf("%s exited (%v) before logging %q", p.name, p.err, msg)
		case <-timeout:
			p.t.Fatalf("%s: no %q log entry within %v", p.name, msg, d)
		}
	}
}

// addr returns the "addr" field of the log entry with message msg.
func (p *proc) addr(msg string) string {
	p.t.Helper()
	a, _ := p.logged(msg, 10*time.Second)["addr"].(string)
	if a == "" {
		p.t.Fatalf("%s: log entry %q has no addr", p.name, msg)
	}
	return a
}

// runProc runs smsfw to completion (bounded) and returns exit code, stdout and stderr.
func runProc(t *testing.T, d time.Duration, args ...string) (int, string, string) {
	t.Helper()
	p := startProc(t, args...)
	code := p.wait(d)
	return code, p.stdout.String(), p.stderr.String()
}

type simProc struct {
	*proc
	smpp, api string
}

func startSim(t *testing.T, extra ...string) simProc {
	t.Helper()
	p := startProc(t, append([]string{"sim", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--log-format", "json"}, extra...)...)
	return simProc{proc: p, smpp: p.addr("simulator listening"), api: p.addr("simulator API listening")}
}

func (s simProc) messages(t *testing.T) []sim.Message {
	t.Helper()
	code, body := httpGet(t, "http://"+s.api+"/v1/messages")
	if code != http.StatusOK {
		t.Fatalf("GET /v1/messages: %d %s", code, body)
	}
	var msgs []sim.Message
	if err := json.Unmarshal([]byte(body), &msgs); err != nil {
		t.Fatalf("GET /v1/messages: %v: %s", err, body)
	}
	return msgs
}

func (s simProc) stats(t *testing.T) sim.Stats {
	t.Helper()
	code, body := httpGet(t, "http://"+s.api+"/v1/stats")
	var st sim.Stats
	if code != http.StatusOK || json.Unmarshal([]byte(body), &st) != nil {
		t.Fatalf("GET /v1/stats: %d %s", code, body)
	}
	return st
}

type runProcess struct {
	*proc
	smpp, admin string
}

// startRun starts `smsfw run` with JSON logs and waits until it listens.
func startRun(t *testing.T, args ...string) runProcess {
	t.Helper()
	p := startProc(t, append([]string{"run"}, args...)...) // JSON lines by default
	admin := p.addr("admin listening")
	return runProcess{proc: p, admin: admin, smpp: p.addr("listening")}
}

var httpClient = &http.Client{Timeout: 3 * time.Second}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := httpClient.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

func waitStatus(t *testing.T, url string, want int) string {
	t.Helper()
	var code int
	var body string
	testutil.Eventually(t, 10*time.Second, "GET "+url+" "+strconv.Itoa(want), func() bool {
		code, body = httpGet(t, url)
		return code == want
	})
	return body
}

func ctx5s(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func dial(t *testing.T, addr string, o esme.Options) *esme.Client {
	t.Helper()
	cl, err := esme.Dial(ctx5s(t), addr, o)
	if err != nil {
		t.Fatalf("bind %s to %s: %v", o.SystemID, addr, err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func submit(text string) []byte {
	return pdu.AppendSM(nil, pdu.SubmitSM, 0, &pdu.SMFields{SrcTON: 5, Src: "Shop", DstTON: 1, DstNPI: 1,
		Dst: "4915112345678", ShortMessage: []byte(text)})
}

func TestRunPassThrough(t *testing.T) {
	t.Parallel()
	s := startSim(t)
	r := startRun(t, "--listen", "127.0.0.1:0", "--upstream", s.smpp, "--admin", "127.0.0.1:0")
	admin := "http://" + r.admin
	if body := waitStatus(t, admin+"/readyz", http.StatusOK); !strings.Contains(body, "reachable") {
		t.Fatalf("readyz: %s", body)
	}
	if code, body := httpGet(t, admin+"/healthz"); code != http.StatusOK || !strings.Contains(body, `"ok"`) {
		t.Fatalf("healthz: %d %s", code, body)
	}
	if code, body := httpGet(t, admin+"/"); code != http.StatusOK || !strings.Contains(body, "/console/app.js") {
		t.Fatalf("console: %d %.100s", code, body)
	}

	cl := dial(t, r.smpp, esme.Options{SystemID: "acme", Password: "pw"})
	resp, err := cl.Do(ctx5s(t), submit("hello through smsfw"))
	if err != nil || resp.Status != pdu.StatusOK || resp.MessageID == "" {
		t.Fatalf("submit: %v %+v", err, resp)
	}

	// Prometheus' text format sorts labels by name. A request and its
	// response share the command label (pdu.CommandID.Index): the
	// submit_sm_resp counts as command="submit_sm" on the other direction.
	want := []string{
		`smsfw_proxy_pdus_total{command="submit_sm",direction="in",leg="downstream"} 1`,
		`smsfw_proxy_pdus_total{command="submit_sm",direction="out",leg="upstream"} 1`,
		`smsfw_proxy_pdus_total{command="submit_sm",direction="in",leg="upstream"} 1`,
		`smsfw_proxy_pdus_total{command="submit_sm",direction="out",leg="downstream"} 1`,
		`smsfw_proxy_responses_total{command="submit_sm",leg="downstream",status="ok"} 1`,
		`smsfw_proxy_sessions{leg="downstream"} 1`,
	}
	var metrics string
	testutil.Eventually(t, 3*time.Second, "/metrics counts the submit both ways and the session", func() bool {
		var code int
		code, metrics = httpGet(t, admin+"/metrics")
		for _, w := range want {
			if code != http.StatusOK || !hasLine(metrics, w) {
				return false
			}
		}
		return true
	})
	if !strings.Contains(metrics, "go_goroutines") || !strings.Contains(metrics, "process_cpu_seconds_total") {
		t.Fatal("runtime and process collectors missing from /metrics")
	}

	msgs := s.messages(t)
	if len(msgs) != 1 {
		t.Fatalf("simulator has %d messages: %+v", len(msgs), msgs)
	}
	m := msgs[0]
	if m.Text != "hello through smsfw" || m.SystemID != "acme" || m.MessageID != resp.MessageID ||
		m.From != "Shop" || m.To != "4915112345678" || m.Command != "submit_sm" {
		t.Fatalf("simulator message %+v, peer got id %q", m, resp.MessageID)
	}
	if err := cl.Unbind(ctx5s(t)); err != nil {
		t.Fatalf("unbind: %v", err)
	}
}

// grepLines returns the lines of text starting with one of prefixes.
func grepLines(text string, prefixes ...string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		for _, p := range prefixes {
			if strings.HasPrefix(l, p) {
				out = append(out, l)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}

func hasLine(text, line string) bool {
	for _, l := range strings.Split(text, "\n") {
		if l == line {
			return true
		}
	}
	return false
}

// SIGTERM drains in-flight requests, unbinds bound peers and exits 0.
func TestRunSIGTERMGraceful(t *testing.T) {
	t.Parallel()
	s := startSim(t, "--latency", "400ms")
	r := startRun(t, "--listen", "127.0.0.1:0", "--upstream", s.smpp, "--admin", "127.0.0.1:0")
	waitStatus(t, "http://"+r.admin+"/readyz", http.StatusOK)
	cl := dial(t, r.smpp, esme.Options{SystemID: "acme", Password: "pw"})

	// SIGHUP is not a shutdown.
	if err := r.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	r.logged("SIGHUP: nothing to reload", 5*time.Second)
	if resp, err := cl.Do(ctx5s(t), submit("after SIGHUP")); err != nil || resp.Status != pdu.StatusOK {
		t.Fatalf("submit after SIGHUP: %v %+v", err, resp)
	}

	// A connection that never binds must not hold up the shutdown
	// (bind_timeout is 10s; the process must exit well before).
	idle, err := net.Dial("tcp", r.smpp)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()

	resps := make(chan esme.Resp, 1)
	if _, err := cl.Send(submit("in flight at SIGTERM"), func(r esme.Resp) { resps <- r }); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 3*time.Second, "simulator has the message", func() bool { return s.stats(t).Messages == 2 })
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case resp := <-resps:
		if resp.Err != nil || resp.Status != pdu.StatusOK || resp.MessageID == "" {
			t.Fatalf("in-flight submit not drained: %+v", resp)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("in-flight submit never answered")
	}
	select {
	case <-cl.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("bound client still connected 5s after SIGTERM")
	}
	// The client ends with exactly esme.ErrClosed only when it read an
	// unbind (and answered it); a dropped connection would be io.EOF.
	if _, err := cl.Send(submit("late"), func(esme.Resp) {}); err != esme.ErrClosed {
		t.Fatalf("client ended with %v, want an unbind from smsfw (esme.ErrClosed)", err)
	}
	if code := r.wait(5 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	for _, msg := range []string{"signal received; shutting down", "draining", "stopped"} {
		r.logged(msg, time.Second)
	}
}

func TestConfigCheck(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := runProc(t, 10*time.Second, "config", "check", "testdata/valid.yaml")
	if code != 0 || stdout != "testdata/valid.yaml: ok\n" {
		t.Fatalf("valid: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	for file, want := range map[string]string{
		"testdata/invalid-unknown-key.yaml": "testdata/invalid-unknown-key.yaml:7: field passwd not found in type proxy.Peer",
		"testdata/invalid-window.yaml":      `testdata/invalid-window.yaml:4: upstream "smsc": window 20000 outside [1, 10000]`,
		"testdata/invalid-syntax.yaml":      "testdata/invalid-syntax.yaml:3: found character that cannot start any token",
		"testdata/no-such-file.yaml":        "no such file or directory",
	} {
		code, stdout, stderr := runProc(t, 10*time.Second, "config", "check", file)
		if code != 1 || !strings.Contains(stderr, "smsfw config: ") || !strings.Contains(stderr, want) || stdout != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 1 and %q", file, code, stdout, stderr, want)
		}
	}
	code, _, stderr = runProc(t, 10*time.Second, "config", "lint", "testdata/valid.yaml")
	if code != 1 || !strings.Contains(stderr, "usage: smsfw config check FILE") {
		t.Errorf("config lint: exit %d, stderr %q", code, stderr)
	}
}

// Config mode: peers authenticate against the file; the upstream account is
// smsfw's own.
// TestRunAdminAuth: with admin_auth, everything on the admin server but
// /healthz needs a credential.
func TestRunAdminAuth(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "smsfw.yaml")
	// token_sha256 is the SHA-256 of "token".
	cfg := `admin: 127.0.0.1:0
admin_auth:
  tokens:
    - name: ci
      token_sha256: 3c469e9d6c5875d37a43f353d4f88e61fcf812c66eee3457465a40b0da4153e0
`
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	r := startRun(t, "--config", file, "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:1")
	base := "http://" + r.admin
	for _, c := range []struct {
		path, token string
		code        int
	}{{"/healthz", "", 200}, {"/metrics", "", 401}, {"/", "", 401}, {"/metrics", "wrong", 401},
		{"/metrics", "token", 200}, {"/", "token", 200}, {"/console/app.js", "token", 200}} {
		req, _ := http.NewRequest("GET", base+c.path, nil)
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.code {
			t.Errorf("GET %s (token %q): %d, want %d", c.path, c.token, resp.StatusCode, c.code)
		}
	}
}

func TestRunConfigPeers(t *testing.T) {
	t.Parallel()
	s := startSim(t, "--accounts", "op:oppw")
	file := filepath.Join(t.TempDir(), "smsfw.yaml")
	cfg := fmt.Sprintf(`listen: 127.0.0.1:0
admin: 127.0.0.1:0
upstreams:
  smsc:
    address: %s
    system_id: op
    password: oppw
peers:
  - system_id: acme
    password: acmepw
    class: a2p
    allowed_cidrs: [127.0.0.0/8]
`, s.smpp)
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	// listen and admin come from the file.
	r := startRun(t, "--config", file)
	waitStatus(t, "http://"+r.admin+"/readyz", http.StatusOK)

	for _, c := range []struct {
		sys, pw string
		want    pdu.Status
	}{{"acme", "wrong", pdu.StatusInvPaswd}, {"nobody", "acmepw", pdu.StatusInvSysID}} {
		cl, err := esme.Dial(ctx5s(t), r.smpp, esme.Options{SystemID: c.sys, Password: c.pw})
		var be *esme.BindError
		if err == nil {
			cl.Close()
		}
		if !errors.As(err, &be) || be.Status != c.want {
			t.Fatalf("%s/%s: %v, want bind status %v", c.sys, c.pw, err, c.want)
		}
	}
	cl := dial(t, r.smpp, esme.Options{SystemID: "acme", Password: "acmepw"})
	resp, err := cl.Do(ctx5s(t), submit("configured peer"))
	if err != nil || resp.Status != pdu.StatusOK || resp.MessageID == "" {
		t.Fatalf("submit: %v %+v", err, resp)
	}
	msgs := s.messages(t)
	if len(msgs) != 1 || msgs[0].SystemID != "op" || msgs[0].Text != "configured peer" {
		t.Fatalf("simulator messages %+v", msgs)
	}
	_, metrics := httpGet(t, "http://"+r.admin+"/metrics")
	for _, w := range []string{
		`smsfw_proxy_bind_events_total{leg="downstream",result="invalid_password"} 1`,
		`smsfw_proxy_bind_events_total{leg="downstream",result="invalid_system_id"} 1`,
		`smsfw_proxy_upstream_sessions_bound{upstream="smsc"} 1`,
	} {
		if !hasLine(metrics, w) {
			t.Errorf("metrics lack %s", w)
		}
	}

	// The SMSC dies: smsfw stays up, reports not ready and answers 0x08.
	if err := syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	s.wait(5 * time.Second)
	if body := waitStatus(t, "http://"+r.admin+"/readyz", http.StatusServiceUnavailable); !strings.Contains(body, "acme") {
		t.Fatalf("readyz without SMSC: %s", body)
	}
	resp, err = cl.Do(ctx5s(t), submit("no SMSC"))
	if err != nil || resp.Status != pdu.StatusSysErr {
		t.Fatalf("submit without SMSC: %v %+v, want 0x08", err, resp)
	}
	if code, _ := httpGet(t, "http://"+r.admin+"/healthz"); code != http.StatusOK {
		t.Fatalf("healthz %d without SMSC", code)
	}
}

var doneLine = regexp.MustCompile(`^done after (\S+): (\d+) MT sent, (\d+) accepted, (\d+) refused, (\d+) receipts, (\d+) MO, (\d+) MO pushed$`)

func TestDemo(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := runProc(t, 20*time.Second, "demo", "--duration", "3s", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0")
	if code != 0 {
		t.Fatalf("exit %d\nstderr: %s", code, stderr)
	}
	if !strings.Contains(stdout, "accepted") {
		t.Fatalf("no live counts in stdout:\n%s", stdout)
	}
	lines := strings.Split(strings.TrimRight(stdout, "\n"), "\n")
	last := lines[len(lines)-1]
	m := doneLine.FindStringSubmatch(last)
	if m == nil {
		t.Fatalf("last line %q is not the summary\nstdout:\n%s", last, stdout)
	}
	n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
	sent, accepted, refused := n(2), n(3), n(4)
	// The demo mixes fraud attempts (about 2 in 7) into legitimate traffic and
	// runs the shipped policy: both outcomes must show.
	if accepted <= 0 || refused <= 0 || accepted+refused > sent {
		t.Fatalf("summary %q: want accepted > 0, refused > 0, accepted+refused <= sent", last)
	}
	// The first MO is injected at once: the demo's receiver got it.
	if n(7) < 1 || !strings.Contains(stdout, `MO receiver got #1 from 491700000001 to 12345: "STOP" (route demo-inbound, smsfw-mo-1)`) {
		t.Fatalf("no MO pushed to the demo's receiver:\n%s", stdout)
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args   []string
		code   int
		stdout string // substring
		stderr string // substring
	}{
		{args: []string{"bogus"}, code: 2, stderr: `smsfw: unknown command "bogus"`},
		{args: nil, code: 2, stderr: "usage: smsfw <command>"},
		{args: []string{"run", "--listen"}, code: 1, stderr: "flag needs an argument: -listen"},
		{args: []string{"run", "--no-such-flag"}, code: 1, stderr: "flag provided but not defined: -no-such-flag"},
		{args: []string{"run", "--admin", "", "--upstream", "127.0.0.1:1", "extra"}, code: 1, stderr: "unexpected arguments: [extra]"},
		{args: []string{"run", "--listen", "not-an-address", "--admin", "", "--upstream", "127.0.0.1:1"}, code: 1, stderr: "smsfw run: listen tcp: address not-an-address"},
		{args: []string{"run", "--listen", "127.0.0.1:0", "--admin", ""}, code: 1, stderr: "pass-through mode needs an upstream address"},
		{args: []string{"run", "--listen", "127.0.0.1:0", "--admin", "0.0.0.0:0", "--upstream", "127.0.0.1:1"}, code: 1,
			stderr: "non-loopback address and admin_auth has no tokens or users"},
		{args: []string{"run", "--log-format", "xml", "--admin", ""}, code: 1, stderr: "--log-format must be console or json"},
		{args: []string{"run", "--config", "testdata/invalid-unknown-key.yaml", "--admin", ""}, code: 1, stderr: "testdata/invalid-unknown-key.yaml:7: field passwd"},
		{args: []string{"sim", "--error-rate", "2"}, code: 1, stderr: "--error-rate must be within 0..1"},
		{args: []string{"demo", "--rate", "0"}, code: 1, stderr: "--rate must be positive"},
		{args: []string{"run", "-h"}, code: 0, stdout: "-listen"},
		{args: []string{"help"}, code: 0, stdout: "commands:"},
		{args: []string{"version"}, code: 0, stdout: "smsfw dev"},
	}
	for _, c := range cases {
		code, stdout, stderr := runProc(t, 10*time.Second, c.args...)
		if code != c.code || !strings.Contains(stdout, c.stdout) || !strings.Contains(stderr, c.stderr) {
			t.Errorf("smsfw %q: exit %d (want %d)\nstdout: %s\nstderr: %s\nwant stdout ~ %q, stderr ~ %q",
				c.args, code, c.code, stdout, stderr, c.stdout, c.stderr)
		}
	}
}

func TestSimSIGTERM(t *testing.T) {
	t.Parallel()
	s := startSim(t)
	// The sim logs its addresses before it installs its signal handler; a
	// completed bind means the accept loop, started after it, runs.
	cl := dial(t, s.smpp, esme.Options{SystemID: "bound"})
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := s.wait(5 * time.Second); code != 0 {
		t.Fatalf("sim exit code %d after SIGTERM", code)
	}
	select {
	case <-cl.Done():
	case <-time.After(3 * time.Second):
		t.Fatal("bound client not disconnected")
	}
}

func TestSimSIGTERMWithUnboundConnection(t *testing.T) {
	t.Parallel()
	s := startSim(t)
	// A completed bind means the accept loop, hence the signal handler, runs.
	dial(t, s.smpp, esme.Options{SystemID: "bound"})
	nc, err := net.Dial("tcp", s.smpp)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	testutil.Eventually(t, 5*time.Second, "the simulator holds the unbound connection", func() bool {
		return s.stats(t).Connections == 2
	})
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := s.wait(5 * time.Second); code != 0 {
		t.Fatalf("sim exit code %d after SIGTERM", code)
	}
}

// A policy reloads on POST /-/reload and on SIGHUP; a bad file is refused
// and the running policy stays.
func TestRunRulesReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.yaml")
	write := func(body string) {
		if err := os.WriteFile(policy, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const base = "version: 1\ndefault: allow\nlists:\n  kw: {type: keywords, items: [casino]}\ndetectors:\n  content: {keywords: kw}\nrules:\n  - {id: spam, when: det.keyword, action: block}\n"
	write(base)
	s := startSim(t)
	r := startRun(t, "--listen", "127.0.0.1:0", "--upstream", s.smpp, "--admin", "127.0.0.1:0", "--rules", policy)
	admin := "http://" + r.admin
	waitStatus(t, admin+"/readyz", http.StatusOK)
	cl := dial(t, r.smpp, esme.Options{SystemID: "acme", Password: "pw"})
	if resp, err := cl.Do(ctx5s(t), submit("big casino night")); err != nil || resp.Status != pdu.StatusSubmitFail {
		t.Fatalf("keyword not blocked: %v %+v", err, resp)
	}
	if resp, err := cl.Do(ctx5s(t), submit("lottery tonight")); err != nil || resp.Status != 0 {
		t.Fatalf("before reload: %v %+v", err, resp)
	}
	post := func() int {
		resp, err := httpClient.Post(admin+"/-/reload", "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	write(strings.Replace(base, "items: [casino]", "items: [casino, lottery]", 1))
	if code := post(); code != http.StatusOK {
		t.Fatalf("reload: %d", code)
	}
	if resp, err := cl.Do(ctx5s(t), submit("lottery tonight")); err != nil || resp.Status != pdu.StatusSubmitFail {
		t.Fatalf("after reload: %v %+v", err, resp)
	}
	write("version: 1\ndefault: allow\nrules: [{id: x}]\n")
	if code := post(); code != http.StatusUnprocessableEntity {
		t.Fatalf("bad policy reload: %d", code)
	}
	_, metrics := httpGet(t, admin+"/metrics")
	if !hasLine(metrics, "smsfw_rules_last_reload_successful 0") {
		t.Fatalf("metrics:\n%s", grepLines(metrics, "smsfw_rules_"))
	}
	if resp, err := cl.Do(ctx5s(t), submit("lottery tonight")); err != nil || resp.Status != pdu.StatusSubmitFail {
		t.Fatalf("old policy not kept: %v %+v", err, resp)
	}
	// SIGHUP reloads too.
	write(base)
	if err := r.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "SIGHUP reload", func() bool {
		resp, err := cl.Do(ctx5s(t), submit("lottery tonight"))
		return err == nil && resp.Status == 0
	})
}
