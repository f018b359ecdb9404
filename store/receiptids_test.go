package store

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestReceiptIDs: ids appended by two nodes are read by each other by
// seq, the reader's own and expired ones skipped, more than one INSERT's
// rows in one batch; the expiry deletes the expired and those beyond keep.
func TestReceiptIDs(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		c, _ := ClusterOf(s)
		t0 := time.Now().UTC().Truncate(time.Microsecond)
		if start, err := c.ReceiptIDsStart(ctx, 10); err != nil || start != 0 {
			t.Fatalf("start on empty: %d %v", start, err)
		}
		var batch []ReceiptID
		for i := range receiptIDRows + 5 {
			batch = append(batch, ReceiptID{Upstream: fmt.Sprintf("up%d", i), Ours: fmt.Sprintf("our%d", i), Peer: "acme", Node: "a",
				Expires: t0.Add(time.Hour)})
		}
		if err := c.PutReceiptIDs(ctx, batch); err != nil {
			t.Fatal(err)
		}
		if err := c.PutReceiptIDs(ctx, []ReceiptID{
			{Upstream: "B1", Ours: "b1", Peer: "acme", Node: "b", Expires: t0.Add(time.Hour)},
			{Upstream: "old", Ours: "x", Node: "a", Expires: t0.Add(-time.Second)},
			{Upstream: "last", Ours: "l", Peer: "beta", Node: "a", Expires: t0.Add(time.Hour)},
		}); err != nil {
			t.Fatal(err)
		}
		got, cur, more, err := c.ReceiptIDsAfter(ctx, 0, "b", t0, 1000)
		if err != nil || more || len(got) != receiptIDRows+6 || got[0].Upstream != "up0" || got[0].Ours != "our0" || got[0].Peer != "acme" ||
			got[0].Node != "a" || !got[0].Expires.Equal(t0.Add(time.Hour)) || got[len(got)-1].Upstream != "last" || got[len(got)-1].Seq != cur {
			t.Fatalf("b read %d ids, cursor %d: %v", len(got), cur, err)
		}
		for i := 1; i < len(got); i++ {
			if got[i].Seq <= got[i-1].Seq || got[i].Upstream == "B1" || got[i].Upstream == "old" {
				t.Fatalf("id %d: %+v after %+v", i, got[i], got[i-1])
			}
		}
		if again, cur2, _, err := c.ReceiptIDsAfter(ctx, cur, "b", t0, 1000); err != nil || len(again) != 0 || cur2 != cur {
			t.Fatalf("nothing new: %d %d %v", len(again), cur2, err)
		}
		// Pages: the cursor moves past rows skipped (own, expired) too.
		page, cur3, more, err := c.ReceiptIDsAfter(ctx, cur-3, "a", t0, 2)
		if err != nil || !more || len(page) != 1 || page[0].Upstream != "B1" || cur3 != cur-1 {
			t.Fatalf("a's page: %+v %d %v", page, cur3, err)
		}
		if start, err := c.ReceiptIDsStart(ctx, 2); err != nil || start != cur-2 {
			t.Fatalf("start keeping 2: %d (top %d) %v", start, cur, err)
		}
		n, err := c.ExpireReceiptIDs(ctx, t0, 3)
		if err != nil || n != int64(receiptIDRows+6) { // a's first batch (beyond the newest 3) and "old" (expired)
			t.Fatalf("expired %d: %v", n, err)
		}
		if left, _, _, _ := c.ReceiptIDsAfter(ctx, 0, "", t0, 1000); len(left) != 2 || left[0].Upstream != "B1" {
			t.Fatalf("left %+v", left)
		}
	})
}
