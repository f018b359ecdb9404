// Package apidoc is the OpenAPI 3 description of the admin API
// (openapi.yaml), served at GET /api/v1/openapi.yaml. Tests check it
// against the routes the handlers register.
package apidoc

import (
	_ "embed"
	"net/http"
)

//go:embed openapi.yaml
var Spec []byte

// Handler serves the description.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(Spec)
	})
}
