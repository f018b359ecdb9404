package mo

import (
	"testing"

	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/internal/yamlx"
)

// file is a configuration holding the section alone.
type file struct {
	Routes Routes `yaml:"mo_routes"`
}

func (f *file) Validate(at yamlx.At) error { return f.Routes.Validate(at.In("mo_routes")) }

func TestInvalidConfigs(t *testing.T) {
	testutil.InvalidConfigs(t, func(path string) error { _, err := yamlx.LoadConfig[file](path); return err }, map[string]string{
		"invalid-routes.yaml": `testdata/invalid-routes.yaml:3: mo_routes[0].match.to: "800*80": want an address, or a prefix ending in *` + "\n" +
			`testdata/invalid-routes.yaml:3: mo_routes[0].match.keyword: "two words": want one word` + "\n" +
			`testdata/invalid-routes.yaml:4: mo_routes[0].http.url: want an http:// or https:// URL, not "ftp://app.example/mo"` + "\n" +
			"testdata/invalid-routes.yaml:4: mo_routes[0].http.secret_file: open testdata/missing.key: no such file or directory\n" +
			"testdata/invalid-routes.yaml:4: mo_routes[0].http.workers: 1000 outside [1, 256]\n" +
			`testdata/invalid-routes.yaml:5: mo_routes[1].name: route "votes" defined twice` + "\n" +
			"testdata/invalid-routes.yaml:5: mo_routes[1]: no target: set http, email, webhook, reply, pull: true, or smpp: true\n" +
			"testdata/invalid-routes.yaml:9: mo_routes[2].pull_token_file: testdata/short.token holds 5 bytes, want at least 16 (pull: true needs the consumers' token)\n" +
			"testdata/invalid-routes.yaml:11: mo_routes[3].pull_token_file: set without pull: true\n" +
			`testdata/invalid-routes.yaml:13: mo_routes[4].email.to: "not an address": mail: no angle-addr` + "\n" +
			"testdata/invalid-routes.yaml:13: mo_routes[4].email.digest: 10ms outside [1s, 24h] (0: one mail per MO)\n" +
			`testdata/invalid-routes.yaml:14: mo_routes[4].reply.text: want a text of one SMS (160 GSM characters, 70 others), not ""` + "\n" +
			`testdata/invalid-routes.yaml:14: mo_routes[4].reply.from: "123456789012345678901": want the reply's sender address (1 to 20 characters)` + "\n" +
			"testdata/invalid-routes.yaml:14: mo_routes[4].reply: per_sender and per_route must not be negative (per_route up to 100000)\n" +
			"testdata/invalid-routes.yaml:15: mo_routes[4].webhook.secret_file: open testdata/missing.key: no such file or directory\n" +
			"testdata/invalid-routes.yaml:15: mo_routes[4].webhook.max_attempts: 5000 outside [1, 1000]",
	})
}

func TestValidRoutes(t *testing.T) {
	f, err := yamlx.ParseConfig[file]("testdata/ok.yaml", []byte(`mo_routes:
  - name: votes
    match: {to: ["80080", "8008*"], keyword: [VOTE], from: []}
    http: {url: "https://app.example/mo", secret_file: mo.key}
    pull: true
    pull_token_file: pull.token
    smpp: false
`))
	if err != nil {
		t.Fatal(err)
	}
	r := f.Routes[0]
	if r.SendsSMPP() || !r.Durable() || r.HTTP.SecretFile != "testdata/mo.key" || r.PullTokenFile != "testdata/pull.token" {
		t.Fatalf("%+v", r)
	}
}
