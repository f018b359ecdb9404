package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// The MO queue's life on both dialects: enqueue, claims that do not
// overlap, a lease that runs out, settling, acks by lease, dead letters and
// their replay, the purge of delivered messages.
func TestMOQueue(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		q, ok := MOQueueOf(s)
		if !ok {
			t.Fatal("no MO queue")
		}
		t0 := time.Now()
		var msgs []*MOMessage
		for i := range 4 {
			msgs = append(msgs, &MOMessage{Route: "votes", Target: "pull", Received: t0, Peer: "acme", Sender: "491", Dest: "80080",
				Text: "VOTE " + string(rune('A'+i)), Action: "allow", Raw: []byte{1, 2, 3}, QueuedAt: t0})
		}
		msgs = append(msgs, &MOMessage{Route: "votes", Target: "http", Received: t0, Peer: "acme", Text: "x\x00\xff", Raw: []byte{9}, QueuedAt: t0})
		if err := q.EnqueueMO(ctx, msgs); err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if m.ID == 0 {
				t.Fatal("no id")
			}
		}
		now := t0.Add(time.Millisecond)
		a, err := q.ClaimMO(ctx, "votes", "pull", "lease-a", now, now.Add(time.Minute), 3)
		if err != nil || len(a) != 3 || a[0].Text != "VOTE A" || a[2].Text != "VOTE C" || a[0].Attempts != 1 || a[0].Lease != "lease-a" {
			t.Fatalf("claim a: %v %+v", err, a)
		}
		b, err := q.ClaimMO(ctx, "votes", "pull", "lease-b", now, now.Add(time.Second), 3)
		if err != nil || len(b) != 1 || b[0].Text != "VOTE D" {
			t.Fatalf("claim b: %v %+v", err, b)
		}
		// b's lease runs out: its message is due again, under a new lease.
		later := now.Add(2 * time.Second)
		c, err := q.ClaimMO(ctx, "votes", "pull", "lease-c", later, later.Add(time.Minute), 10)
		if err != nil || len(c) != 1 || c[0].ID != b[0].ID || c[0].Attempts != 2 {
			t.Fatalf("claim c: %v %+v", err, c)
		}
		if n, err := q.AckMO(ctx, "votes", "pull", "lease-b", later); err != nil || n != 0 {
			t.Fatalf("ack of a lost lease: %d %v", n, err)
		}
		if n, err := q.AckMO(ctx, "votes", "pull", "lease-a", later); err != nil || n != 3 {
			t.Fatalf("ack a: %d %v", n, err)
		}
		h, err := q.ClaimMO(ctx, "votes", "http", "w1", later, later.Add(time.Minute), 5)
		if err != nil || len(h) != 1 || h[0].Text != "x\uFFFD\uFFFD" || string(h[0].Raw) != "\x09" {
			t.Fatalf("claim http: %v %+v", err, h)
		}
		if err := q.SettleMO(ctx, h[0].ID, "other", MODead, later, "boom"); !errors.Is(err, ErrConflict) {
			t.Fatalf("settle with another lease: %v", err)
		}
		if err := q.SettleMO(ctx, h[0].ID, "w1", MODead, later, "500 Internal Server Error"); err != nil {
			t.Fatal(err)
		}
		dead, err := q.DeadMO(ctx, "votes", 10)
		if err != nil || len(dead) != 1 || dead[0].LastError != "500 Internal Server Error" {
			t.Fatalf("dead: %v %+v", err, dead)
		}
		if _, err := q.ReplayMO(ctx, c[0].ID, later); !errors.Is(err, ErrConflict) {
			t.Fatalf("replay of a queued message: %v", err)
		}
		if _, err := q.ReplayMO(ctx, 1<<40, later); !errors.Is(err, ErrNotFound) {
			t.Fatalf("replay of nothing: %v", err)
		}
		r, err := q.ReplayMO(ctx, h[0].ID, later)
		if err != nil || r.State != MOQueued || r.Attempts != 0 {
			t.Fatalf("replay: %v %+v", err, r)
		}
		if h, err = q.ClaimMO(ctx, "votes", "http", "w2", later, later.Add(time.Minute), 5); err != nil || len(h) != 1 {
			t.Fatalf("claim after replay: %v %+v", err, h)
		}
		if err := q.SettleMO(ctx, h[0].ID, "w2", MODelivered, later, ""); err != nil {
			t.Fatal(err)
		}
		// The console's view: counts per route, target and state; pages of
		// messages newest first, filtered.
		counts, err := q.CountMO(ctx)
		if err != nil || fmt.Sprint(counts) != "[{votes http delivered 1} {votes pull delivered 3} {votes pull queued 1}]" {
			t.Fatalf("counts: %v %v", counts, err)
		}
		page, err := q.ListMO(ctx, MOFilter{Route: "votes", Target: "pull", Limit: 2})
		if err != nil || len(page) != 2 || page[0].Text != "VOTE D" || page[1].Text != "VOTE C" {
			t.Fatalf("list: %v %+v", err, page)
		}
		if page, err = q.ListMO(ctx, MOFilter{Target: "pull", State: MODelivered, BeforeID: page[1].ID}); err != nil || len(page) != 2 ||
			page[0].Text != "VOTE B" {
			t.Fatalf("list older delivered: %v %+v", err, page)
		}
		if n, err := q.PurgeMO(ctx, time.Now().Add(time.Minute)); err != nil || n != 4 {
			t.Fatalf("purge: %d %v", n, err)
		}
	})
}

