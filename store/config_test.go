package store

import (
	"testing"

	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/internal/yamlx"
)

// eventsFile is a file holding the events section alone.
type eventsFile struct {
	Events *EventsConfig `yaml:"events"`
}

func (f *eventsFile) Validate(at yamlx.At) error { return f.Events.Validate(at.In("events")) }

func TestInvalidConfigs(t *testing.T) {
	testutil.InvalidConfigs(t, func(path string) error { _, err := yamlx.LoadConfig[eventsFile](path); return err }, map[string]string{
		"invalid-events-text.yaml":       `testdata/invalid-events-text.yaml:3: events.text must be full, mask_digits or none, not "redacted"`,
		"invalid-events-sample.yaml":     "testdata/invalid-events-sample.yaml:2: events.sample_allowed 2 outside [0, 1]",
		"invalid-events-peer-bytes.yaml": "testdata/invalid-events-peer-bytes.yaml:3: events.peer_queue_bytes 128MiB outside [64KiB, events.queue_bytes]",
		"invalid-events-bytes-unit.yaml": `testdata/invalid-events-bytes-unit.yaml:3: byte size "64 MB": want an integer or a number with B, KiB, MiB or GiB`,
		"invalid-events-raw.yaml":        "testdata/invalid-events-raw.yaml:2: events.raw_max_bytes 100: want -1 (none) or [256, 16MiB]",
	})
}

func TestEventsBudgetConfig(t *testing.T) {
	c, err := yamlx.ParseConfig[eventsFile]("events.yaml", []byte(`
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
	if _, err := yamlx.ParseConfig[eventsFile]("events.yaml", []byte("events:\n  peer_queue_bytes: 65MiB\n")); err == nil ||
		err.Error() != "events.yaml:2: events.peer_queue_bytes 65MiB outside [64KiB, events.queue_bytes]" {
		t.Fatalf("got %v", err)
	}
}
