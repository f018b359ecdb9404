package app

import (
	"testing"

	"github.com/smsfw/smsfw/proxy"
	"github.com/smsfw/smsfw/store"
)

// The config's validation and the writer must agree on the default of
// events.queue_bytes (peer_queue_bytes is checked against it).
func TestEventQueueBytesDefault(t *testing.T) {
	if int64(proxy.DefaultEventQueueBytes) != store.DefaultQueueBytes {
		t.Fatalf("proxy says %d, store %d", proxy.DefaultEventQueueBytes, store.DefaultQueueBytes)
	}
}
