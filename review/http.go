package review

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/store"
)

// MaxBodyBytes bounds a request body; every body is a small JSON object.
const MaxBodyBytes = 16 << 10

// MaxReasonLen bounds an analyst's reason.
const MaxReasonLen = 1000

// routes builds the /api/v1 mux. Every route is registered twice: with its
// method, and without as a JSON 405, so wrong methods and unknown paths get
// JSON errors like everything else.
func (s *Service) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(method, path string, r Route, h func(http.ResponseWriter, *http.Request) (int, any, error)) {
		mux.Handle(method+" "+path, s.wrap(r, h))
		if method == http.MethodGet {
			method += ", HEAD"
		}
		allow := method
		mux.Handle(path, s.wrap(r, func(w http.ResponseWriter, _ *http.Request) (int, any, error) {
			w.Header().Set("Allow", allow)
			return http.StatusMethodNotAllowed, nil, fmt.Errorf("method not allowed (allowed: %s)", allow)
		}))
	}
	handle("GET", "/api/v1/events", RouteEvents, s.getEvents)
	handle("GET", "/api/v1/events/{id}", RouteEvent, s.getEvent)
	handle("POST", "/api/v1/events/{id}/false-positive", RouteFalsePositive, s.postFalsePositive)
	handle("GET", "/api/v1/campaigns", RouteCampaigns, s.getCampaigns)
	handle("GET", "/api/v1/stats", RouteStats, s.getStats)
	handle("GET", "/api/v1/quarantine", RouteQuarantine, s.getQuarantine)
	handle("POST", "/api/v1/quarantine/{id}/release", RouteRelease, s.postRelease)
	handle("POST", "/api/v1/quarantine/{id}/reject", RouteReject, s.postReject)
	handle("GET", "/api/v1/quarantine/{id}/decision", RouteDecision, s.getDecision)
	handle("GET", "/api/v1/audit", RouteAudit, s.getAudit)
	// /overrides has two methods: register them by hand.
	mux.Handle("GET /api/v1/overrides", s.wrap(RouteOverrides, s.getOverrides))
	mux.Handle("POST /api/v1/overrides", s.wrap(RouteAddOverride, s.postOverride))
	handle("DELETE", "/api/v1/overrides/{id}", RouteDeleteOverride, s.deleteOverride)
	mux.Handle("/api/v1/overrides", s.wrap(RouteOverrides, func(w http.ResponseWriter, _ *http.Request) (int, any, error) {
		w.Header().Set("Allow", "GET, HEAD, POST")
		return http.StatusMethodNotAllowed, nil, errors.New("method not allowed (allowed: GET, POST)")
	}))
	handle("GET", "/api/v1/leakage", RouteLeakage, s.getLeakage)
	mux.Handle("/", s.wrap(RouteUnknown, func(_ http.ResponseWriter, r *http.Request) (int, any, error) {
		return http.StatusNotFound, nil, fmt.Errorf("no such API endpoint: %s", r.URL.Path)
	}))
	return mux
}

// wrap turns a handler returning (status, value, error) into JSON answers:
// the value on success, {"error": "..."} otherwise. Errors map to statuses
// by their sentinel; unexpected ones are logged and answered without detail.
func (s *Service) wrap(r Route, h func(http.ResponseWriter, *http.Request) (int, any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		code, v, err := h(w, req)
		switch {
		case err != nil && code >= 400 && code < 500:
			// The handler's own answer (unknown path, wrong method): the
			// client's mistake, said as it is and logged at debug only.
			s.log.Debug("review API client error", zap.String("route", string(r)), zap.String("method", req.Method),
				zap.Int("status", code), zap.Error(err))
			v = map[string]string{"error": err.Error()}
		case err != nil:
			code2, msg := s.errorStatus(r, req, err)
			if code == 0 || code < 400 {
				code = code2
			}
			v = map[string]string{"error": msg}
		}
		if code == 0 {
			code = http.StatusOK
		}
		s.m.request(r, code)
		writeJSON(w, code, v)
	})
}

