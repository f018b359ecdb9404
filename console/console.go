// Package console is the analysts' web console: static files embedded in
// the binary (plain JavaScript modules, no build step, no external origin),
// served by the admin server at / and /console/. It talks only to the
// review API (/api/v1) of the same origin.
package console

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var files embed.FS

// CSP is the Content-Security-Policy of every console response: scripts,
// styles and API calls from this origin only, no inline script or style,
// no frames, no plugins. Message texts are hostile input; the console never
// turns them into HTML, and the policy is the second wall if it ever did.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Handler serves the console's files (index.html at / and /console/, the
// rest under /console/).
func Handler() http.Handler {
	sub, err := fs.Sub(files, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	fileServer := http.StripPrefix("/console/", http.FileServerFS(sub))
	index, err := fs.ReadFile(sub, "index.html")
	if err != nil {
		panic(err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		// The files change with the binary only; revalidation is cheap and
		// avoids a stale console after an upgrade.
		h.Set("Cache-Control", "no-cache")
		if r.URL.Path == "/" || r.URL.Path == "/console/" || r.URL.Path == "/console/index.html" {
			h.Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write(index)
			return
		}
		fileServer.ServeHTTP(w, r)
	})
}

// Mount registers the console on the admin mux: GET / (exactly) and
// GET /console/... Other admin routes (/api/v1/, /metrics, ...) are more
// specific and keep precedence.
func Mount(mux *http.ServeMux) {
	h := Handler()
	mux.Handle("GET /{$}", h)
	mux.Handle("GET /console/", h)
}
