package store

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/smsfw/smsfw/filter"
)

// The ledger counts delivered grey-route traffic per UTC day and peer, in
// the transaction that stores its events: a batch inserted again (a retried
// commit) or events stored before count once; it survives reopening.
func TestLeakageLedger(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		day := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
		ev := func(peer, action string, status uint32, amount float64) *filter.Event {
			return &filter.Event{ID: filter.NewEventID(), Time: day, Direction: "mt", Peer: peer, Action: action,
				Status: status, Segments: 2, Leakage: amount, Text: "Your code is 1234"}
		}
		a := []*filter.Event{ev("acme", "flag", 0, 0.1), ev("acme", "reject", 0x45, 0.1), ev("beta", "allow", 0, 0.2)}
		b := []*filter.Event{a[0], ev("acme", "flag", 0, 0.3)} // a[0] again with a new one
		c := ev("beta", "allow", 0, 0.5)
		d := []*filter.Event{c, c} // one event twice in a batch: the fast paths fall back, it counts once
		for _, batch := range [][]*filter.Event{a, a, b, d} {
			if err := s.Insert(ctx, batch); err != nil {
				t.Fatal(err)
			}
		}
		rows, err := s.Leakage(ctx, "2026-12-03", "2026-12-03")
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 2 || rows[0].Peer != "acme" || rows[0].Messages != 2 || rows[0].Segments != 4 ||
			math.Abs(rows[0].Amount-0.4) > 1e-9 || rows[1].Peer != "beta" || rows[1].Messages != 2 || math.Abs(rows[1].Amount-0.7) > 1e-9 {
			t.Fatalf("ledger %+v", rows)
		}
		if rows, _ := s.Leakage(ctx, "2026-12-04", "2026-12-31"); len(rows) != 0 {
			t.Fatalf("other days: %+v", rows)
		}
		// Retention removes events, not the ledger.
		if _, err := s.Retain(ctx, day.Add(time.Hour), 0); err != nil {
			t.Fatal(err)
		}
		if rows, _ := s.Leakage(ctx, "2026-12-03", "2026-12-03"); len(rows) != 2 {
			t.Fatalf("after retention: %+v", rows)
		}
	})
}
