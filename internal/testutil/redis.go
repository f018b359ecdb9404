package testutil

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Redis is a redis-server of a test's own, on a loopback port, without
// persistence: Kill and Restart it to test what happens when it goes away.
type Redis struct {
	Addr string
	t    testing.TB
	cmd  *exec.Cmd
	bin  string
	port string
}

// StartRedis starts redis-server (Debian package redis-server) on a free
// port of 127.0.0.1 and stops it when the test ends. Without the binary the
// test is skipped, except under CI=true, where it fails (.ci/run installs
// it).
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not installed (apt-get install redis-server)")
		}
		t.Skip("redis-server is not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	r := &Redis{Addr: net.JoinHostPort("127.0.0.1", port), t: t, bin: bin, port: port}
	r.Restart()
	t.Cleanup(r.Kill)
	return r
}

// Restart starts the server again on its port (empty: nothing is saved),
// and waits until it answers.
func (r *Redis) Restart() {
	r.t.Helper()
	if r.cmd != nil {
		r.t.Fatal("redis-server is running")
	}
	r.cmd = exec.Command(r.bin, "--port", r.port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--daemonize", "no", "--loglevel", "warning", "--dir", r.t.TempDir())
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	Eventually(r.t, 10*time.Second, "redis-server answers on "+r.Addr, func() bool { return r.ping() == nil })
}

// Kill stops the server at once (SIGKILL), as a crash would.
func (r *Redis) Kill() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

func (r *Redis) ping() error {
	c, err := net.DialTimeout("tcp", r.Addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("redis answered %q", line)
	}
	return nil
}

// CPU returns the CPU time the running server used so far (user and
// system, from /proc; 0 where there is none), for benchmarks that share
// the machine with it.
func (r *Redis) CPU() time.Duration {
	if r.cmd == nil {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", r.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	f := strings.Fields(s) // from field 3 (state) on
	if len(f) < 13 {
		return 0
	}
	var utime, stime int64
	fmt.Sscan(f[11], &utime)
	fmt.Sscan(f[12], &stime)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticks
}
