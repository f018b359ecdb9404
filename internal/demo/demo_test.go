package demo

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/mo"
	"github.com/smsfw/smsfw/rules"
)

// The demo relays the peer's traffic through smsfw (the shipped policy
// refuses some of it), delivers receipts, and pushes the simulator's MO to
// its receiver; Close removes its temporary directory.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var got []mo.Message
	d, err := New(ctx, Options{Listen: "127.0.0.1:0", Admin: "127.0.0.1:0", Rate: 100, OnMO: func(m mo.Message, key string) {
		mu.Lock()
		defer mu.Unlock()
		if key == "" {
			t.Errorf("MO %s pushed without an idempotency key", m.ID)
		}
		got = append(got, m)
	}})
	if err != nil {
		t.Fatal(err)
	}
	dir := d.dir
	if err := d.Run(ctx); err != nil {
		d.Close()
		t.Fatal(err)
	}
	testutil.Eventually(t, 20*time.Second, "MT accepted and refused, receipts back, an MO pushed to the receiver", func() bool {
		c := d.Counts()
		mu.Lock()
		defer mu.Unlock()
		return c.Accepted > 0 && c.Refused > 0 && c.Receipts > 0 && len(got) > 0
	})
	cancel()
	pushed := d.StopMO()
	d.Close()
	mu.Lock()
	defer mu.Unlock()
	if pushed != len(got) || got[0].Destination != ShortCode || got[0].Text != "STOP" || got[0].Route != "demo-inbound" {
		t.Fatalf("pushed %d, got %+v", pushed, got)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temporary directory left behind: %v", err)
	}
}

// smsfw failing to start is an AppError, and nothing is left running.
func TestDemoAppError(t *testing.T) {
	src := rules.FileSource(t.TempDir() + "/missing.yaml")
	_, err := New(context.Background(), Options{Listen: "127.0.0.1:0", Admin: "127.0.0.1:0", Rate: 1, Policy: &src})
	var ae *AppError
	if !errors.As(err, &ae) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%v: want an AppError for the missing policy", err)
	}
}
