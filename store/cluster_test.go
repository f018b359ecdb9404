package store

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/smsfw/smsfw/filter"
)

func TestDecisions(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		c, ok := ClusterOf(s)
		if !ok {
			t.Fatal("no cluster")
		}
		t0 := time.Now().UTC().Truncate(time.Microsecond)
		if err := s.Insert(ctx, []*filter.Event{
			{ID: 1, Time: t0, Quarantine: filter.QuarantineHeld, Raw: [][]byte{{1}}},
			{ID: 2, Time: t0, Quarantine: filter.QuarantineHeld, Raw: [][]byte{{2}}},
			{ID: 3, Time: t0, Action: "block"},
		}); err != nil {
			t.Fatal(err)
		}
		var nh *NotHeldError
		if err := c.BeginDecision(ctx, &Decision{EventID: 3, Action: "release"}); !errors.As(err, &nh) || !errors.Is(err, ErrConflict) {
			t.Fatalf("not quarantined: %v", err)
		}
		if err := c.BeginDecision(ctx, &Decision{EventID: 9, Action: "release"}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing event: %v", err)
		}
		// A claimed decision: a second one on the event conflicts.
		d := &Decision{EventID: 1, Action: "release", Actor: "ann", AskedOn: "a", Node: "a", LeaseUntil: t0.Add(time.Minute), Requested: t0}
		if err := c.BeginDecision(ctx, d); err != nil || d.State != DecisionClaimed {
			t.Fatalf("begin: %v %s", err, d.State)
		}
		if err := c.BeginDecision(ctx, &Decision{EventID: 1, Action: "reject", AskedOn: "b"}); !errors.Is(err, ErrConflict) || errors.As(err, &nh) {
			t.Fatalf("second decision: %v", err)
		}
		if err := c.FinishDecision(ctx, 1, "b", DecisionDone, "", "", t0); !errors.Is(err, ErrConflict) {
			t.Fatalf("finish by another node: %v", err)
		}
		if err := c.FinishDecision(ctx, 1, "a", DecisionFailed, "", "smsc said no", t0); err != nil {
			t.Fatal(err)
		}
		got, err := c.Decision(ctx, 1)
		if err != nil || got.State != DecisionFailed || got.Error != "smsc said no" || got.Actor != "ann" || !got.Over() {
			t.Fatalf("decision %+v %v", got, err)
		}
		// Over: a new decision takes the row; pending, then claimed once.
		d = &Decision{EventID: 1, Action: "release", Actor: "bob", AskedOn: "b", Requested: t0}
		if err := c.BeginDecision(ctx, d); err != nil || d.State != DecisionPending {
			t.Fatalf("pending: %v %s", err, d.State)
		}
		pend, err := c.PendingDecisions(ctx, 10)
		if err != nil || len(pend) != 1 || pend[0].EventID != 1 || pend[0].Actor != "bob" || pend[0].Error != "" {
			t.Fatalf("pending %+v %v", pend, err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for _, n := range []string{"a", "c", "d"} {
			wg.Go(func() {
				ok, err := c.ClaimDecision(ctx, 1, n, t0.Add(time.Minute))
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					won++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if won != 1 {
			t.Fatalf("%d nodes claimed one decision", won)
		}
		got, _ = c.Decision(ctx, 1)
		if err := c.FinishDecision(ctx, 1, got.Node, DecisionDone, "smsc-1", "", t0.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		if got, _ = c.Decision(ctx, 1); got.State != DecisionDone || got.Result != "smsc-1" || !got.Finished.Equal(t0.Add(time.Second)) {
			t.Fatalf("done %+v", got)
		}
		// A decision carried out now supersedes a pending one, not the
		// other way round.
		if err := c.BeginDecision(ctx, &Decision{EventID: 2, Action: "release", AskedOn: "b"}); err != nil {
			t.Fatal(err)
		}
		if err := c.BeginDecision(ctx, &Decision{EventID: 2, Action: "release", AskedOn: "c"}); !errors.Is(err, ErrConflict) {
			t.Fatalf("pending over pending: %v", err)
		}
		rej := &Decision{EventID: 2, Action: "reject", Node: "a", AskedOn: "a", LeaseUntil: t0.Add(time.Minute)}
		if err := c.BeginDecision(ctx, rej); err != nil {
			t.Fatalf("claimed over pending: %v", err)
		}
		if ok, _ := c.ClaimDecision(ctx, 2, "b", t0.Add(time.Minute)); ok {
			t.Fatal("claimed a superseded decision")
		}
		if err := c.FinishDecision(ctx, 2, "a", DecisionFailed, "", "changed my mind", t0); err != nil {
			t.Fatal(err)
		}
		// Expiry: a claim whose lease ended, a pending decision too old.
		if err := c.BeginDecision(ctx, &Decision{EventID: 2, Action: "release", Node: "a", LeaseUntil: t0.Add(time.Second)}); err != nil {
			t.Fatal(err)
		}
		exp, err := c.ExpireDecisions(ctx, t0, t0.Add(-time.Hour))
		if err != nil || len(exp) != 0 {
			t.Fatalf("nothing to expire yet: %+v %v", exp, err)
		}
		exp, err = c.ExpireDecisions(ctx, t0.Add(2*time.Second), t0.Add(-time.Hour))
		if err != nil || len(exp) != 1 || exp[0].EventID != 2 || exp[0].State != DecisionFailed || exp[0].Error != errTextLeaseEnded {
			t.Fatalf("lease ended: %+v %v", exp, err)
		}
		if err := c.BeginDecision(ctx, &Decision{EventID: 2, Action: "release", Requested: t0}); err != nil {
			t.Fatal(err)
		}
		exp, err = c.ExpireDecisions(ctx, t0.Add(2*time.Second), t0.Add(time.Second))
		if err != nil || len(exp) != 1 || exp[0].Error != errTextNoNode {
			t.Fatalf("pending too long: %+v %v", exp, err)
		}
		if _, err := c.ExpireDecisions(ctx, t0.Add(DecisionKeep+time.Hour), t0); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Decision(ctx, 2); !errors.Is(err, ErrNotFound) {
			t.Fatalf("an old finished decision kept: %v", err)
		}
		// The event released: no new decision.
		if err := s.SetQuarantine(ctx, 1, filter.QuarantineHeld, filter.QuarantineReleased, "bob", "smsc-1", t0); err != nil {
			t.Fatal(err)
		}
		if err := c.BeginDecision(ctx, &Decision{EventID: 1, Action: "release"}); !errors.As(err, &nh) || nh.State != "released" {
			t.Fatalf("released event: %v", err)
		}
	})
}

// TestConcurrentBeginDecision: of many nodes asking at once, one wins.
func TestConcurrentBeginDecision(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		c, _ := ClusterOf(s)
		if err := s.Insert(ctx, []*filter.Event{{ID: 7, Time: time.Now(), Quarantine: filter.QuarantineHeld, Raw: [][]byte{{1}}}}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Go(func() {
				errs[i] = c.BeginDecision(ctx, &Decision{EventID: 7, Action: "release", Node: string(rune('a' + i)), LeaseUntil: time.Now().Add(time.Minute)})
			})
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, ErrConflict):
				t.Error(err)
			}
		}
		if won != 1 {
			t.Fatalf("%d of %d won", won, len(errs))
		}
	})
}

