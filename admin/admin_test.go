package admin

import (
	"io"
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
