package app_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
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

	"github.com/smsfw/smsfw/deploy"
	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/internal/app"
	"github.com/smsfw/smsfw/internal/config"
	"github.com/smsfw/smsfw/rules"
	"github.com/smsfw/smsfw/sim"
	"github.com/smsfw/smsfw/smpp/pdu"
	"github.com/smsfw/smsfw/store"
)

func startSim(t *testing.T) string {
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
	if err := a.Reload(ctx, "", "signal"); err != nil {
		t.Fatal(err)
	}
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	entries, err := st.Audit(context.Background(), store.AuditQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
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
	if err := a.Reload(context.Background(), "", "signal"); err != app.ErrNothingToReload {
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
