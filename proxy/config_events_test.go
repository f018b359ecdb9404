package proxy

import (
	"testing"

	"github.com/smsfw/smsfw/internal/yamlx"
)

func TestEventsBudgetConfig(t *testing.T) {
	c, err := ParseConfig("events.yaml", []byte(`
events:
  queue_bytes: 256MiB
  peer_queue_bytes: 16777216
  text_max_bytes: 2KiB
  raw_max_bytes: -1
`))
	if err != nil {
		t.Fatal(err)
	}
	e := c.Events
	if e.QueueBytes != 256*yamlx.MiB || e.PeerQueueBytes != 16*yamlx.MiB || e.TextMaxBytes != 2048 || e.RawMaxBytes != -1 {
		t.Fatalf("%+v", e)
	}
	// peer_queue_bytes is checked against the default queue_bytes when that
	// is not set.
	if _, err := ParseConfig("events.yaml", []byte("events:\n  peer_queue_bytes: 65MiB\n")); err == nil ||
		err.Error() != "events.yaml:2: events.peer_queue_bytes 65MiB outside [64KiB, events.queue_bytes]" {
		t.Fatalf("got %v", err)
	}
}
