//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/internal/testutil/netns"
)

// `smsfw run` with the eBPF shield in a network namespace of its own:
// SIGTERM detaches the program (logged) and the process exits 0, leaving
// nothing attached to the interface.
func TestRunSIGTERMDetachesShield(t *testing.T) {
	p := netns.New(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "smsfw.yaml")
	if err := os.WriteFile(cfg, []byte("bpf:\n  enabled: true\n  interfaces: ["+p.ServerIf+"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := startCmd(t, exec.Command("ip", "netns", "exec", p.Server.Name, smsfwBin, "run", "--config", cfg,
		"--listen", "[::]:0", "--upstream", "127.0.0.1:1", "--admin", "127.0.0.1:0", "--db", "none"))
	r.logged("listening", 10*time.Second)
	if e, _ := r.stderr.find("eBPF shield not loaded"); e != nil {
		t.Skipf("kernel refused the eBPF program: %v", e["error"])
	}
	att := r.logged("eBPF shield attached", 5*time.Second)
	xdp, tcx, err := p.Server.Attached(p.ServerIf)
	if err != nil || xdp == "" && tcx == 0 {
		t.Fatalf("logged %v, but the kernel has nothing attached to %s (%v)", att["attachments"], p.ServerIf, err)
	}
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := r.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	r.logged("eBPF shield detached", time.Second)
	testutil.Eventually(t, 5*time.Second, "nothing attached to the interface", func() bool {
		xdp, tcx, err := p.Server.Attached(p.ServerIf)
		return err == nil && xdp == "" && tcx == 0
	})
}
