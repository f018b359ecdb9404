package proxy

import (
	"testing"
	"time"

	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/internal/yamlx"
)

// parseConfig decodes a file holding the proxy's keys only (the whole
// file is internal/config's).
func parseConfig(file string, data []byte) (*Config, error) {
	return yamlx.ParseConfig[Config](file, data)
}

func TestInvalidConfigs(t *testing.T) {
	testutil.InvalidConfigs(t, func(path string) error { _, err := yamlx.LoadConfig[Config](path); return err }, map[string]string{
		"invalid-unknown-key.yaml":             "testdata/invalid-unknown-key.yaml:6: field bogus not found in type proxy.Upstream",
		"invalid-duplicate-peer.yaml":          `testdata/invalid-duplicate-peer.yaml:7: peer "acme": duplicate system_id (also peers[0])`,
		"invalid-unknown-upstream.yaml":        `testdata/invalid-unknown-upstream.yaml:8: peer "acme": unknown upstream "c"`,
		"invalid-cidr.yaml":                    `testdata/invalid-cidr.yaml:8: peer "acme": bad CIDR "not-a-cidr"`,
		"invalid-duration.yaml":                "testdata/invalid-duration.yaml:1: cannot unmarshal !!str `soon` into time.Duration",
		"invalid-class.yaml":                   `testdata/invalid-class.yaml:6: peer "acme": unknown class "bulk" (a2p, p2p, enterprise, interconnect, mno)`,
		"invalid-fail-mode.yaml":               `testdata/invalid-fail-mode.yaml:1: on_filter_error must be allow or tempfail, not "block"`,
		"invalid-password-length.yaml":         `testdata/invalid-password-length.yaml:4: peer "acme": password longer than 8 characters`,
		"invalid-password-hash-exclusive.yaml": `testdata/invalid-password-hash-exclusive.yaml:5: peer "acme": password and password_hash are exclusive`,
		"invalid-password-hash.yaml":           `testdata/invalid-password-hash.yaml:4: peer "acme": password_hash: not a bcrypt hash ($2a$, $2b$ or $2y$, 60 characters)`,
		"invalid-password-hash-cost.yaml":      `testdata/invalid-password-hash-cost.yaml:4: peer "acme": password_hash: bcrypt cost outside [4, 14]`,
		"invalid-lockout.yaml":                 `testdata/invalid-lockout.yaml:3: auth.source_lockout.failures -1 outside [1, 1000]`,
		"invalid-lockout-window.yaml":          `testdata/invalid-lockout-window.yaml:2: auth.system_id_lockout.window must not be negative`,
		"invalid-auth-checks.yaml":             `testdata/invalid-auth-checks.yaml:2: auth.max_concurrent_checks 1000 outside [1, 64]`,
		"invalid-auth-unknown-key.yaml":        "testdata/invalid-auth-unknown-key.yaml:2: field lockout not found in type proxy.AuthConfig",
		"invalid-max-connections.yaml":         "testdata/invalid-max-connections.yaml:1: max_connections must not be negative",
		"invalid-quarantine-status.yaml":       "testdata/invalid-quarantine-status.yaml:3: quarantine.status needs answer: reject and a non-zero status",
		"invalid-quarantine-answer.yaml":       `testdata/invalid-quarantine-answer.yaml:2: quarantine.answer must be accept or reject, not "hold"`,
		"invalid-many.yaml": "testdata/invalid-many.yaml:2: max_pdu_size 10 outside [256, 1048576]\n" +
			"testdata/invalid-many.yaml:3: on_filter_error must be allow or tempfail, not \"block\"\n" +
			"testdata/invalid-many.yaml:5: upstream \"smsc\": address \"10.0.0.5\" is not host:port\n" +
			"testdata/invalid-many.yaml:8: peer \"acme\": unknown class \"bulk\" (a2p, p2p, enterprise, interconnect, mno)\n" +
			"testdata/invalid-many.yaml:9: peer \"acme\": window -1 outside [1, 10000]",
		"invalid-message-id-format.yaml": `testdata/invalid-message-id-format.yaml:1: message_id_format must be decimal or hex, not "base64"`,
		"invalid-peer-held-bytes.yaml":   "testdata/invalid-peer-held-bytes.yaml:2: peer_held_bytes must not be negative",
	})
}

func TestValidConfig(t *testing.T) {
	c, err := parseConfig("peers.yaml", []byte(`
response_timeout: 20s
auth: {max_concurrent_checks: 2}
upstreams:
  smsc: {address: "127.0.0.1:2776"}
peers:
  - system_id: acme
    password: pw
    allowed_cidrs: [10.0.0.0/8, 192.0.2.1]
  - system_id: hashed
    password_hash: "$2a$04$uvkmlN8y1kok1XR0scZgieg2jtcH4Rn1YYpy/myBMXFEbxA14JB8."
`))
	if err != nil {
		t.Fatal(err)
	}
	c = c.WithDefaults()
	if c.PassThrough() || len(c.Peers) != 2 || c.Peers[0].Upstream != "smsc" || c.Peers[0].Name != "acme" ||
		c.ResponseTimeout != 20*time.Second || len(c.Peers[0].prefixes) != 2 ||
		c.Peers[1].hash == nil || c.Auth.SourceLockout.Failures != 5 || c.Auth.MaxConcurrentChecks != 2 {
		t.Fatalf("%+v", c)
	}
	empty, err := parseConfig("empty.yaml", nil)
	if err != nil || !empty.PassThrough() {
		t.Fatalf("empty config: %v", err)
	}
}