func TestBans(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		c, _ := ClusterOf(s)
		t0 := time.Now().UTC().Truncate(time.Microsecond)
		for _, b := range []StoredBan{
			{Source: "10.0.0.0/8", Reason: "flood", Origin: "api", Actor: "ann", Created: t0},
			{Source: "192.0.2.1/32", Reason: "probe", Origin: "api", Created: t0, Expires: t0.Add(time.Minute)},
			{Source: "192.0.2.1/32", Reason: "probe again", Origin: "api", Created: t0, Expires: t0.Add(2 * time.Minute)},
		} {
			if err := c.PutBan(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
		bans, err := c.Bans(ctx, t0)
		if err != nil || len(bans) != 2 || bans[0].Source != "10.0.0.0/8" || !bans[0].Expires.IsZero() || bans[0].Actor != "ann" ||
			bans[1].Reason != "probe again" || !bans[1].Expires.Equal(t0.Add(2*time.Minute)) {
			t.Fatalf("bans %+v %v", bans, err)
		}
		if bans, _ = c.Bans(ctx, t0.Add(2*time.Minute)); len(bans) != 1 {
			t.Fatalf("expired ban kept: %+v", bans)
		}
		if ok, err := c.DeleteBan(ctx, "10.0.0.0/8"); !ok || err != nil {
			t.Fatal(ok, err)
		}
		if ok, _ := c.DeleteBan(ctx, "10.0.0.0/8"); ok {
			t.Fatal("deleted twice")
		}
	})
}

// TestNotify: a listener hears another connection's notification
// (PostgreSQL); SQLite says it cannot.
func TestNotify(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		c, _ := ClusterOf(s)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ch, errc, err := c.Listen(ctx)
		if s.(*sqlStore).d.name == "sqlite" {
			if !errors.Is(err, ErrNotSupported) {
				t.Fatalf("sqlite listen: %v", err)
			}
			if err := c.Notify(ctx, "x"); err != nil {
				t.Fatal(err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Notify(ctx, "decision:42"); err != nil {
			t.Fatal(err)
		}
		select {
		case p := <-ch:
			if p != "decision:42" {
				t.Fatalf("payload %q", p)
			}
		case err := <-errc:
			t.Fatal(err)
		case <-time.After(10 * time.Second):
			t.Fatal("no notification")
		}
		cancel()
		for range ch { // closed once the listener ends
		}
	})
}
