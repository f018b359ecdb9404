package shared

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/smsfw/smsfw/internal/yamlx"
)

// Backends (the backend key).
const (
	BackendLocal = "local" // each node counts alone (the default)
	BackendRedis = "redis" // nodes share counts through Redis
)

// Defaults.
const (
	DefaultSyncInterval = 50 * time.Millisecond
	DefaultTimeout      = 250 * time.Millisecond
	DefaultPrefix       = "smsfw"
	minSecret           = 16
)

// Config is the `counters:` section: where the detectors' and rate limits'
// counters live. Without it (or with backend local) every node counts
// alone; with backend redis the nodes share their counts through Redis
// (see Sharer for what is shared and how accurately).
type Config struct {
	// Backend is local (default) or redis.
	Backend string `yaml:"backend"`
	// SyncInterval is how often a node sends its counts to Redis and
	// learns the other nodes' (default 50ms): the staleness of what it
	// knows of them, and the unit of the rate limits' documented error.
	SyncInterval time.Duration `yaml:"sync_interval"`
	// KeySecret seeds the hash of the counters' keys (senders, texts,
	// peers), so that every node computes the same keys and nobody without
	// it can craft colliding ones. The same on every node, at least 16
	// characters; required with backend redis. KeySecretFile holds it
	// instead (relative to the config file).
	KeySecret     string `yaml:"key_secret"`
	KeySecretFile string `yaml:"key_secret_file"`
	// Redis is the server (or cluster) with backend redis.
	Redis Redis `yaml:"redis"`
}

// Redis says how to reach Redis.
type Redis struct {
	// Addrs are host:port addresses: one server, or the seed nodes of a
	// Redis Cluster (several addresses, or cluster: true).
	Addrs   []string `yaml:"addrs"`
	Cluster bool     `yaml:"cluster"`
	// Username and PasswordFile authenticate (ACL user, or only a password
	// file for requirepass); the file is relative to the config file.
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
	// DB is the database number (a single server only).
	DB int `yaml:"db"`
	// TLS connects over TLS (system roots).
	TLS bool `yaml:"tls"`
	// Prefix starts every key (default smsfw): nodes sharing counters use
	// the same prefix; separate deployments on one Redis use their own.
	Prefix string `yaml:"prefix"`
	// Timeout bounds connecting and each sync (default 250ms): past it the
	// node counts alone until Redis answers again.
	Timeout time.Duration `yaml:"timeout"`

	password string // read from PasswordFile
}

// Enabled reports whether counts are shared.
func (c *Config) Enabled() bool { return c != nil && c.Backend == BackendRedis }

// WithDefaults is a copy with every unset key at its default.
func (c Config) WithDefaults() Config {
	if c.Backend == "" {
		c.Backend = BackendLocal
	}
	if c.SyncInterval == 0 {
		c.SyncInterval = DefaultSyncInterval
	}
	if c.Redis.Prefix == "" {
		c.Redis.Prefix = DefaultPrefix
	}
	if c.Redis.Timeout == 0 {
		c.Redis.Timeout = DefaultTimeout
	}
	return c
}

// Validate checks the section at at (every problem, each at its key's
// line) and reads the secret files.
func (c *Config) Validate(at yamlx.At) error {
	if c == nil {
		return nil
	}
	probs := at.Problems(" ")
	switch c.Backend {
	case "", BackendLocal, BackendRedis:
	default:
		probs.Add("backend", "must be local or redis, not %q", c.Backend)
	}
	if c.SyncInterval != 0 && (c.SyncInterval < time.Millisecond || c.SyncInterval > 10*time.Second) {
		probs.Add("sync_interval", "%s outside [1ms, 10s]", c.SyncInterval)
	}
	if c.Redis.Timeout != 0 && (c.Redis.Timeout < 10*time.Millisecond || c.Redis.Timeout > 10*time.Second) {
		probs.Add("redis.timeout", "%s outside [10ms, 10s]", c.Redis.Timeout)
	}
	if c.KeySecret != "" && c.KeySecretFile != "" {
		probs.Add("key_secret_file", "and key_secret exclude each other")
	}
	secretOK := true
	if c.KeySecretFile != "" {
		s, err := readSecret(at.File, c.KeySecretFile)
		if err != nil {
			probs.Add("key_secret_file", "%v", err)
			secretOK = false
		}
		c.KeySecret = s
	}
	if c.Backend == BackendRedis && secretOK && len(c.KeySecret) < minSecret {
		key := "key_secret"
		if c.KeySecretFile != "" {
			key = "key_secret_file"
		}
		probs.Add(key, "must hold at least %d characters with backend redis (the same on every node)", minSecret)
	}
	if c.Backend == BackendRedis && len(c.Redis.Addrs) == 0 {
		probs.Add("backend", "redis needs redis.addrs (at least one host:port)")
	}
	for i, a := range c.Redis.Addrs {
		if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
			probs.Add(fmt.Sprintf("redis.addrs[%d]", i), "%q is not host:port", a)
		}
	}
	if c.Redis.DB < 0 || c.Redis.DB > 1000 {
		probs.Add("redis.db", "%d outside [0, 1000]", c.Redis.DB)
	} else if c.Redis.DB != 0 && (c.Redis.Cluster || len(c.Redis.Addrs) > 1) {
		probs.Add("redis.db", "must be 0 in a Redis Cluster")
	}
	if strings.ContainsAny(c.Redis.Prefix, "{} ") {
		probs.Add("redis.prefix", "%q must not contain braces or spaces (the keys' hash tags are the counters')", c.Redis.Prefix)
	}
	if c.Redis.PasswordFile != "" {
		s, err := readSecret(at.File, c.Redis.PasswordFile)
		if err != nil {
			probs.Add("redis.password_file", "%v", err)
		}
		c.Redis.password = s
	} else if c.Redis.Username != "" {
		probs.Add("redis.username", "needs password_file")
	}
	return probs.Err()
}

// readSecret reads a one-line secret file, relative to the config file.
func readSecret(configFile, path string) (string, error) {
	if !filepath.IsAbs(path) && configFile != "" {
		path = filepath.Join(filepath.Dir(configFile), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return s, nil
}
