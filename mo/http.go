package mo

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/smsfw/smsfw/admin"
	"github.com/smsfw/smsfw/store"
)

// Bounds of the pull API.
const (
	MaxWait      = 60 * time.Second // long polls last at most this (the admin server writes for 2 min)
	DefaultLimit = 100
	maxBody      = 16 << 10
	// ActReplay is the audit action of a dead-letter replay.
	ActReplay = "mo_replay"
)

// PullHandler serves the consumers' API, authenticated by each route's
// own bearer token (pull_token_file), not by the admin credentials:
//
//	GET  /api/v1/mo?route=NAME[&cursor=C][&wait=30s][&limit=100]
//	POST /api/v1/mo/ack {"route": NAME, "cursor": C}
//
// A GET acknowledges cursor (the previous batch), then leases the route's
// next messages for pull_visibility and answers them with the batch's
// cursor; with wait it holds the request until messages come or wait
// passes. Messages not acknowledged within pull_visibility are handed out
// again (to any consumer).
func (s *Service) PullHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/mo", s.getPull)
	mux.HandleFunc("POST /api/v1/mo/ack", s.postAck)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusMethodNotAllowed, errBody("method not allowed"))
	})
	return mux
}

// AdminHandler serves the operators' API (mounted behind the admin
// authentication): GET /api/v1/mo/dead[?route=NAME&limit=N] lists dead
// letters, POST /api/v1/mo/{id}/replay {"reason": "..."} queues one again
// (audited).
func (s *Service) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/mo/dead", s.getDead)
	mux.HandleFunc("GET /api/v1/mo/messages", s.getMessages)
	mux.HandleFunc("GET /api/v1/mo/routes", s.getRoutes)
	mux.HandleFunc("POST /api/v1/mo/{id}/replay", s.postReplay)
	return mux
}

// AdminPatterns are the patterns AdminHandler serves, for the admin mux.
var AdminPatterns = []string{"GET /api/v1/mo/dead", "GET /api/v1/mo/messages", "GET /api/v1/mo/routes", "POST /api/v1/mo/{id}/replay"}

// Batch is a GET /api/v1/mo answer.
type Batch struct {
	Messages []Message `json:"messages"`
	// Cursor acknowledges the batch (POST /api/v1/mo/ack, or the next
	// GET's cursor); "" when the batch is empty.
	Cursor string `json:"cursor"`
}

// Ack is the body of POST /api/v1/mo/ack.
type Ack struct {
	Route  string `json:"route"`
	Cursor string `json:"cursor"`
}

// DeadLetter is an entry of GET /api/v1/mo/dead and /api/v1/mo/messages.
type DeadLetter struct {
	Message
	Target    string    `json:"target"`
	State     string    `json:"state"` // queued (due or retrying), delivered, dead, skipped
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error"`
	QueuedAt  time.Time `json:"queued_at"`
}

