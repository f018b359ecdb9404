package cluster

import (
	"os"
	"time"

	"github.com/smsfw/smsfw/internal/yamlx"
)

// Config is the `cluster:` section: this node is one of several sharing
// the event store (PostgreSQL). Without the section a node is alone.
type Config struct {
	// Node names this node in quarantine decisions and the audit log
	// (default: the host name). Unique per node.
	Node string `yaml:"node"`
	// PollInterval is how often a node re-reads what other nodes changed
	// (pending releases, overrides, bans) when no notification arrives
	// (default 2s): the longest delay before a change applies here.
	PollInterval time.Duration `yaml:"poll_interval"`
	// ReleaseWait is how long a release asked on a node that cannot send
	// the message waits for another node before answering 202 pending
	// (default 10s).
	ReleaseWait time.Duration `yaml:"release_wait"`
	// PendingTTL is how long such a release waits for a node that can send
	// it before it fails (default 10m).
	PendingTTL time.Duration `yaml:"pending_ttl"`
	// ReleaseLease is how long a node may take to release a message it
	// claimed; past it the release fails as "outcome unknown" (default 2m).
	ReleaseLease time.Duration `yaml:"release_lease"`
	// ReceiptWait is how long a receipt whose id is unknown here waits
	// while another node has messages of its peer in flight whose SMSC
	// ids it has not shared yet (default 500ms): the propagation delay of
	// the receipt ids, bounded.
	ReceiptWait time.Duration `yaml:"receipt_wait"`
}

// Defaults.
const (
	DefaultPollInterval = 2 * time.Second
	DefaultReleaseWait  = 10 * time.Second
	DefaultPendingTTL   = 10 * time.Minute
	DefaultReleaseLease = 2 * time.Minute
	DefaultReceiptWait  = 500 * time.Millisecond
)

// WithDefaults returns a copy with the defaults filled in.
func (c *Config) WithDefaults() *Config {
	d := *c
	if d.Node == "" {
		d.Node, _ = os.Hostname()
	}
	if d.PollInterval == 0 {
		d.PollInterval = DefaultPollInterval
	}
	if d.ReleaseWait == 0 {
		d.ReleaseWait = DefaultReleaseWait
	}
	if d.PendingTTL == 0 {
		d.PendingTTL = DefaultPendingTTL
	}
	if d.ReleaseLease == 0 {
		d.ReleaseLease = DefaultReleaseLease
	}
	if d.ReceiptWait == 0 {
		d.ReceiptWait = DefaultReceiptWait
	}
	return &d
}

// Validate checks the section at at (nil is valid: no cluster).
func (c *Config) Validate(at yamlx.At) error {
	if c == nil {
		return nil
	}
	probs := at.Problems(" ")
	if len(c.Node) > 64 {
		probs.Add("node", "longer than 64 characters")
	}
	for _, d := range []struct {
		key      string
		v        time.Duration
		min, max time.Duration
	}{
		{"poll_interval", c.PollInterval, 100 * time.Millisecond, time.Minute},
		{"release_wait", c.ReleaseWait, 0, 5 * time.Minute},
		{"pending_ttl", c.PendingTTL, time.Minute, 7 * 24 * time.Hour},
		{"release_lease", c.ReleaseLease, 10 * time.Second, time.Hour},
		{"receipt_wait", c.ReceiptWait, 10 * time.Millisecond, 10 * time.Second},
	} {
		if d.v != 0 && (d.v < max(d.min, time.Millisecond) || d.v > d.max) {
			probs.Add(d.key, "%s outside [%s, %s]", d.v, max(d.min, time.Millisecond), d.max)
		}
	}
	return probs.Err()
}