func (s *Service) errorStatus(r Route, req *http.Request, err error) (int, string) {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", mbe.Limit)
	case errors.Is(err, ErrBadRequest):
		return http.StatusBadRequest, strings.TrimPrefix(err.Error(), ErrBadRequest.Error()+": ")
	case errors.Is(err, errUnsupportedMedia):
		return http.StatusUnsupportedMediaType, err.Error()
	case errors.Is(err, store.ErrBadQuery):
		return http.StatusBadRequest, "bad query (cursor or filters): " + err.Error()
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, "not found"
	case errors.Is(err, store.ErrConflict), errors.Is(err, ErrNotHeld), errors.Is(err, ErrBusy):
		return http.StatusConflict, conflictMessage(err)
	case errors.Is(err, ErrNoQuarantine):
		return http.StatusServiceUnavailable, err.Error()
	case errors.Is(err, ErrReleaseFailed):
		return http.StatusBadGateway, err.Error()
	}
	s.log.Error("review API error", zap.String("route", string(r)), zap.String("method", req.Method), zap.Error(err))
	return http.StatusInternalServerError, "internal error: " + err.Error()
}

func conflictMessage(err error) string {
	if errors.Is(err, store.ErrConflict) {
		return "the message's quarantine state changed meanwhile; reload it"
	}
	msg := err.Error()
	return strings.TrimPrefix(msg, "review: ")
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if code == http.StatusNoContent {
		w.WriteHeader(code)
		return
	}
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	// Hostile message text goes out as \u003c rather than '<' (the
	// encoder's default, kept on purpose).
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}

var errUnsupportedMedia = errors.New("the request body must be JSON: Content-Type: application/json")

// decodeBody reads a strict JSON body into v: application/json only (a
// form post from another site cannot send it without a CORS preflight),
// size-limited, unknown fields and trailing data refused.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return errUnsupportedMedia
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		if errors.Is(err, io.EOF) {
			return badf("empty request body; a JSON object is required")
		}
		return badf("request body: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badf("request body: trailing data after the JSON object")
	}
	return nil
}

func pathID(r *http.Request) (int64, error) {
	s := r.PathValue("id")
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, badf("id %q is not a positive number", s)
	}
	return id, nil
}

func checkReason(reason string, required bool) (string, error) {
	reason = strings.TrimSpace(reason)
	if required && reason == "" {
		return "", badf("a reason is required")
	}
	if len(reason) > MaxReasonLen || !utf8.ValidString(reason) {
		return "", badf("reason must be valid UTF-8 of at most %d bytes", MaxReasonLen)
	}
	return reason, nil
}

func (s *Service) getEvents(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	vs := r.URL.Query()
	if err := params(vs, eventParams); err != nil {
		return 0, nil, err
	}
	q, err := ParseQuery(vs)
	if err != nil {
		return 0, nil, err
	}
	p, err := s.o.Store.Search(r.Context(), q)
	if p.Events == nil {
		p.Events = []*filter.Event{}
	}
	return 0, p, err
}

func (s *Service) getEvent(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	id, err := pathID(r)
	if err != nil {
		return 0, nil, err
	}
	ev, err := s.o.Store.Get(r.Context(), id)
	if err != nil {
		return 0, nil, err
	}
	return 0, ev, nil
}

func (s *Service) getCampaigns(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	vs := r.URL.Query()
	if err := params(vs, campaignParams); err != nil {
		return 0, nil, err
	}
	q, err := ParseQuery(vs)
	if err != nil {
		return 0, nil, err
	}
	if q.Limit == 0 {
		q.Limit = 100
	}
	if q.From.IsZero() { // grouping all history is slow on big stores: the last day unless asked
		q.From = s.o.Now().Add(-24 * time.Hour)
		if !q.To.IsZero() && !q.From.Before(q.To) {
			q.From = q.To.Add(-24 * time.Hour)
		}
	}
	cs, err := s.o.Store.Campaigns(r.Context(), q)
	if cs == nil {
		cs = []store.Campaign{}
	}
	return 0, map[string]any{"campaigns": cs}, err
}

func (s *Service) getStats(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	vs := r.URL.Query()
	if err := params(vs, statsParams); err != nil {
		return 0, nil, err
	}
	sq, err := parseStats(vs, s.o.Now())
	if err != nil {
		return 0, nil, err
	}
	series, err := s.o.Store.Stats(r.Context(), sq)
	if series == nil {
		series = []store.Series{}
	}
	return 0, map[string]any{"by": sq.By, "step": sq.Step.String(), "from": sq.From, "to": sq.To, "series": series}, err
}

