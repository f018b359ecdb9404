package config

import (
	"os"
	"strings"
	"testing"

	"github.com/smsfw/smsfw/internal/testutil"
)

// Every section's problems are reported together, in line order.
func TestInvalidConfigs(t *testing.T) {
	testutil.InvalidConfigs(t, func(path string) error { _, err := Load(path); return err }, map[string]string{
		"invalid-sections.yaml": `testdata/invalid-sections.yaml:3: events.text must be full, mask_digits or none, not "redacted"` + "\n" +
			"testdata/invalid-sections.yaml:5: admin_max_connections -1 outside [1, 100000]\n" +
			"testdata/invalid-sections.yaml:6: max_pdu_size 10 outside [256, 1048576]\n" +
			"testdata/invalid-sections.yaml:7: tls: cert_file and key_file are required on a listener\n" +
			"testdata/invalid-sections.yaml:12: tls: cert_file and key_file go together",
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
	if c.Proxy.PassThrough() || len(c.Proxy.Peers) != 2 || c.Proxy.Peers[0].Upstream != "smsc" || c.Admin.Addr != "127.0.0.1:9775" {
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