// A long MO's parts: claimed together under one lease (not those of
// another message with the same reference, nor another's lease), held
// back without counting the attempt, listed in every state.
func TestMOParts(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		q, _ := MOQueueOf(s)
		t0 := time.Now().Truncate(time.Millisecond)
		part := func(ref, seq int, received time.Time) *MOMessage {
			return &MOMessage{Route: "long", Target: "http", Received: received, Peer: "acme", Sender: "491", Dest: "80080",
				Text: fmt.Sprint(ref, "/", seq), PartRef: ref, PartTotal: 3, PartSeq: seq, Raw: []byte{}, QueuedAt: t0}
		}
		msgs := []*MOMessage{part(7, 1, t0), part(7, 2, t0.Add(time.Second)), part(8, 1, t0), part(7, 3, t0.Add(-2*time.Hour))}
		if err := q.EnqueueMO(ctx, msgs); err != nil {
			t.Fatal(err)
		}
		now := t0.Add(time.Millisecond)
		a, err := q.ClaimMO(ctx, "long", "http", "lease-a", now, now.Add(time.Minute), 1)
		if err != nil || len(a) != 1 || a[0].ID != msgs[0].ID {
			t.Fatalf("claim: %v %+v", err, a)
		}
		key := a[0].PartKey(time.Minute)
		parts, err := q.ClaimPartsMO(ctx, "long", "http", key, "lease-a", now, now.Add(time.Minute))
		if err != nil || len(parts) != 2 || parts[0].ID != msgs[0].ID || parts[1].ID != msgs[1].ID ||
			parts[0].Attempts != 1 || parts[1].Attempts != 1 {
			t.Fatalf("parts: %v %+v", err, parts)
		}
		if other, err := q.ClaimPartsMO(ctx, "long", "http", key, "lease-b", now, now.Add(time.Minute)); err != nil || len(other) != 0 {
			t.Fatalf("another lease got %v %+v", err, other)
		}
		if err := q.HoldMO(ctx, []int64{msgs[0].ID, msgs[1].ID}, "lease-a", now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if due, err := q.ClaimMO(ctx, "long", "http", "lease-c", now, now.Add(time.Minute), 10); err != nil || len(due) != 2 ||
			due[0].ID != msgs[2].ID || due[1].ID != msgs[3].ID {
			t.Fatalf("held parts are not due: %v %+v", err, due)
		}
		all, err := q.PartsMO(ctx, "long", "http", key)
		if err != nil || len(all) != 2 || all[0].Attempts != 0 || all[0].Lease != "" || all[1].Attempts != 0 {
			t.Fatalf("listed %v %+v", err, all)
		}
	})
}

// SentMO: each route's and sender's last delivery of a target.
func TestMOSent(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		q, _ := MOQueueOf(s)
		t0 := time.Now()
		var msgs []*MOMessage
		for _, from := range []string{"491", "491", "492"} {
			msgs = append(msgs, &MOMessage{Route: "stop", Target: "reply", Received: t0, Peer: "acme", Sender: from, Raw: []byte{}, QueuedAt: t0})
		}
		msgs = append(msgs, &MOMessage{Route: "stop", Target: "http", Received: t0, Peer: "acme", Sender: "493", Raw: []byte{}, QueuedAt: t0})
		if err := q.EnqueueMO(ctx, msgs); err != nil {
			t.Fatal(err)
		}
		for _, target := range []string{"reply", "http"} {
			got, err := q.ClaimMO(ctx, "stop", target, "l", t0, t0.Add(time.Minute), 10)
			if err != nil {
				t.Fatal(err)
			}
			for i, m := range got {
				state := MODelivered
				if i == 2 {
					state = MOSkipped
				}
				if err := q.SettleMO(ctx, m.ID, "l", state, t0, ""); err != nil {
					t.Fatal(err)
				}
			}
		}
		sent, err := q.SentMO(ctx, "reply", t0.Add(-time.Minute))
		if err != nil || len(sent) != 1 || sent[0].Sender != "491" || sent[0].Route != "stop" || time.Since(sent[0].At) > time.Minute {
			t.Fatalf("sent %v %+v", err, sent)
		}
	})
}

// The alert state is replaced as a whole and read back.
func TestAlertState(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		a, ok := AlertStateOf(s)
		if !ok {
			t.Fatal("no alert state")
		}
		t0 := time.Now().Truncate(time.Microsecond).UTC()
		for _, st := range []map[string]time.Time{{"campaign|9f": t0, "leakage|2026-12-04": t0.Add(-time.Hour)}, {"rule_hits|spam": t0}, {}} {
			if err := a.SaveAlertState(ctx, st); err != nil {
				t.Fatal(err)
			}
			got, err := a.LoadAlertState(ctx)
			if err != nil || fmt.Sprint(got) != fmt.Sprint(st) {
				t.Fatalf("loaded %v %v, want %v", got, err, st)
			}
		}
	})
}