func (s *Service) getQuarantine(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	vs := r.URL.Query()
	if err := params(vs, quarantineParams); err != nil {
		return 0, nil, err
	}
	state := vs.Get("state")
	if state == "" {
		state = filter.QuarantineHeld
	}
	vs.Del("state")
	vs.Set("quarantine", state)
	q, err := ParseQuery(vs)
	if err != nil {
		return 0, nil, err
	}
	p, err := s.o.Store.Search(r.Context(), q)
	if p.Events == nil {
		p.Events = []*filter.Event{}
	}
	return 0, p, err
}

type reasonBody struct {
	Reason string `json:"reason"`
}

func (s *Service) decide(w http.ResponseWriter, r *http.Request, do func(id int64, reason string) (*filter.Event, error)) (int, any, error) {
	id, err := pathID(r)
	if err != nil {
		return 0, nil, err
	}
	var b reasonBody
	if err := decodeBody(w, r, &b); err != nil {
		return 0, nil, err
	}
	reason, err := checkReason(b.Reason, true)
	if err != nil {
		return 0, nil, err
	}
	ev, err := do(id, reason)
	var pe *PendingError
	if errors.As(err, &pe) {
		// Another node will send it (cluster.go): the decision says where
		// it stands; GET .../decision follows it.
		return http.StatusAccepted, pe.Decision, nil
	}
	if err != nil {
		return 0, nil, err
	}
	return 0, ev, nil
}

// getDecision is the shared decision on a quarantined message (several
// nodes on one store): pending, claimed, done or failed.
func (s *Service) getDecision(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	id, err := pathID(r)
	if err != nil {
		return 0, nil, err
	}
	d, err := s.Decision(r.Context(), id)
	if err != nil {
		return 0, nil, err
	}
	return 0, d, nil
}

func (s *Service) postRelease(w http.ResponseWriter, r *http.Request) (int, any, error) {
	return s.decide(w, r, func(id int64, reason string) (*filter.Event, error) {
		return s.Release(r.Context(), id, actor(r), reason)
	})
}

func (s *Service) postReject(w http.ResponseWriter, r *http.Request) (int, any, error) {
	return s.decide(w, r, func(id int64, reason string) (*filter.Event, error) {
		return s.Reject(r.Context(), id, actor(r), reason)
	})
}

type falsePositiveBody struct {
	Scope  string `json:"scope"`
	Reason string `json:"reason"`
}

func (s *Service) postFalsePositive(w http.ResponseWriter, r *http.Request) (int, any, error) {
	id, err := pathID(r)
	if err != nil {
		return 0, nil, err
	}
	var b falsePositiveBody
	if err := decodeBody(w, r, &b); err != nil {
		return 0, nil, err
	}
	reason, err := checkReason(b.Reason, true)
	if err != nil {
		return 0, nil, err
	}
	o, err := s.FalsePositive(r.Context(), id, b.Scope, actor(r), reason)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, o, nil
}

// overrideBody is POST /api/v1/overrides. The fingerprint is hex, as the
// API's query parameter and the console show it.
type overrideBody struct {
	Kind        string `json:"kind"`
	Sender      string `json:"sender"`
	Fingerprint string `json:"fingerprint"`
	Action      string `json:"action"`
	Reason      string `json:"reason"`
	EventID     string `json:"event_id"`
}

func (s *Service) postOverride(w http.ResponseWriter, r *http.Request) (int, any, error) {
	var b overrideBody
	if err := decodeBody(w, r, &b); err != nil {
		return 0, nil, err
	}
	reason, err := checkReason(b.Reason, true)
	if err != nil {
		return 0, nil, err
	}
	o := &filter.Override{Kind: b.Kind, Sender: strings.TrimSpace(b.Sender), Action: b.Action, Reason: reason,
		Author: actor(r), Created: s.o.Now()}
	if b.Fingerprint != "" {
		if o.Fingerprint, err = ParseFingerprint(b.Fingerprint); err != nil {
			return 0, nil, badf("%v", err)
		}
	}
	if b.EventID != "" {
		if o.EventID, err = strconv.ParseInt(b.EventID, 10, 64); err != nil || o.EventID <= 0 {
			return 0, nil, badf("event_id %q is not a positive number", b.EventID)
		}
	}
	if err := s.AddOverride(r.Context(), o); err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, o, nil
}

