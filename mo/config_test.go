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
			"testdata/invalid-routes.yaml:5: mo_routes[1]: no target: set http, pull: true, or smpp: true\n" +
			"testdata/invalid-routes.yaml:9: mo_routes[2].pull_token_file: testdata/short.token holds 5 bytes, want at least 16 (pull: true needs the consumers' token)\n" +
			"testdata/invalid-routes.yaml:11: mo_routes[3].pull_token_file: set without pull: true",
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
