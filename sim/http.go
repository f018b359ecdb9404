package sim

import (
	"encoding/json"
	"errors"
	"net/http"
)

// Handler serves the simulator's control API:
//
//	GET  /v1/messages  accepted messages, oldest first
//	POST /v1/mo        inject an MO {"system_id","from","to","text"} -> {"status": N}
//	GET  /v1/stats     counters
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/messages", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Messages())
	})
	mux.HandleFunc("GET /v1/stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Stats())
	})
	mux.HandleFunc("POST /v1/mo", func(w http.ResponseWriter, r *http.Request) {
		var mo MO
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&mo); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad JSON: " + err.Error()})
			return
		}
		if mo.From == "" || mo.To == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "from and to are required"})
			return
		}
		st, err := s.InjectMO(r.Context(), mo)
		switch {
		case errors.Is(err, ErrNoReceiver):
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
		case err != nil:
			writeJSON(w, http.StatusGatewayTimeout, map[string]string{"error": err.Error()})
		default:
			writeJSON(w, http.StatusOK, map[string]any{"status": uint32(st)})
		}
	})
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
