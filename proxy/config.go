package proxy

import (
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/internal/bcryptx"
	"github.com/smsfw/smsfw/internal/tlsfiles"
	"github.com/smsfw/smsfw/internal/yamlx"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// Config is the proxy's section of the configuration: its keys sit at the
// top level of the file (internal/config composes it with the others).
// Without peers smsfw runs pass-through: each peer's bind credentials are
// used for its own upstream bind and the SMSC's answer is the peer's answer.
type Config struct {
	Listen string           `yaml:"listen"`
	TLS    *tlsfiles.Config `yaml:"tls"` // on the peer-facing listener
	// TLSReloadInterval is how often certificate, key and CA files are
	// checked for changes (default 5s; negative: only on SIGHUP / ReloadTLS).
	TLSReloadInterval time.Duration `yaml:"tls_reload_interval"`
	// Auth bounds password checking and locks out brute-force sources.
	Auth AuthConfig `yaml:"auth"`

	// MaxConnections caps open peer connections, bound or not (default
	// 10000); connections over it are closed at once and counted.
	MaxConnections int `yaml:"max_connections"`
	// MaxConnectionsPerSource caps open connections from one source (an
	// IPv4 address or an IPv6 /64; default 100, negative: no cap), so one
	// source cannot hold every slot of max_connections.
	MaxConnectionsPerSource int `yaml:"max_connections_per_source"`
	// MaxPDUSize caps command_length (default 65536).
	MaxPDUSize int `yaml:"max_pdu_size"`
	// Timers; zero means the default shown.
	EnquireLinkInterval time.Duration `yaml:"enquire_link_interval"` // 30s: sent on idle legs
	InactivityTimeout   time.Duration `yaml:"inactivity_timeout"`    // 90s: a silent leg is dead
	ResponseTimeout     time.Duration `yaml:"response_timeout"`      // 30s: then the request is answered 0x08
	BindTimeout         time.Duration `yaml:"bind_timeout"`          // 10s: a connection that never binds is closed
	DrainTimeout        time.Duration `yaml:"drain_timeout"`         // 10s: shutdown waits this long for in-flight
	WriteTimeout        time.Duration `yaml:"write_timeout"`         // 30s: a peer that stops reading is dropped
	// DefaultWindow is the in-flight limit for peers and pass-through upstream legs (default 100).
	DefaultWindow int `yaml:"default_window"`
	// OnFilterError: "allow" (default: fail open) or "tempfail" (answer 0x08).
	OnFilterError string `yaml:"on_filter_error"`
	// DropReceiptDelay delays the receipt of a silently dropped message (default 2s).
	DropReceiptDelay time.Duration `yaml:"drop_receipt_delay"`
	// SegmentTimeout is how long an incomplete concatenated message waits
	// for its next part (sliding: counted from the last part; default 10s;
	// negative disables holding). Held parts are answered at once.
	SegmentTimeout time.Duration `yaml:"segment_timeout"`
	// MaxHeldSegments bounds the segments held or awaiting relay at once,
	// over all peers (default 10000); PeerHeldSegments and PeerHeldBytes
	// bound one peer's share (defaults 2000 and 4 MiB). A segment over a
	// bound is answered ESME_RTHROTTLED (the peer retries it).
	MaxHeldSegments  int `yaml:"max_held_segments"`
	PeerHeldSegments int `yaml:"peer_held_segments"`
	PeerHeldBytes    int `yaml:"peer_held_bytes"`
	// LocalAnswerRate bounds, per peer session, the messages a second
	// smsfw answers itself instead of relaying (refused, throttled, dropped,
	// quarantined): they cost inspection and events but meet no
	// back-pressure from the SMSC, so a flood of them would take the CPU.
	// Past it (bursts of two seconds) the session's messages are answered
	// 0x58 before inspection until the budget refills (default 1000;
	// negative: no bound).
	LocalAnswerRate float64 `yaml:"local_answer_rate"`
	// DeliveryQueue bounds the deliver_sm/data_sm (MO, receipts) waiting
	// per peer session while the peer's window is full (default 20000);
	// they wait up to response_timeout, then the SMSC gets 0x58.
	DeliveryQueue int `yaml:"delivery_queue"`
	// MaxPendingReceipts bounds the receipts of smsfw's own (dropped
	// messages) waiting for drop_receipt_delay, per peer (default 10000).
	MaxPendingReceipts int `yaml:"max_pending_receipts"`
	// MessageIDFormat is how smsfw writes the message ids it gives peers
	// (held long-message parts, quarantined and dropped messages):
	// decimal (default; at most 19 digits, below 2^63) or hex (at most 16
	// lower-case digits). ReceiptIDFormat writes the same ids in receipts
	// (default: as MessageIDFormat), for receivers that read the two
	// differently (Kannel msg-id-type 1 and 2).
	MessageIDFormat string               `yaml:"message_id_format"`
	ReceiptIDFormat string               `yaml:"receipt_id_format"`
	Upstreams       map[string]*Upstream `yaml:"upstreams"`
	Peers           []*Peer              `yaml:"peers"`

	// Quarantine says how held messages are answered and how long they wait.
	Quarantine *QuarantineConfig `yaml:"quarantine"`
}

// Upstream is an SMSC smsfw binds to.
type Upstream struct {
	Address  string `yaml:"address"`
	SystemID string `yaml:"system_id"`
	Password string `yaml:"password"`
	// PasswordFile holds the password instead (relative to the config
	// file; its trailing newline dropped); exclusive with Password.
	PasswordFile string           `yaml:"password_file"`
	SystemType   string           `yaml:"system_type"`
	Sessions     int              `yaml:"sessions"` // binds per peer pool (default 1)
	Window       int              `yaml:"window"`   // in-flight per session (default DefaultWindow)
	TLS          *tlsfiles.Config `yaml:"tls"`

	pwFromFile bool // Password was read from PasswordFile
}

// Peer is an external ESME allowed to bind.
type Peer struct {
	Name     string `yaml:"name"` // defaults to system_id
	SystemID string `yaml:"system_id"`
	Password string `yaml:"password"`
	// PasswordHash is a bcrypt hash of the password (smsfw passwd prints
	// one); exclusive with Password.
	PasswordHash string `yaml:"password_hash"`
	// PasswordFile holds the password instead (relative to the config
	// file; its trailing newline dropped); exclusive with the other two.
	PasswordFile string   `yaml:"password_file"`
	Class        string   `yaml:"class"` // a2p, p2p, enterprise, ...
	AllowedCIDRs []string `yaml:"allowed_cidrs"`
	Window       int      `yaml:"window"`       // in-flight requests per session (default DefaultWindow)
	MaxSessions  int      `yaml:"max_sessions"` // 0: unlimited
	Upstream     string   `yaml:"upstream"`     // name in upstreams; optional when there is one
	// UpstreamSystemID/Password override the upstream's credentials for
	// this peer's own pool (one SMSC account per peer).
	UpstreamSystemID string `yaml:"upstream_system_id"`
	UpstreamPassword string `yaml:"upstream_password"`

	prefixes   []netip.Prefix
	hash       []byte // PasswordHash, validated
	pwFromFile bool   // Password was read from PasswordFile
}

// secretFile sets *password from the file at key, exclusive with the
// other ways to give it (others: set), reading it again on each Validate.
func secretFile(at yamlx.At, key, file string, password *string, fromFile *bool, others bool) error {
	if *fromFile {
		*password, *fromFile = "", false
	}
	if file == "" {
		return nil
	}
	if *password != "" || others {
		return at.Errorf(key, "%s: give the password one way only", at.Path(key))
	}
	pw, err := at.Secret(key, file)
	*password, *fromFile = pw, err == nil
	return err
}

// AuthConfig tunes peer authentication (config mode).
type AuthConfig struct {
	// MaxConcurrentChecks bounds bcrypt verifications running at once
	// (default: half the CPUs, at least 1, at most 4, so a bind flood cannot
	// take every core from the relay). Binds beyond it wait up to
	// CheckWait, then get ESME_RTHROTTLED (0x58) and may retry.
	MaxConcurrentChecks int           `yaml:"max_concurrent_checks"`
	CheckWait           time.Duration `yaml:"check_wait"` // default 1s
	// SourceLockout locks out a source address after failed binds
	// (default 5 failures in 1m: locked for 5m).
	SourceLockout LockoutConfig `yaml:"source_lockout"`
	// SystemIDLockout locks out a configured system_id after failed binds
	// from any source (default 20 failures in 1m: locked for 5m).
	SystemIDLockout LockoutConfig `yaml:"system_id_lockout"`
	// MaxTracked bounds the sources and system_ids tracked (default 65536).
	MaxTracked int `yaml:"max_tracked"`
}

// LockoutConfig: Failures failed binds within Window lock the key out for
// Duration. Zero values take the defaults; Disabled turns the lockout off.
type LockoutConfig struct {
	Disabled bool          `yaml:"disabled"`
	Failures int           `yaml:"failures"`
	Window   time.Duration `yaml:"window"`
	Duration time.Duration `yaml:"duration"`
}

// QuarantineConfig is the `quarantine:` section.
type QuarantineConfig struct {
	// Answer: accept (default: the sender gets a message_id as if the
	// message went on) or reject (the sender gets Status at once).
	Answer string `yaml:"answer"`
	// Status answers held messages when Answer is reject (default 0x45 for
	// MT; MO is always accepted from the SMSC once stored).
	Status uint32 `yaml:"status"`
	// TTL is how long a message waits for an analyst before it expires
	// (default 24h).
	TTL time.Duration `yaml:"ttl"`
}

// quarantinePolicy is the resolved quarantine answer.
type quarantinePolicy struct {
	accept bool
	status pdu.Status
}

func (c *Config) quarantine() quarantinePolicy {
	q := quarantinePolicy{accept: true, status: pdu.StatusSubmitFail}
	if c.Quarantine != nil && c.Quarantine.Answer == "reject" {
		q.accept = false
		if c.Quarantine.Status != 0 {
			q.status = pdu.Status(c.Quarantine.Status)
		}
	}
	return q
}

// QuarantineTTL is how long held messages wait (default 24h).
func (c *Config) QuarantineTTL() time.Duration {
	if c.Quarantine != nil && c.Quarantine.TTL > 0 {
		return c.Quarantine.TTL
	}
	return 24 * time.Hour
}

// Validate checks the proxy's keys; at is the file's top level. It
// resolves what depends on other keys (a peer's name and upstream, its
// CIDRs and hash). Every problem is returned, each at its key's line.
func (c *Config) Validate(at yamlx.At) error {
	var errs []error
	fail := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if c.MaxPDUSize != 0 && (c.MaxPDUSize < 256 || c.MaxPDUSize > 1<<20) {
		fail(at.Errorf("max_pdu_size", "max_pdu_size %d outside [256, 1048576]", c.MaxPDUSize))
	}
	if c.LocalAnswerRate < -1 || c.LocalAnswerRate > 1e7 {
		fail(at.Errorf("local_answer_rate", "local_answer_rate %g outside [1, 10000000] (or -1: no bound)", c.LocalAnswerRate))
	}
	if c.MaxConnections < 0 {
		fail(at.Errorf("max_connections", "max_connections must not be negative"))
	}
	for _, n := range []struct {
		name string
		v    int
	}{{"max_held_segments", c.MaxHeldSegments}, {"peer_held_segments", c.PeerHeldSegments},
		{"peer_held_bytes", c.PeerHeldBytes}, {"delivery_queue", c.DeliveryQueue}, {"max_pending_receipts", c.MaxPendingReceipts}} {
		if n.v < 0 {
			fail(at.Errorf(n.name, "%s must not be negative", n.name))
		}
	}
	for _, f := range []struct{ name, v string }{{"message_id_format", c.MessageIDFormat}, {"receipt_id_format", c.ReceiptIDFormat}} {
		switch f.v {
		case "", idDecimal, idHex:
		default:
			fail(at.Errorf(f.name, "%s must be decimal or hex, not %q", f.name, f.v))
		}
	}
	if c.DefaultWindow < 0 || c.DefaultWindow > 10000 {
		fail(at.Errorf("default_window", "default_window %d outside [1, 10000]", c.DefaultWindow))
	}
	switch c.OnFilterError {
	case "", "allow", "tempfail":
	default:
		fail(at.Errorf("on_filter_error", "on_filter_error must be allow or tempfail, not %q", c.OnFilterError))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"enquire_link_interval", c.EnquireLinkInterval}, {"inactivity_timeout", c.InactivityTimeout},
		{"response_timeout", c.ResponseTimeout}, {"bind_timeout", c.BindTimeout}, {"drain_timeout", c.DrainTimeout},
		{"write_timeout", c.WriteTimeout}, {"drop_receipt_delay", c.DropReceiptDelay},
		{"auth.check_wait", c.Auth.CheckWait},
		{"auth.source_lockout.window", c.Auth.SourceLockout.Window}, {"auth.source_lockout.duration", c.Auth.SourceLockout.Duration},
		{"auth.system_id_lockout.window", c.Auth.SystemIDLockout.Window}, {"auth.system_id_lockout.duration", c.Auth.SystemIDLockout.Duration}} {
		if d.v < 0 {
			fail(at.Errorf(d.name, "%s must not be negative", d.name))
		}
	}
	fail(c.TLS.Validate(at.In("tls"), true))
	if q := c.Quarantine; q != nil {
		switch q.Answer {
		case "", "accept", "reject":
		default:
			fail(at.Errorf("quarantine.answer", "quarantine.answer must be accept or reject, not %q", q.Answer))
		}
		if q.Status != 0 && (q.Answer != "reject" || pdu.Status(q.Status) == pdu.StatusOK) {
			fail(at.Errorf("quarantine.status", "quarantine.status needs answer: reject and a non-zero status"))
		}
		if q.TTL < 0 {
			fail(at.Errorf("quarantine.ttl", "quarantine.ttl must not be negative"))
		}
	}
	if n := c.Auth.MaxConcurrentChecks; n < 0 || n > 64 {
		fail(at.Errorf("auth.max_concurrent_checks", "auth.max_concurrent_checks %d outside [1, 64]", n))
	}
	if c.Auth.MaxTracked < 0 {
		fail(at.Errorf("auth.max_tracked", "auth.max_tracked must not be negative"))
	}
	for _, l := range []struct {
		name string
		v    LockoutConfig
	}{{"auth.source_lockout", c.Auth.SourceLockout}, {"auth.system_id_lockout", c.Auth.SystemIDLockout}} {
		if l.v.Failures < 0 || l.v.Failures > 1000 {
			fail(at.Errorf(l.name+".failures", "%s.failures %d outside [1, 1000]", l.name, l.v.Failures))
		}
	}
	names := make([]string, 0, len(c.Upstreams))
	for name := range c.Upstreams {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		u := c.Upstreams[name]
		p := "upstreams." + name
		if u == nil {
			fail(at.Errorf(p, "upstream %q is empty", name))
			continue
		}
		if u.Address != "" {
			if err := CheckHostPort(u.Address); err != nil {
				fail(at.Errorf(p+".address", "upstream %q: %v", name, err))
			}
		}
		fail(secretFile(at, p+".password_file", u.PasswordFile, &u.Password, &u.pwFromFile, false))
		if len(u.SystemID) > 15 {
			fail(at.Errorf(p+".system_id", "upstream %q: system_id longer than 15 characters", name))
		}
		if len(u.Password) > 8 {
			fail(at.Errorf(p+".password", "upstream %q: password longer than 8 characters", name))
		}
		if u.Sessions < 0 || u.Sessions > 64 {
			fail(at.Errorf(p+".sessions", "upstream %q: sessions %d outside [1, 64]", name, u.Sessions))
		}
		if u.Window < 0 || u.Window > 10000 {
			fail(at.Errorf(p+".window", "upstream %q: window %d outside [1, 10000]", name, u.Window))
		}
		fail(u.TLS.Validate(at.In(p+".tls"), false))
	}
	seen := map[string]int{}
	for i, peer := range c.Peers {
		p := fmt.Sprintf("peers[%d]", i)
		if peer == nil {
			fail(at.Errorf(p, "peer %d is empty", i))
			continue
		}
		if peer.SystemID == "" {
			fail(at.Errorf(p, "peer %d: system_id is required", i))
			continue
		}
		if len(peer.SystemID) > 15 {
			fail(at.Errorf(p+".system_id", "peer %q: system_id longer than 15 characters", peer.SystemID))
		}
		fail(secretFile(at, p+".password_file", peer.PasswordFile, &peer.Password, &peer.pwFromFile, peer.PasswordHash != ""))
		if len(peer.Password) > 8 {
			fail(at.Errorf(p+".password", "peer %q: password longer than 8 characters", peer.SystemID))
		}
		peer.hash = nil
		if peer.PasswordHash != "" {
			if peer.Password != "" {
				fail(at.Errorf(p+".password_hash", "peer %q: password and password_hash are exclusive", peer.SystemID))
			}
			if _, err := bcryptx.Check(peer.PasswordHash); err != nil {
				fail(at.Errorf(p+".password_hash", "peer %q: password_hash: %v", peer.SystemID, err))
			}
			peer.hash = []byte(peer.PasswordHash)
		}
		if j, dup := seen[peer.SystemID]; dup {
			fail(at.Errorf(p+".system_id", "peer %q: duplicate system_id (also peers[%d])", peer.SystemID, j))
		}
		seen[peer.SystemID] = i
		if peer.Name == "" {
			peer.Name = peer.SystemID
		}
		if peer.Class != "" && !slices.Contains(filter.PeerClasses, peer.Class) {
			fail(at.Errorf(p+".class", "peer %q: unknown class %q (%s)", peer.SystemID, peer.Class, strings.Join(filter.PeerClasses, ", ")))
		}
		if peer.Window < 0 || peer.Window > 10000 {
			fail(at.Errorf(p+".window", "peer %q: window %d outside [1, 10000]", peer.SystemID, peer.Window))
		}
		if peer.MaxSessions < 0 {
			fail(at.Errorf(p+".max_sessions", "peer %q: max_sessions must not be negative", peer.SystemID))
		}
		peer.prefixes = peer.prefixes[:0]
		for j, s := range peer.AllowedCIDRs {
			pfx, err := netip.ParsePrefix(s)
			if err != nil {
				a, err2 := netip.ParseAddr(s)
				if err2 != nil {
					fail(at.Errorf(fmt.Sprintf("%s.allowed_cidrs[%d]", p, j), "peer %q: bad CIDR %q", peer.SystemID, s))
					continue
				}
				pfx = netip.PrefixFrom(a, a.BitLen())
			}
			peer.prefixes = append(peer.prefixes, pfx.Masked())
		}
		switch {
		case peer.Upstream != "":
			if _, ok := c.Upstreams[peer.Upstream]; !ok {
				fail(at.Errorf(p+".upstream", "peer %q: unknown upstream %q", peer.SystemID, peer.Upstream))
			}
		case len(c.Upstreams) == 1:
			peer.Upstream = names[0]
		default:
			fail(at.Errorf(p, "peer %q: upstream is required when %d upstreams are configured", peer.SystemID, len(c.Upstreams)))
		}
		if len(peer.UpstreamSystemID) > 15 || len(peer.UpstreamPassword) > 8 {
			fail(at.Errorf(p+".upstream_system_id", "peer %q: upstream credentials too long", peer.SystemID))
		}
	}
	return yamlx.Join(errs...)
}

