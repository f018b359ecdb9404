package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Child is `smsfw run` in a process of its own. The in-process targets share
// one heap with the load generator and the simulator, so only a child
// process gives smsfw's own memory and goroutine figures.
type Child struct {
	SMPP  string // SMPP address it listens on
	Admin string // admin HTTP address
	PID   int

	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	tail []string // last lines of its log, for error messages
	err  error    // exit status once done
}

// ChildOptions start a child.
type ChildOptions struct {
	Binary   string // the smsfw executable
	Upstream string // SMSC address
	Rules    string // policy file ("" allows all)
	// Ready bounds the wait for both listeners (default 2 min: loading a
	// 1M-entry number list takes a few seconds, longer under -race).
	Ready time.Duration
	// Relay starts `smsfw bench --serve-relay` instead: the plain TCP
	// relay, the baseline, in a process of its own (no admin listener).
	Relay bool
	// Env is added to the child's environment (e.g. GOMAXPROCS=1).
	Env []string
}

// StartChild runs `smsfw run` on kernel-chosen loopback ports and waits until
// it listens; the addresses come from its JSON log.
func StartChild(ctx context.Context, o ChildOptions) (*Child, error) {
	if o.Ready == 0 {
		o.Ready = 2 * time.Minute
	}
	// All load comes from loopback: no per-source connection cap (a
	// config without peers is still pass-through).
	cf, err := os.CreateTemp("", "smsfw-bench-*.yaml")
	if err != nil {
		return nil, err
	}
	_, werr := cf.WriteString("max_connections_per_source: 1048576\n")
	if err := errors.Join(werr, cf.Close()); err != nil {
		_ = os.Remove(cf.Name())
		return nil, err
	}
	args := []string{"run", "--config", cf.Name(), "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--upstream", o.Upstream,
		"--log-format", "json", "--log-level", "info"}
	if o.Rules != "" {
		args = append(args, "--rules", o.Rules)
	}
	if o.Relay {
		args = []string{"bench", "--serve-relay", o.Upstream}
	}
	// Not CommandContext: the child is stopped with SIGTERM by Stop, and a
	// cancelled ctx must not SIGKILL it behind our back.
	cmd := exec.Command(o.Binary, args...)
	if len(o.Env) > 0 {
		cmd.Env = append(os.Environ(), o.Env...)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		_ = os.Remove(cf.Name())
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		_ = os.Remove(cf.Name())
		return nil, fmt.Errorf("start %s: %w", o.Binary, err)
	}
	c := &Child{cmd: cmd, PID: cmd.Process.Pid, done: make(chan struct{})}
	addrs := make(chan [2]string, 8)
	logged := make(chan struct{})
	go func() {
		c.readLog(stderr, addrs)
		close(logged)
	}()
	go func() {
		// Wait closes the pipe: read it to its end first, or the child's
		// last lines (why it failed) are lost.
		<-logged
		err := cmd.Wait()
		_ = os.Remove(cf.Name())
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
		close(c.done)
	}()
	timeout := time.NewTimer(o.Ready)
	defer timeout.Stop()
	for c.SMPP == "" || c.Admin == "" && !o.Relay {
		select {
		case a := <-addrs:
			if a[0] == "listening" {
				c.SMPP = a[1]
			} else {
				c.Admin = a[1]
			}
		case <-c.done:
			return nil, fmt.Errorf("smsfw child exited before listening (%v):\n%s", c.exitErr(), c.Tail())
		case <-timeout.C:
			c.Stop()
			return nil, fmt.Errorf("smsfw child not listening within %v:\n%s", o.Ready, c.Tail())
		case <-ctx.Done():
			c.Stop()
			return nil, ctx.Err()
		}
	}
	return c, nil
}

func (c *Child) readLog(r io.Reader, addrs chan<- [2]string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		c.mu.Lock()
		c.tail = append(c.tail, line)
		if len(c.tail) > 20 {
			c.tail = c.tail[1:]
		}
		c.mu.Unlock()
		var e struct{ Msg, Addr string }
		if json.Unmarshal([]byte(line), &e) == nil && (e.Msg == "listening" || e.Msg == "admin listening") && e.Addr != "" {
			select {
			case addrs <- [2]string{e.Msg, e.Addr}:
			default:
			}
		}
	}
	_, _ = io.Copy(io.Discard, r)
}

func (c *Child) exitErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Tail returns the last lines the child logged.
func (c *Child) Tail() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.tail, "\n")
}

// Exited reports whether the child has ended.
func (c *Child) Exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Stop asks the child to shut down (SIGTERM) and kills it if it has not
// exited within 15 s.
func (c *Child) Stop() {
	if c.Exited() {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(15 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// RSSMiB is the child's resident memory (VmRSS).
func (c *Child) RSSMiB() (float64, error) { return procRSSMiB(c.PID) }

// Threads is the child's OS thread count.
func (c *Child) Threads() (int, error) {
	v, err := procStatus(c.PID, "Threads:")
	return int(v), err
}

// Goroutines reads go_goroutines from the child's /metrics.
func (c *Child) Goroutines(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.Admin+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return int(f), err
		}
	}
	return 0, errors.New("no go_goroutines in the child's /metrics")
}

// procRSSMiB reads VmRSS of pid ("self" for this process).
func procRSSMiB(pid int) (float64, error) {
	kb, err := procStatus(pid, "VmRSS:")
	return kb / 1024, err
}

// procStatus reads a numeric field of /proc/PID/status (pid 0: self).
func procStatus(pid int, field string) (float64, error) {
	path := "/proc/self/status"
	if pid > 0 {
		path = fmt.Sprintf("/proc/%d/status", pid)
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field); ok {
			return strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
		}
	}
	return 0, fmt.Errorf("%s: no %s", path, field)
}

// BuildSMSFW compiles the smsfw command into out with `go build` (tests:
// the test binary is not smsfw; the command itself uses os.Executable).
func BuildSMSFW(ctx context.Context, out string) error {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("go not on PATH to build smsfw: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "build", "-o", out, "github.com/smsfw/smsfw/cmd/smsfw")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build smsfw: %v\n%s", err, b)
	}
	return nil
}

// CPUProfile waits for delay, then records the child's CPU profile for d
// (its admin /debug/pprof/profile) into path.
func (c *Child) CPUProfile(ctx context.Context, delay, d time.Duration, path string) error {
	select {
	case <-time.After(delay):
	case <-ctx.Done():
		return ctx.Err()
	}
	secs := max(int(d.Round(time.Second)/time.Second), 1)
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", c.Admin, secs), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", req.URL, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	_, cerr := io.Copy(f, resp.Body)
	return errors.Join(cerr, f.Close())
}
