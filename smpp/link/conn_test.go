package link

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// pair returns a Conn with write timeout d and the raw socket of its peer.
func pair(t *testing.T, d time.Duration) (*Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	c := New(nc, 0, d)
	t.Cleanup(func() { c.Abort(); _ = peer.Close() })
	return c, peer
}

// A connection that keeps writing to a peer that keeps reading never hits
// its write timeout, however long it runs: the deadline moves on.
func TestWriteDeadlineMovesOn(t *testing.T) {
	c, peer := pair(t, 100*time.Millisecond)
	go func() { _, _ = io.Copy(io.Discard, peer) }()
	raw := pdu.AppendHeaderOnly(nil, pdu.EnquireLink, 0, 1)
	for end := time.Now().Add(600 * time.Millisecond); time.Now().Before(end); {
		if err := c.Write(raw); err != nil {
			t.Fatalf("write to a reading peer failed after the write timeout: %v", err)
		}
		time.Sleep(5 * time.Millisecond) // a paced writer, not synchronisation
	}
}

// A peer that stops reading is dropped once the write timeout passes.
func TestWriteTimeoutDropsAStuckPeer(t *testing.T) {
	c, _ := pair(t, 100*time.Millisecond)
	big := make([]byte, 64*1024)
	copy(big, pdu.AppendHeaderOnly(nil, pdu.EnquireLink, 0, 1))
	done := make(chan error, 1)
	go func() {
		for {
			if err := c.Write(big); err != nil { // fills the socket buffers, then blocks
				done <- err
				return
			}
		}
	}()
	var err error
	testutil.Eventually(t, 10*time.Second, "the write to a stuck peer failed", func() bool {
		select {
		case err = <-done:
			return true
		default:
			return false
		}
	})
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("write error %v, want a timeout", err)
	}
	if !c.IsClosed() {
		t.Fatal("the connection stays open after a write timeout")
	}
}
