package admin

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestProtect(t *testing.T) {
	sum := sha256.Sum256([]byte("s3cret-token"))
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &AuthConfig{Tokens: []Token{{Name: "ci", TokenSHA256: hex.EncodeToString(sum[:])}},
		Users: []User{{Name: "alice", PasswordHash: string(hash)}}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "actor="+Actor(r.Context())) })
	loop := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9775}
	public := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 9775}

	open, err := Protect(mux, nil, loop, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	secured, err := Protect(mux, cfg, public, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Protect(mux, &AuthConfig{}, public, nil, nil); !errors.Is(err, ErrInsecureAdmin) {
		t.Fatalf("open non-loopback: %v", err)
	}
	if _, err := Protect(mux, &AuthConfig{Users: []User{{Name: "x", PasswordHash: "plain"}}}, loop, nil, nil); !errors.Is(err, ErrBadCredential) {
		t.Fatalf("bad hash: %v", err)
	}

	cases := []struct {
		name   string
		h      http.Handler
		method string
		path   string
		remote string
		host   string
		header map[string]string
		code   int
		body   string
	}{
		{"open loopback", open, "GET", "/api/v1/events", "127.0.0.1:5000", "127.0.0.1:9775", nil, 200, "actor=local"},
		{"open localhost", open, "GET", "/", "[::1]:5000", "localhost:9775", nil, 200, "actor=local"},
		{"open remote peer", open, "GET", "/", "192.0.2.7:5000", "127.0.0.1:9775", nil, 401, "authentication required"},
		{"open rebinding host", open, "GET", "/", "127.0.0.1:5000", "evil.example:9775", nil, 401, ""},
		{"open cross-site post", open, "POST", "/api/v1/overrides", "127.0.0.1:5000", "127.0.0.1:9775",
			map[string]string{"Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"}, 403, ""},
		{"open same-origin post", open, "POST", "/api/v1/overrides", "127.0.0.1:5000", "127.0.0.1:9775",
			map[string]string{"Sec-Fetch-Site": "same-origin"}, 200, "actor=local"},
		{"healthz without auth", secured, "GET", "/healthz", "192.0.2.7:5000", "fw:9775", nil, 200, "ok"},
		{"readyz without auth", secured, "GET", "/readyz", "192.0.2.7:5000", "fw:9775", nil, 200, "actor="},
		{"readyz with a wrong bearer", secured, "GET", "/readyz", "192.0.2.7:5000", "fw:9775", map[string]string{"Authorization": "Bearer guess"}, 401, ""},
		{"readyz post", secured, "POST", "/readyz", "192.0.2.7:5000", "fw:9775", nil, 401, ""},
		{"no credentials", secured, "GET", "/metrics", "192.0.2.7:5000", "fw:9775", nil, 401, "authentication required"},
		{"bearer", secured, "GET", "/api/v1/events", "192.0.2.7:5000", "fw:9775", map[string]string{"Authorization": "Bearer s3cret-token"}, 200, "actor=ci"},
		{"wrong bearer", secured, "GET", "/", "192.0.2.7:5000", "fw:9775", map[string]string{"Authorization": "Bearer guess"}, 401, ""},
		{"basic", secured, "GET", "/", "192.0.2.7:5000", "fw:9775", map[string]string{"Authorization": basic("alice", "pw")}, 200, "actor=alice"},
		{"basic cached", secured, "GET", "/", "192.0.2.7:5000", "fw:9775", map[string]string{"Authorization": basic("alice", "pw")}, 200, "actor=alice"},
		{"basic wrong password", secured, "GET", "/", "192.0.2.7:5000", "fw:9775", map[string]string{"Authorization": basic("alice", "pW")}, 401, ""},
		{"basic unknown user", secured, "GET", "/", "192.0.2.7:5000", "fw:9775", map[string]string{"Authorization": basic("mallory", "pw")}, 401, ""},
		{"authenticated cross-site post", secured, "POST", "/api/v1/overrides", "192.0.2.7:5000", "fw:9775",
			map[string]string{"Authorization": basic("alice", "pw"), "Sec-Fetch-Site": "cross-site"}, 403, ""},
		{"authenticated cross-origin post", secured, "POST", "/api/v1/overrides", "192.0.2.7:5000", "fw:9775",
			map[string]string{"Authorization": basic("alice", "pw"), "Origin": "https://evil.example"}, 403, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(c.method, "http://"+c.host+c.path, nil)
			req.RemoteAddr, req.Host = c.remote, c.host
			for k, v := range c.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			c.h.ServeHTTP(rec, req)
			if rec.Code != c.code || !strings.Contains(rec.Body.String(), c.body) {
				t.Fatalf("got %d %q, want %d %q", rec.Code, rec.Body.String(), c.code, c.body)
			}
			if rec.Code == 401 && rec.Header().Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate: the browser would not prompt")
			}
		})
	}
}

func basic(u, p string) string {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(u, p)
	return r.Header.Get("Authorization")
}
