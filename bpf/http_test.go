package bpf

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsfw/smsfw/admin"
)

type auditLog struct {
	mu  sync.Mutex
	got []string
}

func (a *auditLog) record(_ context.Context, actor, action, target, reason string, _ map[string]any) {
	a.mu.Lock()
	a.got = append(a.got, strings.Join([]string{actor, action, target, reason}, " "))
	a.mu.Unlock()
}

func TestBanAPI(t *testing.T) {
	s, _, _, _ := newTestShield(t, Config{BanTTL: 2 * time.Hour, Bans: []string{"192.0.2.0/24"}}, nil)
	var audit auditLog
	mux := http.NewServeMux()
	s.Mount(mux, audit.record)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r.WithContext(admin.WithActor(r.Context(), "ann")))
	}))
	defer srv.Close()
	do := func(method, path, ctype, body string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	const js = "application/json"
	for _, tc := range []struct {
		name, method, path, ctype, body string
		code                            int
		has                             string
	}{
		{"ban", "POST", "/api/v1/bans", js, `{"source":"198.51.100.0/28","ttl":"30m","reason":"scanner"}`, 201, `"origin":"api"`},
		{"ban default ttl", "POST", "/api/v1/bans", js, `{"source":"2001:db8::5","reason":"flood"}`, 201, `"source":"2001:db8::5/128"`},
		{"no reason", "POST", "/api/v1/bans", js, `{"source":"198.51.100.1"}`, 400, "reason is required"},
		{"bad source", "POST", "/api/v1/bans", js, `{"source":"198.51.100.1/24","reason":"x"}`, 400, "host bits"},
		{"too broad", "POST", "/api/v1/bans", js, `{"source":"0.0.0.0/0","reason":"x"}`, 400, "broader"},
		{"bad ttl", "POST", "/api/v1/bans", js, `{"source":"198.51.100.1","ttl":"forever","reason":"x"}`, 400, "ttl"},
		{"ttl too short", "POST", "/api/v1/bans", js, `{"source":"198.51.100.1","ttl":"10ms","reason":"x"}`, 400, "ttl"},
		{"unknown field", "POST", "/api/v1/bans", js, `{"source":"198.51.100.1","reason":"x","cidr":1}`, 400, "unknown field"},
		{"trailing data", "POST", "/api/v1/bans", js, `{"source":"198.51.100.1","reason":"x"} {}`, 400, "trailing"},
		{"not JSON", "POST", "/api/v1/bans", "application/x-www-form-urlencoded", `source=1.2.3.4`, 400, "Content-Type"},
		{"too large", "POST", "/api/v1/bans", js, `{"reason":"` + strings.Repeat("x", 5000) + `"}`, 413, "error"},
		{"list", "GET", "/api/v1/bans", "", "", 200, `"enforcement":{"kernel":false`},
		{"delete", "DELETE", "/api/v1/bans/198.51.100.0/28", js, `{"reason":"done"}`, 200, `"deleted"`},
		{"delete v6 without body", "DELETE", "/api/v1/bans/2001:db8::5", "", "", 200, `"deleted"`},
		{"delete again", "DELETE", "/api/v1/bans/198.51.100.0/28", "", "", 404, "no ban"},
		{"delete bad", "DELETE", "/api/v1/bans/nonsense", "", "", 400, "neither"},
		{"wrong method", "PUT", "/api/v1/bans", js, `{}`, 405, "allowed: GET, HEAD, POST"},
		{"wrong method on one", "GET", "/api/v1/bans/192.0.2.0/24", "", "", 405, "DELETE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := do(tc.method, tc.path, tc.ctype, tc.body)
			if code != tc.code || !strings.Contains(body, tc.has) {
				t.Fatalf("%d %s, want %d with %q", code, body, tc.code, tc.has)
			}
			if code < 300 && tc.method != "GET" && !json.Valid([]byte(body)) {
				t.Fatalf("not JSON: %s", body)
			}
		})
	}
	_, body := do("GET", "/api/v1/bans", "", "")
	var list struct {
		Bans []Ban `json:"bans"`
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil || len(list.Bans) != 1 || list.Bans[0].Origin != OriginConfig ||
		!list.Bans[0].Expires.IsZero() {
		t.Fatalf("%v %s", err, body)
	}
	want := []string{"ann ban 198.51.100.0/28 scanner", "ann ban 2001:db8::5/128 flood",
		"ann unban 198.51.100.0/28 done", "ann unban 2001:db8::5/128 "}
	if strings.Join(audit.got, "|") != strings.Join(want, "|") {
		t.Fatalf("audit %q", audit.got)
	}
}
