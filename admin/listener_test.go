package admin

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"

	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/smsfw/smsfw/internal/testutil"
)

// Connections over a cap are closed at once and counted by the limit they
// hit; one source holding its share does not keep another out.
func TestListenerCaps(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := NewMetrics(nil)
	ln := NewListener(raw, Limits{Max: 5, PerSource: 3}, m, nil)
	defer ln.Close()
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	var held []net.Conn
	defer func() {
		for _, c := range held {
			_ = c.Close()
		}
	}()
	dial := func(from string) net.Conn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Skipf("cannot dial from %s here: %v", from, err)
		}
		held = append(held, c)
		return c
	}
	closedAtOnce := func(c net.Conn) bool {
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		_, err := c.Read(make([]byte, 1))
		return !errors.Is(err, os.ErrDeadlineExceeded)
	}
	for i := 0; i < 3; i++ {
		dial("127.0.0.1")
	}
	testutil.Eventually(t, 2*time.Second, "three open", func() bool { return ln.Open() == 3 })
	if c := dial("127.0.0.1"); !closedAtOnce(c) {
		t.Fatal("fourth connection from one source not closed")
	}
	if v := promtest.ToFloat64(m.connsRefused.WithLabelValues(limitPerSource)); v != 1 {
		t.Fatalf("per_source refusals %v", v)
	}
	// Another source still gets in, up to the total cap.
	dial("127.0.0.2")
	dial("127.0.0.2")
	testutil.Eventually(t, 2*time.Second, "five open", func() bool { return ln.Open() == 5 })
	if c := dial("127.0.0.3"); !closedAtOnce(c) {
		t.Fatal("sixth connection over the total cap not closed")
	}
	if v := promtest.ToFloat64(m.connsRefused.WithLabelValues(limitTotal)); v != 1 {
		t.Fatalf("total refusals %v", v)
	}
	// Closing one gives its slot back.
	(<-accepted).Close()
	testutil.Eventually(t, 2*time.Second, "a slot freed", func() bool { return ln.Open() == 4 })
	dial("127.0.0.3")
	testutil.Eventually(t, 2*time.Second, "five open again", func() bool { return ln.Open() == 5 })
}

// The admin server ends idle and slow connections.
func TestNewServerTimeouts(t *testing.T) {
	s := NewServer(nil, nil)
	if s.ReadHeaderTimeout <= 0 || s.ReadTimeout <= 0 || s.WriteTimeout < s.ReadTimeout || s.IdleTimeout <= 0 {
		t.Fatalf("timeouts: header %v, read %v, write %v, idle %v", s.ReadHeaderTimeout, s.ReadTimeout, s.WriteTimeout, s.IdleTimeout)
	}
}
