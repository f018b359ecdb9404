package bpf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/smsfw/smsfw/admin"
)

// Audit actions of the ban API.
const (
	ActBan   = "ban"
	ActUnban = "unban"
)

// AuditFunc records an analyst's action in the audit log (target: the
// source CIDR).
type AuditFunc func(ctx context.Context, actor, action, target, reason string, detail map[string]any)

// maxBody bounds a request body of the ban API.
const maxBody = 4 << 10

// banBody is POST /api/v1/bans.
type banBody struct {
	Source string `json:"source"`
	TTL    string `json:"ttl"` // a Go duration; "": bpf.ban_ttl
	Reason string `json:"reason"`
}

// Mount adds the ban API to the admin mux (which authenticates and
// audits nothing itself: audit records each change):
//
//	GET    /api/v1/bans          the bans in force with their drops, and where they are enforced
//	POST   /api/v1/bans          {"source": CIDR, "ttl": "1h", "reason": "..."}
//	DELETE /api/v1/bans/{cidr}   lift a ban (optional {"reason": "..."})
func (s *Shield) Mount(mux *http.ServeMux, audit AuditFunc) {
	mux.HandleFunc("GET /api/v1/bans", func(w http.ResponseWriter, _ *http.Request) {
		reply(w, http.StatusOK, map[string]any{"bans": s.BanList(), "enforcement": s.Status(), "packets": s.Packets()})
	})
	mux.HandleFunc("POST /api/v1/bans", func(w http.ResponseWriter, r *http.Request) {
		var b banBody
		if err := decode(w, r, &b); err != nil {
			fail(w, err)
			return
		}
		src, err := ParseSource(strings.TrimSpace(b.Source))
		if err != nil {
			fail(w, badRequest{err})
			return
		}
		ttl := s.cfg.BanTTL
		if b.TTL != "" {
			if ttl, err = time.ParseDuration(b.TTL); err != nil || ttl < time.Second || ttl > maxBanTTL {
				fail(w, badRequest{fmt.Errorf("ttl %q: a duration from 1s to 8760h", b.TTL)})
				return
			}
		}
		reason, err := checkReason(b.Reason, true)
		if err != nil {
			fail(w, err)
			return
		}
		actor := admin.Actor(r.Context())
		s.share.mu.Lock()
		defer s.share.mu.Unlock()
		ban, err := s.Ban(src, ttl, reason, OriginAPI, actor)
		if err != nil {
			fail(w, err)
			return
		}
		audit(r.Context(), actor, ActBan, src.String(), reason, map[string]any{"ttl": ttl.String(), "expires": ban.Expires})
		if bs := s.share.store; bs != nil {
			if err := bs.SaveBan(r.Context(), ban); err != nil {
				s.m.shareErrors.Inc()
				s.log.Error("ban not shared with the other nodes", zap.Stringer("source", src), zap.Error(err))
				reply(w, http.StatusServiceUnavailable, map[string]string{"error": "banned on this node only, not shared with the other nodes: " + err.Error()})
				return
			}
		}
		reply(w, http.StatusCreated, ban)
	})
	mux.HandleFunc("DELETE /api/v1/bans/{cidr...}", func(w http.ResponseWriter, r *http.Request) {
		src, err := ParseSource(r.PathValue("cidr"))
		if err != nil {
			fail(w, badRequest{err})
			return
		}
		var b struct {
			Reason string `json:"reason"`
		}
		if r.ContentLength != 0 {
			if err := decode(w, r, &b); err != nil {
				fail(w, err)
				return
			}
		}
		reason, err := checkReason(b.Reason, false)
		if err != nil {
			fail(w, err)
			return
		}
		s.share.mu.Lock()
		defer s.share.mu.Unlock()
		shared := false
		if bs := s.share.store; bs != nil {
			// Shared first: lifted here but still shared, the next sync
			// would ban it again.
			if shared, err = bs.DeleteBan(r.Context(), src); err != nil {
				s.m.shareErrors.Inc()
				reply(w, http.StatusServiceUnavailable, map[string]string{"error": "the shared ban list is unavailable; nothing lifted: " + err.Error()})
				return
			}
		}
		old, ok := s.Unban(src)
		if !ok && shared {
			old, ok = Ban{Source: src, Origin: OriginAPI}, true
		}
		if !ok {
			reply(w, http.StatusNotFound, map[string]string{"error": "no ban on " + src.String()})
			return
		}
		audit(r.Context(), admin.Actor(r.Context()), ActUnban, src.String(), reason, map[string]any{"origin": old.Origin})
		reply(w, http.StatusOK, map[string]any{"deleted": old})
	})
	for path, allow := range map[string]string{"/api/v1/bans": "GET, HEAD, POST", "/api/v1/bans/": "DELETE"} {
		mux.HandleFunc(path, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Allow", allow)
			reply(w, http.StatusMethodNotAllowed, map[string]string{"error": "method not allowed (allowed: " + allow + ")"})
		})
	}
}

// badRequest is a client's mistake (400).
type badRequest struct{ error }

func fail(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	var br badRequest
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &br):
		code = http.StatusBadRequest
	case errors.As(err, &mbe):
		code = http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrFull):
		code = http.StatusInsufficientStorage
	}
	reply(w, code, map[string]string{"error": err.Error()})
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// decode reads a strict JSON object (application/json only: a form on
// another site cannot send one without a preflight).
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return badRequest{errors.New("the request body must be JSON: Content-Type: application/json")}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if _, terr := dec.Token(); err == nil && !errors.Is(terr, io.EOF) {
		err = errors.New("trailing data after the JSON object")
	}
	var mbe *http.MaxBytesError
	if err != nil && !errors.As(err, &mbe) {
		return badRequest{fmt.Errorf("request body: %w", err)}
	}
	return err
}

func checkReason(reason string, required bool) (string, error) {
	reason = strings.TrimSpace(reason)
	switch {
	case required && reason == "":
		return "", badRequest{errors.New("a reason is required")}
	case len(reason) > 1000 || !utf8.ValidString(reason):
		return "", badRequest{errors.New("reason must be valid UTF-8 of at most 1000 bytes")}
	}
	return reason, nil
}
