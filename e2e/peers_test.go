package e2e

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/proxy"
)

// GET /api/v1/peers shows every configured peer with its bound sessions
// and its upstream pool, live.
func TestPeersStatus(t *testing.T) {
	w := newWorld(t, worldOptions{peers: []string{"beta"}})
	w.dial()
	w.dial()
	var got struct {
		Time  time.Time
		Peers []proxy.PeerStatus
	}
	read := func() bool {
		resp, err := http.Get(w.admin + "/api/v1/peers")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		got.Peers = nil
		return resp.StatusCode == 200 && json.NewDecoder(resp.Body).Decode(&got) == nil
	}
	testutil.Eventually(t, 5*time.Second, "acme's two sessions and bound pool listed", func() bool {
		return read() && len(got.Peers) == 2 && len(got.Peers[0].Sessions) == 2 && got.Peers[0].Upstream != nil && got.Peers[0].Upstream.Bound >= 1
	})
	acme, beta := got.Peers[0], got.Peers[1]
	if acme.Name != "acme" || !acme.Configured || acme.Class != "a2p" || acme.Sessions[0].Bind != "transceiver" || acme.Sessions[0].Window == 0 {
		t.Fatalf("acme %+v", acme)
	}
	if beta.Name != "beta" || len(beta.Sessions) != 0 || got.Time.IsZero() {
		t.Fatalf("beta %+v", beta)
	}
	// Both peers' pools bind to the one upstream: the gauge is their sum.
	testutil.Eventually(t, 5*time.Second, "smsfw_proxy_upstream_sessions_bound{upstream=smsc} = 2", func() bool {
		return testutil.Metric(t, w.app.Registry, "smsfw_proxy_upstream_sessions_bound", "upstream", "smsc") == 2
	})
}
