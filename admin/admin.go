// Package admin is smsfw's admin HTTP server: health, readiness and
// Prometheus metrics (and, later, the API and console). It reads state and
// never sits on the relay path.
package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/pprof"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Options configure the admin handler.
type Options struct {
	// Ready reports readiness with a human-readable reason.
	Ready func() (bool, string)
	// Gatherer serves /metrics.
	Gatherer prometheus.Gatherer
}

// Handler returns the admin mux: /healthz, /readyz, /metrics. Extra routes
// may be added to the returned mux.
func Handler(o Options) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ok, why := true, "ready"
		if o.Ready != nil {
			ok, why = o.Ready()
		}
		code := http.StatusOK
		status := "ready"
		if !ok {
			code, status = http.StatusServiceUnavailable, "not ready"
		}
		if anonymousProbe(r.Context()) {
			writeJSON(w, code, map[string]string{"status": status})
			return
		}
		writeJSON(w, code, map[string]string{"status": status, "reason": why})
	})
	if o.Gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	}
	return mux
}

// PublicHandler serves /metrics, /healthz and /readyz (status only, as to
// an anonymous probe) and nothing else, without authentication: the
// handler of the metrics_listen address.
func PublicHandler(o Options) http.Handler {
	h := Handler(o)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), probeKey{}, true)))
	})
}

// Pprof mounts the Go profiler under /debug/pprof/ (Protect lets only the
// admin role in).
func Pprof(mux *http.ServeMux) {
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
}

// JSONErrors answers the mux's own errors (no such path: 404, a path
// without the method: 405, which http.ServeMux writes as plain text) as
// JSON {"error": "..."} like every other answer of the admin API.
func JSONErrors(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&jsonErrorWriter{ResponseWriter: w, path: r.URL.Path}, r)
	})
}

type jsonErrorWriter struct {
	http.ResponseWriter
	path     string
	replaced bool
}

func (w *jsonErrorWriter) WriteHeader(code int) {
	if (code == http.StatusNotFound || code == http.StatusMethodNotAllowed) &&
		strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
		w.replaced = true
		msg := "no such path: " + w.path
		if code == http.StatusMethodNotAllowed {
			msg = "method not allowed (allowed: " + w.Header().Get("Allow") + ")"
		}
		writeJSON(w.ResponseWriter, code, map[string]string{"error": msg})
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *jsonErrorWriter) Write(b []byte) (int, error) {
	if w.replaced {
		return len(b), nil // the plain-text body the JSON replaced
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (profiles
// stream for seconds).
func (w *jsonErrorWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
