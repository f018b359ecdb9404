package app_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/smsfw/smsfw/admin"
	"github.com/smsfw/smsfw/deploy"
	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/internal/app"
	"github.com/smsfw/smsfw/internal/config"
	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/mo"
	"github.com/smsfw/smsfw/rules"
	"github.com/smsfw/smsfw/sim"
	"github.com/smsfw/smsfw/smpp/pdu"
	"github.com/smsfw/smsfw/store"
)

func startSim(t testing.TB) string {
	t.Helper()
	s := sim.New(sim.Config{}, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(s.Close)
	return ln.Addr().String()
}

// The embedded default policy, an SQLite store, the admin address: a
// lookalike sender is refused, POST /-/reload and Reload (SIGHUP) take the
// same path and both are audited, Shutdown drains and closes.
func TestAppLifecycle(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "events.db")
	src := deploy.DefaultPolicySource()
	a, err := app.New(context.Background(), app.Options{Upstream: startSim(t), Listen: "127.0.0.1:0", Admin: "127.0.0.1:0",
		Policy: &src, DB: db, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	a.Start()
	defer func() { _ = a.Shutdown(context.Background()) }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cl, err := esme.Dial(ctx, a.Addr(), esme.Options{SystemID: "acme", Password: "x"})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	r, err := cl.Do(ctx, pdu.AppendSM(nil, pdu.SubmitSM, 0, &pdu.SMFields{SrcTON: 5, Src: "PAYPA1", DstTON: 1, Dst: "4915112345678",
		ShortMessage: []byte("Confirm your details now")}))
	if err != nil || r.Status != pdu.StatusInvSrcAdr {
		t.Fatalf("lookalike: %v %+v", err, r)
	}
	resp, err := http.Post("http://"+a.AdminAddr()+"/-/reload", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /-/reload: %s", resp.Status)
	}
	if _, err := a.Reload(ctx, "", "signal"); err != nil {
		t.Fatal(err)
	}
	// The admin server's own answers: the profiler, and JSON for a path
	// it does not have or a method it does not take.
	for _, c := range []struct {
		method, path string
		code         int
		want         string
	}{
		{"GET", "/debug/pprof/", http.StatusOK, "goroutine"},
		{"GET", "/debug/pprof/cmdline", http.StatusOK, ""},
		{"GET", "/nope", http.StatusNotFound, `{"error":"no such path: /nope"}`},
		{"GET", "/-/reload", http.StatusMethodNotAllowed, `{"error":"method not allowed (allowed: POST)"}`},
	} {
		req, _ := http.NewRequest(c.method, "http://"+a.AdminAddr()+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code || !strings.Contains(string(body), c.want) {
			t.Errorf("%s %s: %d %s, want %d with %s", c.method, c.path, resp.StatusCode, body, c.code, c.want)
		}
	}
	st, entries := shutdownAudit(t, a, db)
	triggers := map[string]bool{}
	for _, e := range entries {
		if e.Action == "reload" {
			for _, tr := range []string{"http", "signal"} {
				if strings.Contains(e.Detail, `"trigger":"`+tr+`"`) {
					triggers[tr] = true
				}
			}
		}
	}
	if !triggers["http"] || !triggers["signal"] {
		t.Fatalf("reloads audited: %v (%+v)", triggers, entries)
	}
	evs, err := st.Search(context.Background(), store.Query{Limit: 10})
	if err != nil || len(evs.Events) == 0 {
		t.Fatalf("the refused message was not recorded: %v %+v", err, evs)
	}
}

// A policy that does not compile is a start error with file:line; a
// missing listener port is reported, and nothing is left open.
func TestAppStartErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("version: 1\ndefault: maybe\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := rules.FileSource(bad)
	_, err := app.New(context.Background(), app.Options{Upstream: "127.0.0.1:1", Listen: "127.0.0.1:0", NoAdmin: true, Policy: &src,
		DB: "none", Logger: zaptest.NewLogger(t)})
	if err == nil || !strings.Contains(err.Error(), "bad.yaml:2: default must be allow or flag") {
		t.Fatalf("got %v", err)
	}
	cfg, err := config.Parse("c.yaml", []byte("listen: 127.0.0.1:0\n"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), app.Options{Config: cfg, Upstream: "127.0.0.1:1", NoAdmin: true, DB: "none"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Reload(context.Background(), "", "signal"); err != app.ErrNothingToReload {
		t.Fatalf("reload without policy or certificates: %v", err)
	}
	_ = a.Shutdown(context.Background())
}

// Idle admin connections beyond admin_max_connections are closed at once
// and counted, and SMPP binds go on meanwhile.
func TestAdminConnectionCap(t *testing.T) {
	cfg, err := config.Parse("c.yaml", []byte("admin_max_connections: 5\n"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), app.Options{Config: cfg, Upstream: startSim(t), Listen: "127.0.0.1:0",
		Admin: "127.0.0.1:0", DB: "none", Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	a.Start()
	defer func() { _ = a.Shutdown(context.Background()) }()
	var idle []net.Conn
	defer func() {
		for _, c := range idle {
			_ = c.Close()
		}
	}()
	for i := 0; i < 5; i++ {
		c, err := net.Dial("tcp", a.AdminAddr())
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	over, err := net.Dial("tcp", a.AdminAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer over.Close()
	_ = over.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := over.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("sixth admin connection not closed: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cl, err := esme.Dial(ctx, a.Addr(), esme.Options{SystemID: "acme", Password: "x"})
	if err != nil {
		t.Fatalf("SMPP bind while the admin side is full: %v", err)
	}
	cl.Close()
	mfs, err := a.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "smsfw_admin_connections_refused_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == "total" {
				if v := m.GetCounter().GetValue(); v != 1 {
					t.Fatalf("refused %v", v)
				}
				return
			}
		}
	}
	t.Fatal("smsfw_admin_connections_refused_total missing")
}

// The configuration file reloads on POST /-/reload and when it changes:
// a peer added binds at once and the bound one goes on; a key that needs
// a restart is reported, not applied; a bad file is refused with its
// file:line and the running configuration stays; every reload is audited
// with what changed.
func TestAppConfigReload(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "smsfw.yaml")
	db := filepath.Join(dir, "events.db")
	up := startSim(t)
	write := func(peers string, extra string) {
		t.Helper()
		body := "upstreams:\n  smsc: {address: " + up + "}\npeers:\n" + peers + extra
		if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const acme = "  - {system_id: acme, password: pw}\n"
	const beta = "  - {system_id: beta, password: pw}\n"
	write(acme, "")
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), app.Options{Config: cfg, ConfigFile: file, Listen: "127.0.0.1:0", Admin: "127.0.0.1:0",
		DB: db, Logger: zaptest.NewLogger(t), WatchInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	a.Start()
	defer func() { _ = a.Shutdown(context.Background()) }()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	bind := func(sys string) (*esme.Client, error) {
		return esme.Dial(ctx, a.Addr(), esme.Options{SystemID: sys, Password: "pw"})
	}
	send := func(cl *esme.Client) {
		t.Helper()
		r, err := cl.Do(ctx, pdu.AppendSM(nil, pdu.SubmitSM, 0, &pdu.SMFields{SrcTON: 5, Src: "Shop", DstTON: 1, Dst: "4915112345678",
			ShortMessage: []byte("hello")}))
		if err != nil || r.Status != 0 {
			t.Fatalf("submit: %v %+v", err, r)
		}
	}
	testutil.Eventually(t, 5*time.Second, "acme's pool bound", func() bool { ok, _ := a.Proxy.Ready(); return ok })
	cl, err := bind("acme")
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	send(cl)
	post := func() (int, map[string]any) {
		t.Helper()
		resp, err := http.Post("http://"+a.AdminAddr()+"/-/reload", "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, body
	}

	cases := []struct {
		name, peers, extra string
		code               int
		want               []string // in the JSON result
		betaBinds          bool
		lastOK             float64 // smsfw_config_last_reload_successful
		failures           float64 // smsfw_config_reloads_total{result="failure"}
	}{
		{"onboard beta, listen needs a restart", acme + beta, "listen: 127.0.0.1:1\n", http.StatusOK,
			[]string{`"added":["beta"]`, `"restart_required":["listen"]`, `"config":"ok"`}, true, 1, 0},
		{"bad file refused with file:line", acme + "  - {system_id: gamma, window: -1}\n", "", http.StatusUnprocessableEntity,
			[]string{`"config":"failed"`, "smsfw.yaml:5: peer \\\"gamma\\\": window -1"}, true, 0, 1},
	}
	if v := testutil.Metric(t, a.Registry, "smsfw_config_last_reload_successful"); v != 1 {
		t.Fatalf("smsfw_config_last_reload_successful %v at start", v)
	}
	for _, c := range cases {
		write(c.peers, c.extra)
		code, body := post()
		js, _ := json.Marshal(body)
		if code != c.code {
			t.Fatalf("%s: %d %s", c.name, code, js)
		}
		for _, w := range c.want {
			if !strings.Contains(string(js), w) {
				t.Errorf("%s: result %s lacks %s", c.name, js, w)
			}
		}
		b, err := bind("beta")
		if (err == nil) != c.betaBinds {
			t.Fatalf("%s: beta bind: %v", c.name, err)
		}
		if err == nil {
			send(b)
			b.Close()
		}
		send(cl) // the bound session is not affected
		if v := testutil.Metric(t, a.Registry, "smsfw_config_last_reload_successful"); v != c.lastOK {
			t.Errorf("%s: smsfw_config_last_reload_successful %v, want %v", c.name, v, c.lastOK)
		}
		if v := testutil.Metric(t, a.Registry, "smsfw_config_reloads_total", "result", "failure"); v != c.failures {
			t.Errorf("%s: smsfw_config_reloads_total{failure} %v, want %v", c.name, v, c.failures)
		}
	}

	// The watcher: the file changes, beta is removed without a request.
	write(acme, "")
	testutil.Eventually(t, 5*time.Second, "beta removed by the file watcher", func() bool {
		b, err := bind("beta")
		if err == nil {
			b.Close()
		}
		var be *esme.BindError
		return errors.As(err, &be) && be.Status == pdu.StatusInvSysID
	})
	send(cl)
	// The peers change before the reload records its result: wait for the gauge.
	testutil.Eventually(t, 5*time.Second, "smsfw_config_last_reload_successful 1 after a good file", func() bool {
		return testutil.Metric(t, a.Registry, "smsfw_config_last_reload_successful") == 1
	})
	_, entries := shutdownAudit(t, a, db)
	var details []string
	for _, e := range entries {
		if e.Action == "reload" {
			details = append(details, e.Detail)
			// Who: the admin API's caller, or the system for the watcher.
			want := admin.LocalActor
			if strings.Contains(e.Detail, `"trigger":"file"`) {
				want = "system"
			}
			if e.Actor != want {
				t.Errorf("reload audited as by %q, want %q: %s", e.Actor, want, e.Detail)
			}
		}
	}
	all := strings.Join(details, "\n")
	for _, w := range []string{`"added":["beta"]`, `"removed":["beta"]`, `"trigger":"file"`, `"trigger":"http"`, `smsfw.yaml:5`} {
		if !strings.Contains(all, w) {
			t.Errorf("audit lacks %s:\n%s", w, all)
		}
	}
}

// shutdownAudit shuts a down, then opens its store db: the store (closed
// when the test ends) and its last audit entries.
func shutdownAudit(t *testing.T, a *app.App, db string) (store.Store, []store.AuditEntry) {
	t.Helper()
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), db, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	entries, err := st.Audit(context.Background(), store.AuditQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	return st, entries
}

// metrics_listen serves /metrics and the probes without credentials, and
// nothing else; the admin address still asks for them.
func TestMetricsListen(t *testing.T) {
	sum := sha256.Sum256([]byte("operator-token"))
	cfg, err := config.Parse("m.yaml", []byte(fmt.Sprintf(`
metrics_listen: 127.0.0.1:0
admin_auth:
  tokens:
    - {name: ops, token_sha256: %q}
`, hex.EncodeToString(sum[:]))))
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), app.Options{Config: cfg, Upstream: startSim(t), Listen: "127.0.0.1:0",
		Admin: "127.0.0.1:0", DB: "none", Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	a.Start()
	defer func() { _ = a.Shutdown(context.Background()) }()
	get := func(base, path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(a.MetricsAddr(), "/metrics"); code != 200 || !strings.Contains(body, "smsfw_build_info") {
		t.Fatalf("/metrics on metrics_listen: %d", code)
	}
	if code, body := get(a.MetricsAddr(), "/readyz"); strings.Contains(body, "reason") || (code != 200 && code != 503) {
		t.Fatalf("/readyz on metrics_listen: %d %s", code, body)
	}
	for _, p := range []string{"/api/v1/peers", "/api/v1/events", "/"} {
		if code, _ := get(a.MetricsAddr(), p); code != http.StatusNotFound {
			t.Errorf("%s on metrics_listen: %d", p, code)
		}
	}
	if code, _ := get(a.AdminAddr(), "/metrics"); code != http.StatusUnauthorized {
		t.Fatalf("/metrics on the admin address without a token: %d", code)
	}
}

// Rule actions the program cannot serve are start errors at the rule's
// line: any without an event store, email without the smtp section.
func TestRuleActionsNeeds(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "p.yaml")
	if err := os.WriteFile(pol, []byte(`version: 1
default: allow
rules:
  - id: desk
    direction: mo
    when: msg.text_norm == "help"
    action: allow
    actions:
      email: {to: ["desk@example.net"]}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	src := rules.FileSource(pol)
	for _, tc := range []struct{ db, want string }{
		{"none", pol + `:4: rule "desk": actions need the event store (events.db or --db)`},
		{filepath.Join(dir, "ev.db"), pol + `:4: rule "desk": actions.email needs the smtp section of the configuration`},
	} {
		_, err := app.New(context.Background(), app.Options{Upstream: "127.0.0.1:1", Listen: "127.0.0.1:0", NoAdmin: true, Policy: &src,
			DB: tc.db, Logger: zaptest.NewLogger(t)})
		if err == nil || err.Error() != tc.want {
			t.Errorf("db %s: got %v, want %s", tc.db, err, tc.want)
		}
	}
}

// An edit of a policy's list file reloads the policy through Reload, like
// SIGHUP and POST /-/reload: the new list is in force and the reload is
// audited with the trigger "file"; a list that breaks keeps the policy.
func TestListFileReload(t *testing.T) {
	dir := t.TempDir()
	policy, list, db := filepath.Join(dir, "policy.yaml"), filepath.Join(dir, "bad.txt"), filepath.Join(dir, "events.db")
	write := func(name, s string) { testutil.ReplaceFile(t, name, s) }
	write(policy, `version: 1
default: allow
lists:
  bad: {type: keywords, file: bad.txt}
rules:
  - {id: bad-word, when: 'contains_any(msg.text_norm, "bad")', action: block}
`)
	write(list, "free money\n")
	src := rules.FileSource(policy)
	a, err := app.New(context.Background(), app.Options{Upstream: startSim(t), Listen: "127.0.0.1:0", NoAdmin: true, Policy: &src,
		DB: db, Logger: zaptest.NewLogger(t), WatchInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	a.Start()
	defer func() { _ = a.Shutdown(context.Background()) }()
	write(list, "free money\nclaim your prize\n")
	testutil.Eventually(t, 5*time.Second, "the policy with the two-word list in force", func() bool {
		return a.Engine.Snapshot().Lists["bad"].Len() == 2
	})
	good := a.Engine.Snapshot()
	write(list, "free money\n!!!\n") // "!!!" normalizes to nothing: refused
	testutil.Eventually(t, 5*time.Second, "the broken list refused", func() bool {
		return testutil.Metric(t, a.Registry, "smsfw_rules_reloads_total", "result", "failure") == 1
	})
	if a.Engine.Snapshot() != good {
		t.Fatal("a broken list file replaced the policy")
	}
	_, entries := shutdownAudit(t, a, db)
	files := 0
	for _, e := range entries {
		if e.Action == "reload" && strings.Contains(e.Detail, `"trigger":"file"`) {
			files++
		}
	}
	if files != 2 {
		t.Fatalf("%d reloads audited with trigger file, want 2 (the edit, the broken edit): %+v", files, entries)
	}
}

// mo_routes change with a reload: a route added takes its MO at once, a
// removed one no longer matches, an unchanged one keeps running, and the
// result says what changed (not "restart_required").
func TestAppMORoutesReload(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "smsfw.yaml")
	token := filepath.Join(dir, "pull.token")
	if err := os.WriteFile(token, []byte("a-pull-token-of-some-length"), 0o600); err != nil {
		t.Fatal(err)
	}
	smsc := sim.New(sim.Config{}, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = smsc.Serve(ln) }()
	t.Cleanup(smsc.Close)
	route := func(name, to string) string {
		return fmt.Sprintf("  - {name: %s, match: {to: [%q]}, pull: true, pull_token_file: %s, smpp: false}\n", name, to, token)
	}
	write := func(routes string) {
		t.Helper()
		body := "upstreams:\n  smsc: {address: " + ln.Addr().String() + "}\npeers:\n  - {system_id: acme, password: pw}\nmo_routes:\n" + routes
		if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(route("keep", "100") + route("old", "200"))
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), app.Options{Config: cfg, ConfigFile: file, Listen: "127.0.0.1:0", Admin: "127.0.0.1:0",
		DB: filepath.Join(dir, "events.db"), Logger: zaptest.NewLogger(t), WatchInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	a.Start()
	defer func() { _ = a.Shutdown(context.Background()) }()
	testutil.Eventually(t, 5*time.Second, "acme's pool bound", func() bool { ok, _ := a.Proxy.Ready(); return ok })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	inject := func(to string) pdu.Status {
		t.Helper()
		st, err := smsc.InjectMO(ctx, sim.MO{From: "4917600000009", To: to, Text: "to " + to})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	pulled := func(route string) (int, []string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+a.AdminAddr()+"/api/v1/mo?route="+route+"&wait=0s", nil)
		req.Header.Set("Authorization", "Bearer a-pull-token-of-some-length")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b mo.Batch
		_ = json.NewDecoder(resp.Body).Decode(&b)
		var texts []string
		for _, m := range b.Messages {
			texts = append(texts, m.Text)
		}
		return resp.StatusCode, texts
	}
	for _, to := range []string{"100", "200"} {
		if st := inject(to); st != pdu.StatusOK {
			t.Fatalf("MO to %s answered %v before the reload", to, st)
		}
	}
	if code, texts := pulled("old"); code != http.StatusOK || fmt.Sprint(texts) != "[to 200]" {
		t.Fatalf("route old: %d %v", code, texts)
	}

	write(route("keep", "100") + route("new", "300"))
	res, err := a.Reload(ctx, "tester", "http")
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(res)
	if !strings.Contains(string(js), `"mo_routes":{"added":["new"],"removed":["old"]}`) || strings.Contains(string(js), "restart_required") {
		t.Fatalf("reload result %s", js)
	}
	if st := inject("300"); st != pdu.StatusOK {
		t.Fatalf("MO to the added route answered %v", st)
	}
	if code, texts := pulled("new"); code != http.StatusOK || fmt.Sprint(texts) != "[to 300]" {
		t.Fatalf("route new: %d %v", code, texts)
	}
	if code, _ := pulled("old"); code != http.StatusUnauthorized {
		t.Fatalf("the removed route still serves pulls: %d", code)
	}
	// No route matches 200 any more, and no peer session receives: the
	// SMSC is asked to retry later.
	if st := inject("200"); st == pdu.StatusOK {
		t.Fatal("MO to the removed route's number still accepted")
	}
	if st := inject("100"); st != pdu.StatusOK {
		t.Fatalf("MO to the unchanged route answered %v", st)
	}
	if code, texts := pulled("keep"); code != http.StatusOK || fmt.Sprint(texts) != "[to 100 to 100]" {
		t.Fatalf("route keep: %d %v", code, texts)
	}
}
