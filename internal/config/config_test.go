package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smsfw/smsfw/internal/testutil"
)

// Every section's problems are reported together, in line order.
func TestInvalidConfigs(t *testing.T) {
	testutil.InvalidConfigs(t, func(path string) error { _, err := Load(path); return err }, map[string]string{
		"invalid-sections.yaml": `testdata/invalid-sections.yaml:3: events.text must be full, mask_digits or none, not "redacted"` + "\n" +
			"testdata/invalid-sections.yaml:5: admin_max_connections -1 outside [1, 100000]\n" +
			"testdata/invalid-sections.yaml:6: max_pdu_size 10 outside [256, 1048576]\n" +
			"testdata/invalid-sections.yaml:7: tls: cert_file and key_file are required on a listener\n" +
			"testdata/invalid-sections.yaml:12: tls: cert_file and key_file go together\n" +
			`testdata/invalid-sections.yaml:14: bpf.mode must be auto, xdp or tcx, not "kernel"` + "\n" +
			`testdata/invalid-sections.yaml:15: bpf.bans[0] "10.0.0.1/8" has host bits set (did you mean 10.0.0.0/8?)` + "\n" +
			"testdata/invalid-sections.yaml:17: cluster.poll_interval 10ms outside [100ms, 1m0s]\n" +
			"testdata/invalid-sections.yaml:18: cluster.pending_ttl 30s outside [1m0s, 168h0m0s]\n" +
			"testdata/invalid-sections.yaml:19: cluster.receipt_wait 1m0s outside [10ms, 10s]",
	})
	// Mail needs the smtp section; the sections check themselves.
	if _, err := Parse("x.yaml", []byte(`mo_routes:
  - name: help
    email: {to: [help@example.net]}
alerts:
  email: {to: [soc@example.net]}
  console_url: fw.example
`)); err == nil || err.Error() != "x.yaml:3: mo_routes[0].email: needs the smtp section (the mail server)\n"+
		"x.yaml:5: alerts.email: needs the smtp section (the mail server)\n"+
		`x.yaml:6: alerts.console_url: want an http:// or https:// URL, not "fw.example"` {
		t.Fatalf("mail without smtp: %v", err)
	}
	if _, err := Parse("x.yaml", []byte("smtp: {host: mail.example.net, from: smsfw@example.net, tls: none, username: u, password_file: /nonexistent}\n")); err == nil ||
		!strings.Contains(err.Error(), "smtp.tls: none would send the password in clear") {
		t.Fatalf("smtp: %v", err)
	}
	if _, err := Parse("x.yaml", []byte("listen: 127.0.0.1:2775\nbogus: 1\n")); err == nil ||
		err.Error() != "x.yaml:2: field bogus not found in type config.Config" {
		t.Fatalf("unknown top-level key: %v", err)
	}
}

func TestValidConfig(t *testing.T) {
	c, err := Load("testdata/valid-full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Proxy.PassThrough() || len(c.Proxy.Peers) != 2 || c.Proxy.Peers[0].Upstream != "smsc" || c.Admin.Addr != "127.0.0.1:9775" ||
		len(c.BPF.Bans) != 2 || c.BPF.Mode != "auto" || c.Cluster == nil || c.Cluster.Node != "fw-a" || c.Cluster.PollInterval != 2*time.Second {
		t.Fatalf("%+v", c)
	}
	empty, err := Parse("empty.yaml", nil)
	if err != nil || !empty.Proxy.PassThrough() || empty.Events != nil {
		t.Fatalf("empty config: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("upstreams:\n  s:\n    address: 1.2.3.4:5\npeers:\n  - system_id: a\n"))
	f.Add([]byte("peers: [{system_id: x, allowed_cidrs: [1.2.3.4/33]}]"))
	f.Add([]byte("auth: {source_lockout: {failures: 3, window: 1m}}\npeers: [{system_id: y, password_hash: \"$2a$04$b8OVcjiBcoU8U3zK8hThku2Ed1t9c7eaU.8JyzU7B4UvarN9tbUnG\"}]"))
	f.Add([]byte("admin_tls: {cert_file: a, key_file: b, ca_file: c}\ntls_reload_interval: -1s\nevents: {queue_bytes: 2MiB}"))
	f.Add([]byte("admin_auth: {users: [{name: a, password_hash: x}]}\nrules: r.yaml\n"))
	if data, err := os.ReadFile("testdata/valid-full.yaml"); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = Parse("fuzz.yaml", data)
	})
}

// Secrets come from files (password_file, dsn_file) or from ${NAME} in
// string values; a missing file or an unset variable is an error at its
// line, and the values reach the sections.
func TestSecrets(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"peer.pw": "s3cret\n", "up.pw": "uppw\r\n", "db.dsn": "postgres://u:p@db/smsfw\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("SMSFW_TEST_PW", "envpw")
	const head = "upstreams:\n  smsc: {address: 127.0.0.1:2775, password_file: up.pw}\n"
	cases := []struct {
		name, body, err string
		check           func(*Config) bool
	}{
		{"files", head + "peers:\n  - {system_id: a, password_file: peer.pw}\nevents: {dsn_file: db.dsn}\n", "", func(c *Config) bool {
			return c.Proxy.Peers[0].Password == "s3cret" && c.Proxy.Upstreams["smsc"].Password == "uppw" &&
				c.Events.DB == "postgres://u:p@db/smsfw"
		}},
		{"environment", head + "peers:\n  - {system_id: a, password: \"${SMSFW_TEST_PW}\"}\n  - {system_id: b, password: \"a$${b}\"}\n", "",
			func(c *Config) bool {
				return c.Proxy.Peers[0].Password == "envpw" && c.Proxy.Peers[1].Password == "a${b}"
			}},
		{"missing file", head + "peers:\n  - {system_id: a, password_file: nope.pw}\n",
			"c.yaml:4: peers[0].password_file: open " + filepath.Join(dir, "nope.pw") + ": no such file or directory", nil},
		{"missing dsn file", "events:\n  dsn_file: nope.dsn\n",
			"c.yaml:2: events.dsn_file: open " + filepath.Join(dir, "nope.dsn") + ": no such file or directory", nil},
		{"two ways", head + "peers:\n  - {system_id: a, password: x, password_file: peer.pw}\n",
			"c.yaml:4: peers[0].password_file: give the password one way only", nil},
		{"unset variable", head + "peers:\n  - system_id: a\n    password: ${SMSFW_TEST_UNSET}\n",
			"c.yaml:5: ${SMSFW_TEST_UNSET}: environment variable SMSFW_TEST_UNSET is not set", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse(filepath.Join(dir, "c.yaml"), []byte(c.body))
			if c.err != "" {
				if err == nil || strings.TrimPrefix(err.Error(), dir+"/") != c.err {
					t.Fatalf("got %v, want %s", err, c.err)
				}
				return
			}
			if err != nil || !c.check(cfg) {
				t.Fatalf("%v %+v", err, cfg)
			}
		})
	}
}
