package app_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"
	"gopkg.in/yaml.v3"

	"github.com/smsfw/smsfw/internal/apidoc"
	"github.com/smsfw/smsfw/internal/app"
	"github.com/smsfw/smsfw/internal/config"
	"github.com/smsfw/smsfw/proxy"
)

// The OpenAPI description and the handlers agree: every route a handler
// registers under /api/v1 is described, and every described operation is
// served by a running smsfw (not "no such endpoint", not 405).
func TestOpenAPIMatchesHandlers(t *testing.T) {
	var spec struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(apidoc.Spec, &spec); err != nil {
		t.Fatal(err)
	}
	described := map[string]bool{}
	for path, ops := range spec.Paths {
		for method := range ops {
			described[strings.ToUpper(method)+" "+path] = true
		}
	}

	// Registered routes, from the sources that register them.
	re := regexp.MustCompile(`(?:handle\("(GET|POST|DELETE|PUT)", "(/api/v1/[^"]*)"|Handle(?:Func)?\("(GET|POST|DELETE|PUT) (/api/v1/[^"]*)")`)
	for _, f := range []string{"../../review/http.go", "app.go", "../../mo/http.go", "../../bpf/http.go"} {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(src), -1) {
			route := m[1] + " " + m[2]
			if m[1] == "" {
				route = m[3] + " " + m[4]
			}
			route = strings.ReplaceAll(route, "...}", "}") // a wildcard taking the rest of the path
			if !described[route] {
				t.Errorf("%s registers %s, which internal/apidoc/openapi.yaml does not describe", filepath.Base(f), route)
			}
		}
	}

	// Every described operation is served.
	dir := t.TempDir()
	token := filepath.Join(dir, "pull.token")
	if err := os.WriteFile(token, []byte("a-pull-token-of-some-length"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(filepath.Join(dir, "c.yaml"), []byte("mo_routes:\n  - {name: app, match: {to: [\"12345\"]}, pull: true, pull_token_file: "+token+"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), app.Options{Config: cfg, Upstream: startSim(t), Listen: "127.0.0.1:0",
		Admin: "127.0.0.1:0", DB: filepath.Join(dir, "events.db"), Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	a.Start()
	defer func() { _ = a.Shutdown(context.Background()) }()
	ops := make([]string, 0, len(described))
	for op := range described {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		method, path, _ := strings.Cut(op, " ")
		url := "http://" + a.AdminAddr() + strings.NewReplacer("{id}", "1", "{cidr}", "10.9.9.0%2F24").Replace(path)
		if path == "/api/v1/mo" {
			url += "?route=app&wait=0s"
		}
		req, _ := http.NewRequest(method, url, strings.NewReader(`{"reason": "test"}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusMethodNotAllowed || strings.Contains(string(body), "no such API endpoint") || strings.Contains(string(body), "no such path") ||
			strings.Contains(string(body), "404 page not found") {
			t.Errorf("%s: %d %s", op, resp.StatusCode, body)
		}
	}
}

// The schemas of GET /api/v1/peers name exactly the JSON fields of the
// types the handler encodes.
func TestOpenAPIPeersSchema(t *testing.T) {
	var spec struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]any `yaml:"properties"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(apidoc.Spec, &spec); err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]any{"PeerStatus": proxy.PeerStatus{}, "SessionStatus": proxy.SessionStatus{},
		"PoolStatus": proxy.PoolStatus{}, "PeerCounts": proxy.PeerCounts{}, "PeerRates": proxy.PeerRates{}, "LastError": proxy.LastError{}} {
		var fields []string
		rt := reflect.TypeOf(v)
		for i := range rt.NumField() {
			if f := rt.Field(i); f.IsExported() {
				tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
				fields = append(fields, tag)
			}
		}
		var described []string
		for p := range spec.Components.Schemas[name].Properties {
			described = append(described, p)
		}
		sort.Strings(fields)
		sort.Strings(described)
		if !slices.Equal(fields, described) {
			t.Errorf("%s: the handler encodes %v, openapi.yaml describes %v", name, fields, described)
		}
	}
}
