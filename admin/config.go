package admin

import (
	"fmt"
	"net"

	"github.com/smsfw/smsfw/internal/bcryptx"
	"github.com/smsfw/smsfw/internal/tlsfiles"
	"github.com/smsfw/smsfw/internal/yamlx"
)

// Config is the admin server's section of the configuration. Its keys sit
// at the top level of the file (admin, admin_tls, admin_auth, ...).
type Config struct {
	// Addr is the admin HTTP address: /healthz, /readyz, /metrics, the API
	// and the console.
	Addr string `yaml:"admin"`
	// TLS serves the admin address over HTTPS (cert_file, key_file;
	// ca_file requires client certificates).
	TLS *tlsfiles.Config `yaml:"admin_tls"`
	// Auth are the admin server's credentials (API tokens, console users);
	// without any, the admin server must listen on loopback.
	Auth *AuthConfig `yaml:"admin_auth"`
	// MaxConnections caps the admin server's open connections (default
	// 256); more are closed at once and counted.
	MaxConnections int `yaml:"admin_max_connections"`
	// MaxConnectionsPerSource caps those from one source (an IPv4 address
	// or an IPv6 /64; default 32, negative: no cap), so one client cannot
	// take every admin slot from the operators and Prometheus.
	MaxConnectionsPerSource int `yaml:"admin_max_connections_per_source"`
	// MetricsAddr, when set, serves /metrics, /healthz and /readyz (status
	// only) on an address of their own without authentication: for a
	// Prometheus server and probes on a private network, with no credential
	// to hand out.
	MetricsAddr string `yaml:"metrics_listen"`
}

// Limits are the connection caps of the section.
func (c *Config) Limits() Limits {
	return Limits{Max: c.MaxConnections, PerSource: c.MaxConnectionsPerSource}
}

// Validate checks the section; at is the file's top level, where its keys
// are. Every problem is returned, each at its key's line.
func (c *Config) Validate(at yamlx.At) error {
	probs := at.Problems(" ")
	if c.MaxConnections < 0 || c.MaxConnections > 100000 {
		probs.Add("admin_max_connections", "%d outside [1, 100000]", c.MaxConnections)
	}
	if c.MaxConnectionsPerSource > 100000 {
		probs.Add("admin_max_connections_per_source", "%d outside [1, 100000] (or negative: no cap)", c.MaxConnectionsPerSource)
	}
	if c.MetricsAddr != "" {
		if _, port, err := net.SplitHostPort(c.MetricsAddr); err != nil || port == "" {
			probs.Add("metrics_listen", "%q is not host:port", c.MetricsAddr)
		}
	}
	probs.Append(c.TLS.Validate(at.In("admin_tls"), true), c.Auth.validate(at.In("admin_auth")))
	return probs.Err()
}

// validate checks the credentials (the first problem only).
func (a *AuthConfig) validate(at yamlx.At) error {
	if a == nil {
		return nil
	}
	names := map[string]string{}
	name := func(path, n string) error {
		if n == "" {
			return at.Errorf(path, "admin_auth: name is required")
		}
		if prev, dup := names[n]; dup {
			return at.Errorf(path+".name", "admin_auth: duplicate name %q (also %s)", n, prev)
		}
		names[n] = at.Path(path)
		return nil
	}
	for i, t := range a.Tokens {
		p := fmt.Sprintf("tokens[%d]", i)
		if err := name(p, t.Name); err != nil {
			return err
		}
		if err := CheckToken(t.TokenSHA256); err != nil {
			return at.Errorf(p+".token_sha256", "admin_auth: token %q: token_sha256 must be 64 hex digits (printf %%s TOKEN | sha256sum)", t.Name)
		}
		if _, err := roleOf(t.Role); err != nil {
			return at.Errorf(p+".role", "admin_auth: token %q: %v", t.Name, err)
		}
	}
	for i, u := range a.Users {
		p := fmt.Sprintf("users[%d]", i)
		if err := name(p, u.Name); err != nil {
			return err
		}
		if _, err := bcryptx.Check(u.PasswordHash); err != nil {
			return at.Errorf(p+".password_hash", "admin_auth: user %q: password_hash: %v (smsfw passwd, or htpasswd -nbB USER PASSWORD)", u.Name, err)
		}
		if _, err := roleOf(u.Role); err != nil {
			return at.Errorf(p+".role", "admin_auth: user %q: %v", u.Name, err)
		}
	}
	return nil
}
