package admin

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestAdminEndpoints(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "smsfw_test_total", Help: "x"})
	reg.MustRegister(c)
	c.Inc()
	ready := false
	srv := httptest.NewServer(Handler(Options{Gatherer: reg, Ready: func() (bool, string) { return ready, "upstream down" }}))
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Fatal("healthz")
	}
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "upstream down") {
		t.Fatalf("readyz %d %s", code, body)
	}
	ready = true
	if code, _ := get("/readyz"); code != 200 {
		t.Fatal("readyz when ready")
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "smsfw_test_total 1") {
		t.Fatalf("metrics %d %s", code, body)
	}
}

// Behind Protect with credentials configured, a probe without credentials
// (the kubelet's) gets /readyz's status code and status, not its reason; an
// authenticated client gets the reason too.
func TestReadyzProbeWithoutCredentials(t *testing.T) {
	sum := sha256.Sum256([]byte("s3cret-token"))
	cfg := &AuthConfig{Tokens: []Token{{Name: "prometheus", TokenSHA256: hex.EncodeToString(sum[:])}}}
	h, err := Protect(Handler(Options{Ready: func() (bool, string) { return false, "pool acme: no upstream session bound" }}),
		cfg, &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 9775}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	get := func(auth string) (int, string) {
		req := httptest.NewRequest("GET", "http://fw:9775/readyz", nil)
		req.RemoteAddr = "192.0.2.7:5000"
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	if code, body := get(""); code != 503 || !strings.Contains(body, "not ready") || strings.Contains(body, "acme") {
		t.Fatalf("anonymous probe: %d %s", code, body)
	}
	if code, body := get("Bearer s3cret-token"); code != 503 || !strings.Contains(body, "acme") {
		t.Fatalf("authenticated: %d %s", code, body)
	}
}
