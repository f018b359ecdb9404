package admin

import (
	"fmt"
	"net/http"
	"strings"
)

// Role is what an admin credential may do. Each includes the one before,
// except that metrics may only scrape and probe.
type Role string

// Roles.
const (
	RoleMetrics Role = "metrics" // GET /metrics, /healthz, /readyz
	RoleViewer  Role = "viewer"  // and read everything: events, stats, campaigns, peers, the console
	RoleAnalyst Role = "analyst" // and act on events: release, reject, overrides, false positives, replays
	RoleAdmin   Role = "admin"   // and run the node: reload, bans, profiling (the default)
)

// Roles lists the roles, least first.
var Roles = []Role{RoleMetrics, RoleViewer, RoleAnalyst, RoleAdmin}

func (r Role) rank() int {
	for i, x := range Roles {
		if x == r {
			return i
		}
	}
	return -1
}

// roleOf resolves a configured role ("" is admin, for configurations
// written before roles).
func roleOf(s string) (Role, error) {
	if s == "" {
		return RoleAdmin, nil
	}
	if r := Role(s); r.rank() >= 0 {
		return r, nil
	}
	return "", fmt.Errorf("unknown role %q (metrics, viewer, analyst, admin)", s)
}

// needs returns the least role a request needs.
func needs(r *http.Request) Role {
	read := r.Method == http.MethodGet || r.Method == http.MethodHead
	p := r.URL.Path
	switch {
	case read && (p == "/metrics" || p == "/healthz" || p == "/readyz"):
		return RoleMetrics
	case strings.HasPrefix(p, "/-/") || strings.HasPrefix(p, "/debug/") || !read && strings.HasPrefix(p, "/api/v1/bans"):
		return RoleAdmin
	case read:
		return RoleViewer
	}
	return RoleAnalyst
}

// allowed reports whether role may make request r.
func allowed(role Role, r *http.Request) bool { return role.rank() >= needs(r).rank() }

// role is the role of an authenticated name (the open, loopback-only server
// is the admin's own).
func (a *authenticator) role(actor string) Role {
	if a.open {
		return RoleAdmin
	}
	return a.roles[actor]
}
