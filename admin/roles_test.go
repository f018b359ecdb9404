package admin

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// Each role may do what it includes and is answered 403 for the rest; a
// metrics token can only scrape and probe.
func TestRoles(t *testing.T) {
	tok := func(name, role string) (Token, string) {
		secret := "secret-" + name
		sum := sha256.Sum256([]byte(secret))
		return Token{Name: name, TokenSHA256: hex.EncodeToString(sum[:]), Role: role}, secret
	}
	var cfg AuthConfig
	secrets := map[string]string{}
	for _, r := range []string{"metrics", "viewer", "analyst", "admin", ""} {
		name := r
		if name == "" {
			name = "legacy" // a token written before roles: admin
		}
		tk, s := tok(name, r)
		cfg.Tokens = append(cfg.Tokens, tk)
		secrets[name] = s
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h, err := Protect(ok, &cfg, &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 9775}, NewMetrics(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		method, path string
		least        string
	}{
		{"GET", "/metrics", "metrics"},
		{"GET", "/readyz", "metrics"},
		{"GET", "/api/v1/events", "viewer"},
		{"GET", "/api/v1/peers", "viewer"},
		{"GET", "/", "viewer"},
		{"POST", "/api/v1/quarantine/1/release", "analyst"},
		{"DELETE", "/api/v1/overrides/3", "analyst"},
		{"POST", "/-/reload", "admin"},
		{"POST", "/api/v1/bans", "admin"},
		{"GET", "/api/v1/bans", "viewer"},
		{"DELETE", "/api/v1/bans/10.0.0.0%2F24", "admin"},
		{"GET", "/debug/pprof/", "admin"},
	} {
		least := Role(tc.least).rank()
		for _, name := range []string{"metrics", "viewer", "analyst", "admin", "legacy"} {
			r := httptest.NewRequest(tc.method, tc.path, nil)
			r.Header.Set("Authorization", "Bearer "+secrets[name])
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			role, _ := roleOf(map[string]string{"legacy": ""}[name])
			if name != "legacy" {
				role = Role(name)
			}
			want := http.StatusForbidden
			if role.rank() >= least {
				want = http.StatusNoContent
			}
			if w.Code != want {
				t.Errorf("%s %s as %s: %d, want %d (%s)", tc.method, tc.path, name, w.Code, want, w.Body)
			}
		}
	}
	cfg.Tokens[0].Role = "root"
	if _, err := Protect(ok, &cfg, &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1)}, nil, nil); err == nil {
		t.Fatal("unknown role accepted")
	}
}
