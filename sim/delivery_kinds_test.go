package sim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// Outcomes are counted per kind (MO, receipt) as well as in total.
func TestDeliveryCountsPerKind(t *testing.T) {
	s, addr := startSim(t, Config{ReceiptDelay: time.Millisecond, RetrySchedule: []time.Duration{10 * time.Millisecond}})
	var n atomic.Int32
	// Deliveries in order: the MO (0x58, then accepted on its retry), the receipt (0x66: permanent).
	script := []pdu.Status{pdu.StatusThrottled, pdu.StatusOK, pdu.StatusXRAppn}
	cl, err := esme.Dial(ctx(t), addr, esme.Options{SystemID: "app", OnDeliver: func(pdu.PDU) pdu.Status {
		if i := int(n.Add(1)) - 1; i < len(script) {
			return script[i]
		}
		return pdu.StatusOK
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if st, err := s.InjectMO(ctx(t), MO{From: "4917", To: "123", Text: "hi"}); err != nil || st != pdu.StatusThrottled {
		t.Fatalf("MO: %v %v", st, err)
	}
	testutil.Eventually(t, 3*time.Second, "the MO's retry", func() bool { return s.Stats().MO == 1 })
	r, err := cl.Do(ctx(t), pdu.AppendSM(nil, pdu.SubmitSM, 0, &pdu.SMFields{Src: "Shop", Dst: "4915", RegisteredDelivery: 1, ShortMessage: []byte("x")}))
	if err != nil || r.Status != 0 {
		t.Fatalf("submit: %v %+v", err, r)
	}
	testutil.Eventually(t, 3*time.Second, "the receipt refused", func() bool { return s.Stats().Refused == 1 })
	got := s.Stats()
	if got.MODelivery != (DeliveryStats{Accepted: 1, Retries: 1}) || got.ReceiptDelivery != (DeliveryStats{Refused: 1}) ||
		got.Retries != 1 || got.Refused != 1 || got.Expired != 0 || got.Dropped != 0 || got.Receipts != 0 || n.Load() != 3 {
		t.Fatalf("stats %+v, ESME saw %d", got, n.Load())
	}
}

// Past MaxPending deliveries waiting for a retry, a delivery is dropped and
// counted as such, not as expired.
func TestDeliveryDroppedPastMaxPending(t *testing.T) {
	s, _ := startSim(t, Config{RetrySchedule: []time.Duration{time.Hour}, MaxPending: 1})
	for range 2 {
		if _, err := s.InjectMO(ctx(t), MO{From: "1", To: "2", Text: "x"}); err != ErrNoReceiver {
			t.Fatal(err)
		}
	}
	if got := s.Stats(); got.Pending != 1 || got.Dropped != 1 || got.MODelivery.Dropped != 1 || got.Expired != 0 {
		t.Fatalf("%+v", got)
	}
}

// POST /v1/mo says whether the MO is still on its way: a client retrying
// on an error must not get it delivered twice.
func TestPostMOQueuedIsNotAnError(t *testing.T) {
	post := func(t *testing.T, h *httptest.Server) (int, map[string]any) {
		t.Helper()
		resp, err := http.Post(h.URL+"/v1/mo", "application/json", strings.NewReader(`{"system_id":"app","from":"4917","to":"123","text":"once"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	t.Run("queued until a receiver binds", func(t *testing.T) {
		s, addr := startSim(t, Config{RetrySchedule: []time.Duration{20 * time.Millisecond, 20 * time.Millisecond, time.Second}})
		h := httptest.NewServer(s.Handler())
		defer h.Close()
		if code, out := post(t, h); code != http.StatusAccepted || out["state"] != "queued" {
			t.Fatalf("no receiver: %d %v", code, out)
		}
		_, n := retryESME(t, addr)
		testutil.Eventually(t, 3*time.Second, "delivered at the bind", func() bool { return s.Stats().MO == 1 })
		testutil.Consistently(t, 100*time.Millisecond, "delivered once", func() bool { return n.Load() == 1 })
	})
	t.Run("no schedule: refused at once", func(t *testing.T) {
		s, _ := startSim(t, Config{})
		h := httptest.NewServer(s.Handler())
		defer h.Close()
		if code, out := post(t, h); code != http.StatusServiceUnavailable || out["error"] == nil {
			t.Fatalf("no receiver: %d %v", code, out)
		}
		if got := s.Stats(); got.Pending != 0 || got.Expired != 1 {
			t.Fatalf("%+v", got)
		}
	})
	t.Run("answers", func(t *testing.T) {
		s, addr := startSim(t, Config{RetrySchedule: []time.Duration{20 * time.Millisecond}})
		h := httptest.NewServer(s.Handler())
		defer h.Close()
		retryESME(t, addr, pdu.StatusThrottled, pdu.StatusOK, pdu.StatusThrottled, pdu.StatusThrottled, pdu.StatusXRAppn)
		for _, want := range []struct {
			status float64
			state  string
		}{{0x58, "retrying"}, {0x58, "retrying"}, {0x66, "refused"}} {
			testutil.Eventually(t, 3*time.Second, "the previous MO settled", func() bool { return s.Stats().Pending == 0 })
			if code, out := post(t, h); code != http.StatusOK || out["status"] != want.status || out["state"] != want.state {
				t.Fatalf("%d %v, want status %v state %s", code, out, want.status, want.state)
			}
		}
		testutil.Eventually(t, 3*time.Second, "nothing pending, one delivery expired", func() bool { st := s.Stats(); return st.Pending == 0 && st.Expired == 1 })
		if got := s.Stats().MODelivery; got != (DeliveryStats{Accepted: 1, Retries: 2, Refused: 1, Expired: 1}) {
			t.Fatalf("%+v", got)
		}
	})
}

// A delivery cut off by its session's end (sent, never answered) is sent
// again to the next session of the same system_id, not to another's.
func TestDeliveryOutlivesItsSession(t *testing.T) {
	s, addr := startSim(t, Config{ReceiptDelay: time.Millisecond,
		RetrySchedule: []time.Duration{20 * time.Millisecond, 20 * time.Millisecond, 20 * time.Millisecond, 5 * time.Second}})
	var other atomic.Int32
	oc, err := esme.Dial(ctx(t), addr, esme.Options{SystemID: "other", OnDeliver: func(pdu.PDU) pdu.Status { other.Add(1); return 0 }})
	if err != nil {
		t.Fatal(err)
	}
	defer oc.Close()
	in := make(chan struct{}, 1)
	gone, err := esme.Dial(ctx(t), addr, esme.Options{SystemID: "app", NoAutoRespond: true,
		OnDeliver: func(pdu.PDU) pdu.Status { in <- struct{}{}; return 0 }})
	if err != nil {
		t.Fatal(err)
	}
	r, err := gone.Do(ctx(t), pdu.AppendSM(nil, pdu.SubmitSM, 0, &pdu.SMFields{Src: "Shop", Dst: "4915", RegisteredDelivery: 1, ShortMessage: []byte("x")}))
	if err != nil || r.Status != 0 {
		t.Fatalf("submit: %v %+v", err, r)
	}
	<-in // the receipt, unanswered
	gone.Close()
	_, n := retryESME(t, addr) // binds as "app"
	testutil.Eventually(t, 3*time.Second, "the receipt at the new session", func() bool { return s.Stats().Receipts == 1 })
	if n.Load() != 1 || other.Load() != 0 {
		t.Fatalf("new session saw %d, another system_id %d", n.Load(), other.Load())
	}
	if got := s.Stats().ReceiptDelivery; got.Accepted != 1 || got.Retries < 1 || got.Expired != 0 {
		t.Fatalf("%+v", got)
	}
}