func errBody(msg string) map[string]string { return map[string]string{"error": msg} }

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// pullRoute authenticates a consumer of route name; false: answered.
func (s *Service) pullRoute(w http.ResponseWriter, r *http.Request, name string) (*route, bool) {
	rt := s.set.Load().byName[name]
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	sum := sha256.Sum256([]byte(tok))
	if rt == nil || !rt.Pull || !ok || subtle.ConstantTimeCompare(sum[:], rt.token[:]) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="smsfw-mo"`)
		writeJSON(w, http.StatusUnauthorized, errBody("unknown route, or not its pull token (Authorization: Bearer TOKEN)"))
		return nil, false
	}
	return rt, true
}

func (s *Service) getPull(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	rt, ok := s.pullRoute(w, r, q.Get("route"))
	if !ok {
		return
	}
	wait := time.Duration(0)
	if v := q.Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > MaxWait {
			writeJSON(w, http.StatusBadRequest, errBody(fmt.Sprintf("wait %q: want a duration up to %s", v, MaxWait)))
			return
		}
		wait = d
	}
	limit, ok := queryLimit(w, q.Get("limit"))
	if !ok {
		return
	}
	if c := q.Get("cursor"); c != "" {
		if _, err := s.ack(r.Context(), rt, c); err != nil {
			s.internal(w, err)
			return
		}
	}
	deadline := time.Now().Add(wait)
	for {
		rt.pmu.Lock()
		woken := rt.pullWake
		rt.pmu.Unlock()
		now := time.Now()
		lease, until := newLease(), now.Add(rt.PullVisibility)
		// One consumer at a time joins parts: two would each hold half
		// a message.
		rt.amu.Lock()
		msgs, err := s.q.ClaimMO(r.Context(), rt.Name, TargetPull, lease, now, until, limit)
		items := s.assemble(rt.Name, TargetPull, lease, msgs, until)
		rt.amu.Unlock()
		if err != nil {
			s.internal(w, err)
			return
		}
		if len(items) > 0 || !now.Before(deadline) {
			b := Batch{Messages: []Message{}}
			for _, it := range items {
				b.Messages = append(b.Messages, it.message())
			}
			if len(items) > 0 {
				b.Cursor = lease
			}
			writeJSON(w, http.StatusOK, b)
			return
		}
		if len(msgs) > 0 {
			continue // parts went back to wait; more may be due
		}
		// Until a message is queued, or a lease may have run out.
		t := time.NewTimer(min(time.Until(deadline), time.Second))
		select {
		case <-woken:
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		case <-s.ctx.Done():
			t.Stop()
			writeJSON(w, http.StatusServiceUnavailable, errBody("shutting down"))
			return
		}
		t.Stop()
	}
}

func (s *Service) postAck(w http.ResponseWriter, r *http.Request) {
	var a Ack
	if err := decodeBody(w, r, &a); err != nil {
		writeJSON(w, http.StatusBadRequest, errBody(err.Error()))
		return
	}
	rt, ok := s.pullRoute(w, r, a.Route)
	if !ok {
		return
	}
	if a.Cursor == "" {
		writeJSON(w, http.StatusBadRequest, errBody("cursor is required"))
		return
	}
	n, err := s.ack(r.Context(), rt, a.Cursor)
	if err != nil {
		s.internal(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int64{"acked": n})
}

// ack marks a batch delivered; messages whose lease ran out and that
// another consumer took meanwhile are not among them.
func (s *Service) ack(ctx context.Context, rt *route, cursor string) (int64, error) {
	n, err := s.q.AckMO(ctx, rt.Name, TargetPull, cursor, time.Now())
	if err == nil {
		s.m.delivered.WithLabelValues(rt.Name, TargetPull).Add(float64(n))
	}
	return n, err
}

func (s *Service) getDead(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name := q.Get("route")
	if name != "" && s.lookup(name) == nil {
		writeJSON(w, http.StatusNotFound, errBody(fmt.Sprintf("no route %q", name)))
		return
	}
	limit, ok := queryLimit(w, q.Get("limit"))
	if !ok {
		return
	}
	msgs, err := s.q.DeadMO(r.Context(), name, limit)
	if err != nil {
		s.internal(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"dead": entries(msgs)})
}

func entries(msgs []*store.MOMessage) []DeadLetter {
	out := []DeadLetter{}
	for _, m := range msgs {
		out = append(out, DeadLetter{Message: messageOf(m), Target: m.Target, State: m.State, Attempts: m.Attempts,
			LastError: m.LastError, QueuedAt: m.QueuedAt})
	}
	return out
}

// getMessages lists messages newest first:
// GET /api/v1/mo/messages[?route=R][&target=T][&state=S][&cursor=ID][&limit=N]
// answers {"messages": [...], "next": "ID"} (next: the cursor of the
// following, older page; "" at the end).
func (s *Service) getMessages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.MOFilter{Route: q.Get("route"), Target: q.Get("target"), State: q.Get("state")}
	if v := q.Get("cursor"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			writeJSON(w, http.StatusBadRequest, errBody(fmt.Sprintf("cursor %q is not a positive number", v)))
			return
		}
		f.BeforeID = n
	}
	switch f.State {
	case "", store.MOQueued, store.MODelivered, store.MODead, store.MOSkipped:
	default:
		writeJSON(w, http.StatusBadRequest, errBody(fmt.Sprintf("state %q: want queued, delivered, dead or skipped", f.State)))
		return
	}
	limit, ok := queryLimit(w, q.Get("limit"))
	if !ok {
		return
	}
	f.Limit = limit
	msgs, err := s.q.ListMO(r.Context(), f)
	if err != nil {
		s.internal(w, err)
		return
	}
	next := ""
	if len(msgs) == limit {
		next = strconv.FormatInt(msgs[len(msgs)-1].ID, 10)
	}
	writeJSON(w, http.StatusOK, map[string]any{"messages": entries(msgs), "next": next})
}

// RouteStatus is an entry of GET /api/v1/mo/routes: a route, its
// targets and how many of its messages are in each state per target.
type RouteStatus struct {
	Name    string                    `json:"name"`
	Targets []string                  `json:"targets"`
	SMPP    bool                      `json:"smpp"`
	Counts  map[string]map[string]int `json:"counts"` // target -> state -> messages
}

func (s *Service) getRoutes(w http.ResponseWriter, r *http.Request) {
	counts, err := s.q.CountMO(r.Context())
	if err != nil {
		s.internal(w, err)
		return
	}
	out := []RouteStatus{}
	idx := map[string]int{}
	all := s.allRoutes()
	s.rmu.RLock() // a rule's targets grow on reload
	defer s.rmu.RUnlock()
	for _, rt := range all {
		st := RouteStatus{Name: rt.Name, Targets: rt.queued(), SMPP: rt.SendsSMPP(), Counts: map[string]map[string]int{}}
		for _, t := range st.Targets {
			st.Counts[t] = map[string]int{}
		}
		idx[rt.Name] = len(out)
		out = append(out, st)
	}
	for _, c := range counts {
		i, ok := idx[c.Route]
		if !ok {
			continue // a route no longer configured
		}
		if out[i].Counts[c.Target] == nil {
			out[i].Counts[c.Target] = map[string]int{}
		}
		out[i].Counts[c.Target][c.State] = c.N
	}
	writeJSON(w, http.StatusOK, map[string]any{"routes": out})
}

func (s *Service) postReplay(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeJSON(w, http.StatusBadRequest, errBody(fmt.Sprintf("id %q is not a positive number", r.PathValue("id"))))
		return
	}
	var body struct {
		Reason string `json:"reason"`
	}
	if r.ContentLength != 0 {
		if err := decodeBody(w, r, &body); err != nil {
			writeJSON(w, http.StatusBadRequest, errBody(err.Error()))
			return
		}
	}
	m, err := s.q.ReplayMO(r.Context(), id, time.Now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeJSON(w, http.StatusNotFound, errBody("not found"))
		return
	case errors.Is(err, store.ErrConflict):
		writeJSON(w, http.StatusConflict, errBody("not a dead letter (queued or delivered)"))
		return
	case err != nil:
		s.internal(w, err)
		return
	}
	s.replayParts(r.Context(), m)
	s.m.replayed.WithLabelValues(m.Route, m.Target).Inc()
	if s.o.Audit != nil {
		s.o.Audit(r.Context(), admin.Actor(r.Context()), ActReplay, strconv.FormatInt(id, 10), strings.TrimSpace(body.Reason),
			map[string]any{"route": m.Route, "target": m.Target, "peer": m.Peer, "sender": m.Sender, "dest": m.Dest})
	}
	s.wakeRoute(s.lookup(m.Route), m.Target)
	writeJSON(w, http.StatusOK, messageOf(m))
}

// queryLimit reads a limit parameter (default DefaultLimit); false: answered.
func queryLimit(w http.ResponseWriter, v string) (int, bool) {
	if v == "" {
		return DefaultLimit, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > store.MaxLimit {
		writeJSON(w, http.StatusBadRequest, errBody(fmt.Sprintf("limit %q outside [1, %d]", v, store.MaxLimit)))
		return 0, false
	}
	return n, true
}

func (s *Service) internal(w http.ResponseWriter, err error) {
	s.log.Error("MO API error", zap.Error(err))
	writeJSON(w, http.StatusInternalServerError, errBody("internal error: "+err.Error()))
}

// decodeBody reads a strict, small JSON object.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return errors.New("the request body must be JSON: Content-Type: application/json")
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("request body: %v", err)
	}
	return nil
}