// CheckHostPort checks that addr is host:port with a port in 1..65535.
func CheckHostPort(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return fmt.Errorf("address %q is not host:port", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("address %q: port %q is not 1 to 65535", addr, port)
	}
	return nil
}

// PassThrough reports whether no peers are configured.
func (c *Config) PassThrough() bool { return len(c.Peers) == 0 }

// WithDefaults is a copy of c with every unset key at its default: the
// configuration as the proxy runs it.
func (c *Config) WithDefaults() *Config {
	d := *c
	def := func(v *time.Duration, x time.Duration) {
		if *v == 0 {
			*v = x
		}
	}
	def(&d.EnquireLinkInterval, 30*time.Second)
	def(&d.InactivityTimeout, 3*d.EnquireLinkInterval)
	def(&d.ResponseTimeout, 30*time.Second)
	def(&d.BindTimeout, 10*time.Second)
	def(&d.DrainTimeout, 10*time.Second)
	def(&d.WriteTimeout, 30*time.Second)
	def(&d.DropReceiptDelay, 2*time.Second)
	if d.MaxPDUSize == 0 {
		d.MaxPDUSize = 64 * 1024
	}
	if d.DefaultWindow == 0 {
		d.DefaultWindow = 100
	}
	def(&d.SegmentTimeout, 10*time.Second)
	defInt := func(v *int, x int) {
		if *v == 0 {
			*v = x
		}
	}
	defInt(&d.MaxHeldSegments, 10000)
	defInt(&d.PeerHeldSegments, 2000)
	defInt(&d.PeerHeldBytes, 4<<20)
	defInt(&d.DeliveryQueue, 20000)
	if d.LocalAnswerRate == 0 {
		d.LocalAnswerRate = 1000
	}
	defInt(&d.MaxPendingReceipts, 10000)
	if d.MessageIDFormat == "" {
		d.MessageIDFormat = idDecimal
	}
	if d.ReceiptIDFormat == "" {
		d.ReceiptIDFormat = d.MessageIDFormat
	}
	if d.OnFilterError == "" {
		d.OnFilterError = "allow"
	}
	if d.MaxConnections == 0 {
		d.MaxConnections = 10000
	}
	if d.MaxConnectionsPerSource == 0 {
		d.MaxConnectionsPerSource = 100
	}
	if d.TLSReloadInterval == 0 {
		d.TLSReloadInterval = 5 * time.Second
	}
	a := &d.Auth
	if a.MaxConcurrentChecks == 0 {
		a.MaxConcurrentChecks = min(max(runtime.NumCPU()/2, 1), 4)
	}
	def(&a.CheckWait, time.Second)
	if a.MaxTracked == 0 {
		a.MaxTracked = 65536
	}
	for _, l := range []struct {
		v        *LockoutConfig
		failures int
	}{{&a.SourceLockout, 5}, {&a.SystemIDLockout, 20}} {
		if l.v.Failures == 0 {
			l.v.Failures = l.failures
		}
		def(&l.v.Window, time.Minute)
		def(&l.v.Duration, 5*time.Minute)
	}
	return &d
}
