package review

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Route is a metric label naming an API route (never a path with ids in it).
type Route string

// Routes.
const (
	RouteEvents         Route = "events"
	RouteEvent          Route = "event"
	RouteFalsePositive  Route = "false_positive"
	RouteCampaigns      Route = "campaigns"
	RouteStats          Route = "stats"
	RouteQuarantine     Route = "quarantine"
	RouteRelease        Route = "release"
	RouteDecision       Route = "decision"
	RouteReject         Route = "reject"
	RouteOverrides      Route = "overrides"
	RouteAddOverride    Route = "add_override"
	RouteDeleteOverride Route = "delete_override"
	RouteAudit          Route = "audit"
	RouteLeakage        Route = "leakage"
	RouteUnknown        Route = "unknown"
)

// CodeClass is a metric label: the HTTP status class.
type CodeClass string

// Status classes.
const (
	Code2xx CodeClass = "2xx"
	Code3xx CodeClass = "3xx"
	Code4xx CodeClass = "4xx"
	Code5xx CodeClass = "5xx"
)

func codeClass(code int) CodeClass {
	switch {
	case code >= 500:
		return Code5xx
	case code >= 400:
		return Code4xx
	case code >= 300:
		return Code3xx
	}
	return Code2xx
}

// Action is a metric label: an analyst's (or the expiry's) action.
type Action string

// Actions counted by smsfw_review_actions_total.
const (
	ActRelease        Action = "release"
	ActReject         Action = "reject"
	ActExpire         Action = "expire"
	ActFalsePositive  Action = "false_positive"
	ActBlock          Action = "block"
	ActAllow          Action = "allow"
	ActDeleteOverride Action = "delete_override"
	// ActReload is a configuration reload (SIGHUP, a changed file, POST /-/reload).
	ActReload Action = "reload"
)

// Metrics are the review API's Prometheus metrics.
type Metrics struct {
	requests *prometheus.CounterVec
	actions  *prometheus.CounterVec
	failures *prometheus.CounterVec
	clusterc *prometheus.CounterVec
}

// NewMetrics registers the metrics on reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "smsfw_review_requests_total",
			Help: "Review API requests by route and status class."}, []string{"route", "code"}),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "smsfw_review_actions_total",
			Help: "Analyst actions carried out (and quarantine expiries)."}, []string{"action"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "smsfw_review_action_failures_total",
			Help: "Analyst actions that failed after validation (upstream, store or audit errors)."}, []string{"action"}),
		clusterc: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "smsfw_review_cluster_decisions_total",
			Help: "Quarantine releases crossing nodes: forwarded, carried_out, pending (answered 202), stale (failed by the poll)."}, []string{"outcome"}),
	}
	// Counters present from the start (0), so their rates are defined
	// before the first event: each action and its failures, each route's
	// server errors, each cross-node outcome.
	for _, a := range []Action{ActRelease, ActReject, ActExpire, ActFalsePositive, ActBlock, ActAllow, ActDeleteOverride, ActReload} {
		m.actions.WithLabelValues(string(a))
		m.failures.WithLabelValues(string(a))
	}
	for _, r := range []Route{RouteEvents, RouteEvent, RouteFalsePositive, RouteCampaigns, RouteStats, RouteQuarantine, RouteRelease,
		RouteDecision, RouteReject, RouteOverrides, RouteAddOverride, RouteDeleteOverride, RouteAudit, RouteLeakage} {
		m.requests.WithLabelValues(string(r), string(Code5xx))
	}
	for _, o := range []ClusterOutcome{OutcomeForwarded, OutcomeCarriedOut, OutcomePending, OutcomeStale} {
		m.clusterc.WithLabelValues(string(o))
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.actions, m.failures, m.clusterc)
	}
	return m
}

func (m *Metrics) request(r Route, code int) {
	m.requests.WithLabelValues(string(r), string(codeClass(code))).Inc()
}

func (m *Metrics) action(a Action)  { m.actions.WithLabelValues(string(a)).Inc() }
func (m *Metrics) failure(a Action) { m.failures.WithLabelValues(string(a)).Inc() }

func (m *Metrics) cluster(o ClusterOutcome) { m.clusterc.WithLabelValues(string(o)).Inc() }