func (s *Service) getOverrides(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	if len(r.URL.Query()) > 0 {
		return 0, nil, badf("GET /api/v1/overrides takes no query parameters")
	}
	set, err := s.o.Store.Overrides(r.Context())
	if set == nil {
		set = []filter.Override{}
	}
	return 0, map[string]any{"overrides": set}, err
}

func (s *Service) deleteOverride(w http.ResponseWriter, r *http.Request) (int, any, error) {
	id, err := pathID(r)
	if err != nil {
		return 0, nil, err
	}
	// The reason is optional here; when a body is sent it must be JSON.
	var b reasonBody
	if r.ContentLength != 0 {
		if err := decodeBody(w, r, &b); err != nil {
			return 0, nil, err
		}
	}
	reason, err := checkReason(b.Reason, false)
	if err != nil {
		return 0, nil, err
	}
	if err := s.DeleteOverride(r.Context(), id, actor(r), reason); err != nil {
		return 0, nil, err
	}
	return 0, map[string]string{"deleted": strconv.FormatInt(id, 10)}, nil
}

func (s *Service) getAudit(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	vs := r.URL.Query()
	if err := params(vs, auditParams); err != nil {
		return 0, nil, err
	}
	aq, err := parseAudit(vs)
	if err != nil {
		return 0, nil, err
	}
	entries, err := s.o.Store.Audit(r.Context(), aq)
	if entries == nil {
		entries = []store.AuditEntry{}
	}
	return 0, map[string]any{"entries": entries}, err
}

// maxLeakageDays bounds one ledger query.
const maxLeakageDays = 366

// getLeakage serves the leakage ledger: delivered grey-route traffic per
// peer and UTC day, ?from=YYYY-MM-DD&to=YYYY-MM-DD (default the last 30
// days), with each peer's total over the range, largest first.
func (s *Service) getLeakage(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	q := r.URL.Query()
	to := s.o.Now().UTC()
	if v := q.Get("to"); v != "" {
		t, err := time.Parse(time.DateOnly, v)
		if err != nil {
			return 0, nil, fmt.Errorf("%w: to: want YYYY-MM-DD, not %q", store.ErrBadQuery, v)
		}
		to = t
	}
	from := to.AddDate(0, 0, -29)
	if v := q.Get("from"); v != "" {
		t, err := time.Parse(time.DateOnly, v)
		if err != nil {
			return 0, nil, fmt.Errorf("%w: from: want YYYY-MM-DD, not %q", store.ErrBadQuery, v)
		}
		from = t
	}
	if from.After(to) || to.Sub(from) > maxLeakageDays*24*time.Hour {
		return 0, nil, fmt.Errorf("%w: from..to must be in order and at most %d days", store.ErrBadQuery, maxLeakageDays)
	}
	days, err := s.o.Store.Leakage(r.Context(), from.Format(time.DateOnly), to.Format(time.DateOnly))
	if err != nil {
		return 0, nil, err
	}
	type total struct {
		Peer     string  `json:"peer"`
		Messages int64   `json:"messages"`
		Segments int64   `json:"segments"`
		Amount   float64 `json:"amount"`
	}
	byPeer := map[string]*total{}
	peers := []*total{}
	for _, d := range days {
		t := byPeer[d.Peer]
		if t == nil {
			t = &total{Peer: d.Peer}
			byPeer[d.Peer] = t
			peers = append(peers, t)
		}
		t.Messages += d.Messages
		t.Segments += d.Segments
		t.Amount += d.Amount
	}
	sort.SliceStable(peers, func(i, j int) bool { return peers[i].Amount > peers[j].Amount })
	if days == nil {
		days = []store.LeakageDay{}
	}
	return 0, map[string]any{"from": from.Format(time.DateOnly), "to": to.Format(time.DateOnly), "peers": peers, "days": days}, nil
}
