package sim

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/smsfw/smsfw/smpp/pdu"
)

// Handler serves the simulator's control API:
//
//	GET  /v1/messages  accepted messages, oldest first
//	POST /v1/mo        inject an MO {"system_id","from","to","text"} -> 200
//	                   {"status": N, "state": S}: the first attempt's answer, S delivered,
//	                   retrying or refused; 202 {"state": "queued"} when it was not
//	                   answered (no receiver bound, no answer) but a retry is scheduled;
//	                   503 (no receiver) or 504 (no answer) when it is not
//	GET  /v1/stats     counters (Stats)
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
		st, retrying, err := s.DeliverMO(r.Context(), mo)
		switch {
		case err != nil && retrying:
			// Not delivered yet, but queued for a retry: a client that
			// posted again would have it delivered twice.
			writeJSON(w, http.StatusAccepted, map[string]any{"state": "queued", "error": err.Error()})
		case errors.Is(err, ErrNoReceiver):
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
		case err != nil:
			writeJSON(w, http.StatusGatewayTimeout, map[string]string{"error": err.Error()})
		default:
			state := "delivered"
			switch {
			case st != pdu.StatusOK && retrying:
				state = "retrying"
			case st != pdu.StatusOK && temporary(st):
				state = "expired" // no retry left
			case st != pdu.StatusOK:
				state = "refused"
			}
			writeJSON(w, http.StatusOK, map[string]any{"status": uint32(st), "state": state})
		}
	})
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
