package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/smpp/pdu"
	"github.com/smsfw/smsfw/store"
)

// The leakage ledger through the running system: A2P traffic on a peer
// billed as P2P counts once the SMSC accepted it; a grey-route message the
// policy blocks costs nothing; the ledger is in the database, not in memory.
func TestLeakageLedgerCountsDelivered(t *testing.T) {
	pol := strings.Replace(policy, "rules:\n", `tariffs:
  a2p: {default: 0.05}
  p2p: {default: 0.01}
rules:
  - id: grey-route
    when: det.grey_route && !det.keyword
    action: flag
`, 1)
	w := newWorld(t, worldOptions{p2p: []string{"p2pnet"}, policy: pol})
	cl := w.dialAs("p2pnet")
	for _, text := range []string{textLegit, textLegit} {
		if r := w.send(cl, sender, text); r.Status != pdu.StatusOK {
			t.Fatalf("grey route answered %v", r.Status)
		}
	}
	if r := w.send(cl, sender, textBlocked); r.Status == pdu.StatusOK {
		t.Fatal("casino message accepted")
	}
	day := store.LeakageDayOf(time.Now())
	var got struct {
		Peers []struct {
			Peer     string
			Messages int64
			Amount   float64
		}
	}
	testutil.Eventually(t, 10*time.Second, "the ledger counts the two delivered messages", func() bool {
		resp, err := http.Get(w.admin + "/api/v1/leakage?from=" + day + "&to=" + day)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		got.Peers = nil
		return json.NewDecoder(resp.Body).Decode(&got) == nil && len(got.Peers) == 1 && got.Peers[0].Messages == 2
	})
	if p := got.Peers[0]; p.Peer != "p2pnet" || p.Amount < 0.079 || p.Amount > 0.081 {
		t.Fatalf("ledger %+v", got.Peers)
	}
	// The test's own connection to the database sees the same rows.
	rows, err := w.st.Leakage(context.Background(), day, day)
	if err != nil || len(rows) != 1 || rows[0].Messages != 2 {
		t.Fatalf("stored ledger %+v %v", rows, err)
	}
}
