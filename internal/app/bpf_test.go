package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/smsfw/smsfw/bpf"
	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/internal/app"
	"github.com/smsfw/smsfw/internal/config"
	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/store"
)

func postJSON(t *testing.T, c *http.Client, url, body string) (int, string) {
	t.Helper()
	resp, err := c.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// getBans is GET /api/v1/bans' list.
func getBans(t *testing.T, c *http.Client, base string) []bpf.BanStatus {
	t.Helper()
	resp, err := c.Get(base + "/api/v1/bans")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Bans []bpf.BanStatus }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/bans: %d %v", resp.StatusCode, err)
	}
	return body.Bans
}

// Where the program cannot be attached (here: no such interface; without
// privileges: the kernel's refusal) smsfw starts anyway, says so in
// smsfw_bpf_enabled, and a source banned through the API is closed at
// accept and counted while another binds; the ban is audited.
func TestBansEnforcedAtAcceptWithoutKernel(t *testing.T) {
	cfg, err := config.Parse("c.yaml", []byte("bpf:\n  enabled: true\n  interfaces: [smsfw-none0]\n"))
	if err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "events.db")
	a, err := app.New(context.Background(), app.Options{Config: cfg, Upstream: startSim(t), Listen: "127.0.0.1:0",
		Admin: "127.0.0.1:0", DB: db, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	a.Start()
	defer func() { _ = a.Shutdown(context.Background()) }()
	if st := a.Shield.Status(); st.Kernel || !strings.Contains(st.Reason, "smsfw-none0") && !strings.Contains(st.Reason, "loading") {
		t.Fatalf("status %+v", st)
	}
	if v := testutil.Metric(t, a.Registry, "smsfw_bpf_enabled"); v != 0 {
		t.Fatalf("smsfw_bpf_enabled %v", v)
	}
	code, body := postJSON(t, http.DefaultClient, "http://"+a.AdminAddr()+"/api/v1/bans",
		`{"source":"127.0.0.2","ttl":"10m","reason":"test flood"}`)
	if code != http.StatusCreated {
		t.Fatalf("POST /api/v1/bans: %d %s", code, body)
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 5 * time.Second}
	nc, err := d.Dial("tcp", a.Addr())
	if err != nil {
		t.Skipf("no second loopback source here: %v", err)
	}
	defer nc.Close()
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := nc.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("banned source's connection not closed: %v", err)
	}
	testutil.Eventually(t, 2*time.Second, "the banned connection counted", func() bool {
		return testutil.Metric(t, a.Registry, "smsfw_proxy_connections_refused_total", "limit", "banned") == 1
	})
	// The ban list shows the refusal on the ban, and no kernel drops.
	if bans := getBans(t, http.DefaultClient, "http://"+a.AdminAddr()); len(bans) != 1 ||
		bans[0].Source.String() != "127.0.0.2/32" || bans[0].Refused != 1 || bans[0].Drops != 0 {
		t.Fatalf("GET /api/v1/bans: %+v", bans)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cl, err := esme.Dial(ctx, a.Addr(), esme.Options{SystemID: "acme", Password: "x"})
	if err != nil {
		t.Fatalf("allowed source: %v", err)
	}
	cl.Close()
	if v := testutil.Metric(t, a.Registry, "smsfw_bpf_bans"); v != 1 {
		t.Fatalf("smsfw_bpf_bans %v", v)
	}
	entries, err := a.Store().Audit(ctx, store.AuditQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Action == "ban" && e.Target == "127.0.0.2/32" && e.Reason == "test flood" {
			return
		}
	}
	t.Fatalf("ban not audited: %+v", entries)
}
