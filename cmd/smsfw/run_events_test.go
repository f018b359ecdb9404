package main

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/smpp/pdu"
	"github.com/smsfw/smsfw/store"
)

// smsfw run with the shipped policy and an SQLite event store: refused and
// quarantined messages are recorded, the quarantined one is answered as
// accepted and not relayed, and after SIGTERM every event is on disk.
func TestRunRecordsEventsAndQuarantine(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "events.db")
	s := startSim(t)
	policy, err := filepath.Abs("../../deploy/rules/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r := startRun(t, "--listen", "127.0.0.1:0", "--upstream", s.smpp, "--admin", "127.0.0.1:0", "--rules", policy, "--db", db)
	waitStatus(t, "http://"+r.admin+"/readyz", http.StatusOK)
	cl := dial(t, r.smpp, esme.Options{SystemID: "acme", Password: "pw"})

	send := func(from, text string) esme.Resp {
		f := &pdu.SMFields{SrcTON: 5, Src: from, DstTON: 1, DstNPI: 1, Dst: "4915112345678", ShortMessage: []byte(text)}
		if from[0] >= '0' && from[0] <= '9' {
			f.SrcTON, f.SrcNPI = 1, 1
		}
		resp, err := cl.Do(ctx5s(t), pdu.AppendSM(nil, pdu.SubmitSM, 0, f))
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if resp := send("Parcels", "DHL: your parcel is on hold, pay the fee at bit.ly/3xYzAb"); resp.Status != pdu.StatusSubmitFail {
		t.Fatalf("phishing answered %v", resp.Status)
	}
	held := send("4917055501234", "New number! Photos: photos-2024.xyz/a8Kd2")
	if held.Status != pdu.StatusOK || held.MessageID == "" {
		t.Fatalf("quarantined message answered %v %q, want accepted", held.Status, held.MessageID)
	}
	if resp := send("DemoShop", "Your code is 482913"); resp.Status != pdu.StatusOK {
		t.Fatalf("legitimate message answered %v", resp.Status)
	}
	if n := len(s.messages(t)); n != 1 {
		t.Fatalf("SMSC got %d messages, want only the legitimate one", n)
	}
	// The review API serves them while running.
	body := waitStatus(t, "http://"+r.admin+"/api/v1/quarantine", http.StatusOK)
	if !strings.Contains(body, held.MessageID) {
		t.Fatalf("quarantine queue lacks %s: %s", held.MessageID, body)
	}

	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := r.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := store.Open(ctx, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	page, err := st.Search(ctx, store.Query{})
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]*filter.Event{}
	for _, ev := range page.Events {
		by[ev.RuleID] = ev
	}
	if ev := by["phishing-link"]; ev == nil || ev.Action != "reject" || ev.Status != uint32(pdu.StatusSubmitFail) || ev.Evidence == "" {
		t.Fatalf("phishing event %+v (all: %d)", ev, len(page.Events))
	}
	q := by["risky-link-from-number"]
	if q == nil || q.Quarantine != filter.QuarantineHeld || q.MessageID != held.MessageID {
		t.Fatalf("quarantine event %+v", q)
	}
	if full, err := st.Get(ctx, q.ID); err != nil || len(full.Raw) != 1 {
		t.Fatalf("held message without its PDU: %v", err)
	}
}
