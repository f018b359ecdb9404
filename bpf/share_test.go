package bpf

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// memBans is a BanStore in memory.
type memBans struct {
	mu   sync.Mutex
	bans map[netip.Prefix]Ban
	err  error
}

func (m *memBans) SaveBan(_ context.Context, b Ban) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	m.bans[b.Source] = b
	return nil
}

func (m *memBans) DeleteBan(_ context.Context, src netip.Prefix) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return false, m.err
	}
	_, ok := m.bans[src]
	delete(m.bans, src)
	return ok, nil
}

func (m *memBans) list() []Ban {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Ban
	for _, b := range m.bans {
		out = append(out, b)
	}
	return out
}

// TestSharedBans: an API ban on one shield reaches the shared list and,
// by SyncShared, another shield; lifting it lifts it everywhere; config
// bans stay each node's own.
func TestSharedBans(t *testing.T) {
	shared := &memBans{bans: map[netip.Prefix]Ban{}}
	a, _, _, _ := newTestShield(t, Config{BanTTL: time.Hour}, nil)
	b, _, _, _ := newTestShield(t, Config{BanTTL: time.Hour, Bans: []string{"192.0.2.0/24"}}, nil)
	a.ShareBans(shared)
	b.ShareBans(shared)
	mux := http.NewServeMux()
	a.Mount(mux, func(context.Context, string, string, string, string, map[string]any) {})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	post := func(body string) int {
		resp, err := http.Post(srv.URL+"/api/v1/bans", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(`{"source":"198.51.100.7","reason":"scanner"}`); code != 201 {
		t.Fatalf("ban: %d", code)
	}
	addr := netip.MustParseAddr("198.51.100.7")
	if b.Banned(addr) {
		t.Fatal("banned on b before a sync")
	}
	if added, lifted := b.SyncShared(shared.list()); added != 1 || lifted != 0 || !b.Banned(addr) {
		t.Fatalf("sync: added %d lifted %d banned %v", added, lifted, b.Banned(addr))
	}
	if added, _ := b.SyncShared(shared.list()); added != 0 {
		t.Fatalf("a second sync added %d", added)
	}
	// A shared ban on b's config ban leaves the config ban alone.
	shared.SaveBan(context.Background(), Ban{Source: netip.MustParsePrefix("192.0.2.0/24"), Origin: OriginAPI, Reason: "x", Expires: time.Now().Add(time.Minute)})
	b.SyncShared(shared.list())
	if got, _ := b.bans.get(netip.MustParsePrefix("192.0.2.0/24")); got.Origin != OriginConfig {
		t.Fatalf("config ban replaced: %+v", got)
	}
	shared.DeleteBan(context.Background(), netip.MustParsePrefix("192.0.2.0/24"))
	// Lifted on a: gone from the shared list, then from b.
	req, _ := http.NewRequest("DELETE", srv.URL+"/api/v1/bans/198.51.100.7", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("unban: %v %v", resp, err)
	}
	resp.Body.Close()
	if _, lifted := b.SyncShared(shared.list()); lifted != 1 || b.Banned(addr) {
		t.Fatalf("lifted %d, banned %v", lifted, b.Banned(addr))
	}
	if !b.Banned(netip.MustParseAddr("192.0.2.9")) {
		t.Fatal("the config ban went with the sync")
	}
	// The shared list unavailable: the ban holds here, the caller is told.
	shared.err = errors.New("db down")
	if code := post(`{"source":"198.51.100.8","reason":"scanner"}`); code != http.StatusServiceUnavailable || !a.Banned(netip.MustParseAddr("198.51.100.8")) {
		t.Fatalf("ban with the store down: %d", code)
	}
}
