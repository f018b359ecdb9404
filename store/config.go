package store

import (
	"time"

	"github.com/smsfw/smsfw/internal/yamlx"
)

// EventsConfig is the `events:` section of the configuration: where
// blocked, flagged, monitored and sampled messages are recorded for
// analysts, and the budgets of the writer that stores them.
type EventsConfig struct {
	// DB is an SQLite file path (default smsfw-events.db next to the
	// config) or a postgres:// DSN.
	DB string `yaml:"db"`
	// DSNFile holds DB instead (a postgres:// DSN with its password stays
	// out of the config file); relative to the config file, its trailing
	// newline dropped; exclusive with DB.
	DSNFile string `yaml:"dsn_file"`
	// Text: full (default), mask_digits or none: how much message text is kept.
	Text string `yaml:"text"`
	// SampleAllowed is the fraction of allowed messages recorded (0..1, default 0).
	SampleAllowed float64 `yaml:"sample_allowed"`
	// Queue bounds events waiting for the store (default 65536); beyond it
	// events are dropped and counted, never waited for.
	Queue int `yaml:"queue"`
	// QueueBytes bounds the memory of the events waiting (default
	// DefaultQueueBytes), PeerQueueBytes one peer's part of it (default
	// DefaultPeerQueueBytes): beyond either an event is dropped and counted
	// (smsfw_events_dropped_total{reason="bytes"|"peer_budget"}), a held
	// message answered 0x58 so it is sent again. Sizes are integers or take
	// B, KiB, MiB, GiB.
	QueueBytes     yamlx.ByteSize `yaml:"queue_bytes"`
	PeerQueueBytes yamlx.ByteSize `yaml:"peer_queue_bytes"`
	// PeerRate bounds the events a second one peer may have recorded
	// (default DefaultPeerRate, bursts of two seconds; -1: no bound); beyond
	// it they are dropped and counted (reason "peer_rate"). Quarantine
	// events are never dropped for it. Writing an event costs the store far
	// more than refusing the message costs the proxy.
	PeerRate float64 `yaml:"peer_rate"`
	// TextMaxBytes bounds the text one event keeps (default 8KiB): longer
	// text is cut and marked "…[truncated N bytes]".
	TextMaxBytes yamlx.ByteSize `yaml:"text_max_bytes"`
	// RawMaxBytes bounds the PDUs an event that is not quarantined keeps
	// (default 16KiB; -1: none): all of a message's PDUs when they fit,
	// none otherwise. Quarantined messages keep theirs whatever the size
	// (release needs them); throttled ones never do.
	RawMaxBytes yamlx.ByteSize `yaml:"raw_max_bytes"`
	// Retention deletes events older than this (default 30 days; held
	// quarantined messages are kept until decided or expired).
	Retention time.Duration `yaml:"retention"`
	// MaxEvents bounds the stored events (0: no bound), oldest deleted first.
	MaxEvents int64 `yaml:"max_events"`

	dbFromFile bool // DB was read from DSNFile
}

// Validate checks the section at at (a nil section is valid); every
// problem is returned, each at its key's line.
func (e *EventsConfig) Validate(at yamlx.At) error {
	if e == nil {
		return nil
	}
	probs := at.Problems(" ")
	if e.dbFromFile {
		e.DB, e.dbFromFile = "", false
	}
	if e.DSNFile != "" {
		if e.DB != "" {
			probs.Append(at.Errorf("dsn_file", "%s and %s are exclusive", at.Path("db"), at.Path("dsn_file")))
		} else if dsn, err := at.Secret("dsn_file", e.DSNFile); err != nil {
			probs.Append(err)
		} else {
			e.DB, e.dbFromFile = dsn, true
		}
	}
	switch e.Text {
	case "", "full", "mask_digits", "none":
	default:
		probs.Add("text", "must be full, mask_digits or none, not %q", e.Text)
	}
	if e.SampleAllowed < 0 || e.SampleAllowed > 1 {
		probs.Add("sample_allowed", "%g outside [0, 1]", e.SampleAllowed)
	}
	if e.Queue < 0 || e.Queue > 10_000_000 {
		probs.Add("queue", "%d outside [1, 10000000]", e.Queue)
	}
	if e.PeerRate < -1 || e.PeerRate > 1e6 {
		probs.Add("peer_rate", "%g outside [1, 1000000] (or -1: no bound)", e.PeerRate)
	}
	if e.QueueBytes != 0 && (e.QueueBytes < yamlx.MiB || e.QueueBytes > 64*yamlx.GiB) {
		probs.Add("queue_bytes", "%s outside [1MiB, 64GiB]", e.QueueBytes)
	}
	qb := e.QueueBytes
	if qb == 0 {
		qb = DefaultQueueBytes
	}
	if e.PeerQueueBytes != 0 && (e.PeerQueueBytes < 64*yamlx.KiB || e.PeerQueueBytes > qb) {
		probs.Add("peer_queue_bytes", "%s outside [64KiB, %s]", e.PeerQueueBytes, at.Path("queue_bytes"))
	}
	if e.TextMaxBytes != 0 && (e.TextMaxBytes < 64 || e.TextMaxBytes > 64*yamlx.KiB) {
		probs.Add("text_max_bytes", "%s outside [64, 64KiB]", e.TextMaxBytes)
	}
	if e.RawMaxBytes != 0 && e.RawMaxBytes != -1 && (e.RawMaxBytes < 256 || e.RawMaxBytes > 16*yamlx.MiB) {
		probs.Add("raw_max_bytes", "%s: want -1 (none) or [256, 16MiB]", e.RawMaxBytes)
	}
	if e.Retention < 0 || e.MaxEvents < 0 {
		probs.Append(at.Errorf("", "%s and %s must not be negative", at.Path("retention"), at.Path("max_events")))
	}
	return probs.Err()
}
