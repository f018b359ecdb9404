package deploy_test

// The metrics smsfw registers, from a running smsfw built the way `smsfw
// run` builds it (internal/app: app.NewRegistry, app.New with a
// pass-through config, the shipped policy and an SQLite event store):
// the dashboard, the alerts and docs/operations.md name only those, the
// docs name all of them, and promlint finds nothing wrong with them.

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"

	"github.com/smsfw/smsfw/alerts"
	"github.com/smsfw/smsfw/cluster"
	"github.com/smsfw/smsfw/deploy"
	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/internal/app"
	"github.com/smsfw/smsfw/internal/config"
	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/mo"
	"github.com/smsfw/smsfw/sim"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// runningApp starts a simulated SMSC and smsfw in front of it, sends a few
// messages through it (allowed and refused, so most labelled series
// exist), and returns smsfw.
// startSim starts a simulated SMSC for the test and returns its address.
func startSim(t *testing.T) string {
	t.Helper()
	s := sim.New(sim.Config{}, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(s.Close)
	return ln.Addr().String()
}

func runningApp(t *testing.T) *app.App {
	t.Helper()
	up := startSim(t)
	src := deploy.DefaultPolicySource()
	// An MO route, alerts and the cluster link: their metrics are
	// registered with them.
	dir := t.TempDir()
	key := filepath.Join(dir, "key")
	if err := os.WriteFile(key, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{
		MORoutes: mo.Routes{{Name: "lint", Match: mo.Match{To: []string{"80080"}},
			HTTP: &mo.HTTPTarget{URL: "http://127.0.0.1:1/", SecretFile: key}, Reply: &mo.ReplyAction{Text: "ok", From: "80080"}}},
		Alerts:  &alerts.Config{Webhook: &alerts.Webhook{URL: "http://127.0.0.1:1/", SecretFile: key}},
		Cluster: &cluster.Config{Node: "lint"},
	}
	a, err := app.New(context.Background(), app.Options{Config: cfg, Upstream: up,
		Listen: "127.0.0.1:0", Admin: "127.0.0.1:0", Policy: &src, DB: filepath.Join(dir, "events.db"),
		Registry: app.NewRegistry(), Logger: zap.NewNop(), WatchInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	a.Start()
	t.Cleanup(func() { _ = a.Shutdown(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := esme.Dial(ctx, a.Addr(), esme.Options{SystemID: "acme", Password: "x"})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, m := range []pdu.SMFields{
		{SrcTON: 5, Src: "AcmeShop", DstTON: 1, Dst: "4915112345678", ShortMessage: []byte("AcmeShop: your order 1234 has shipped"), RegisteredDelivery: 1},
		{SrcTON: 5, Src: "PAYPA1", DstTON: 1, Dst: "4915112345678", ShortMessage: []byte("Confirm your details now")},
	} {
		if _, err := cl.Do(ctx, pdu.AppendSM(nil, pdu.SubmitSM, 0, &m)); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// registered is every metric name a's registry describes (labelled
// metrics without series included), and the types of those it gathers.
func registered(t *testing.T, a *app.App) (names map[string]bool, types map[string]dto.MetricType) {
	t.Helper()
	ch := make(chan *prometheus.Desc)
	go func() { a.Registry.Describe(ch); close(ch) }()
	names = map[string]bool{}
	for d := range ch {
		m := fqName.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("no name in %s", d)
		}
		names[m[1]] = true
	}
	mfs, err := a.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	types = map[string]dto.MetricType{}
	for _, mf := range mfs {
		types[mf.GetName()] = mf.GetType()
		if !names[mf.GetName()] {
			t.Errorf("%s gathered but not described", mf.GetName())
		}
	}
	if len(names) < 60 || !names["smsfw_leakage_amount_total"] || !names["smsfw_admin_logins_total"] {
		t.Fatalf("only %d metrics described: the app is not fully built", len(names))
	}
	return names, types
}

var metricName = regexp.MustCompile(`\bsmsfw_[a-zA-Z0-9_]+`)

// TestDeployFilesUseRegisteredMetrics: every smsfw_ name in the dashboard,
// the alerts and their tests (queries, descriptions and series alike) is
// one smsfw registers, or a histogram's _bucket, _sum or _count.
func TestDeployFilesUseRegisteredMetrics(t *testing.T) {
	names, types := registered(t, runningApp(t))
	for _, f := range []string{"grafana/smsfw.json", "prometheus/alerts.yaml", "prometheus/alerts_test.yaml"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		used := map[string]bool{}
		for _, n := range metricName.FindAllString(string(data), -1) {
			used[n] = true
		}
		if len(used) < 5 {
			t.Fatalf("%s: only %d metric names found", f, len(used))
		}
		for n := range used {
			if names[n] {
				continue
			}
			base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_sum"), "_count")
			if base != n && types[base] == dto.MetricType_HISTOGRAM {
				continue
			}
			t.Errorf("%s names %s, which smsfw does not register", f, n)
		}
	}
}

// TestOperationsDocListsEveryMetric: docs/operations.md's metrics table
// names every smsfw_ metric smsfw registers, and no other.
func TestOperationsDocListsEveryMetric(t *testing.T) {
	names, _ := registered(t, runningApp(t))
	data, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "| `smsfw_") {
			continue
		}
		first, _, _ := strings.Cut(strings.TrimPrefix(line, "| "), " |")
		for _, n := range metricName.FindAllString(first, -1) {
			documented[n] = true
		}
	}
	var missing, unknown []string
	for n := range names {
		if strings.HasPrefix(n, "smsfw_") && !documented[n] {
			missing = append(missing, n)
		}
	}
	for n := range documented {
		if !names[n] {
			unknown = append(unknown, n)
		}
	}
	sort.Strings(missing)
	sort.Strings(unknown)
	if len(missing) > 0 {
		t.Errorf("docs/operations.md's metrics table lacks %s", strings.Join(missing, ", "))
	}
	if len(unknown) > 0 {
		t.Errorf("docs/operations.md's metrics table names %s, which smsfw does not register", strings.Join(unknown, ", "))
	}
}

// lintExceptions are promlint's findings that are not naming mistakes,
// each with why; any other finding fails.
var lintExceptions = map[string]string{
	// "counter" names the detectors' counter tables (filter/counters), not
	// the metric type; the family is smsfw_filter_counter_{keys,bytes,
	// max_bytes,evictions_total}.
	"smsfw_filter_counter_evictions_total: metric name should not include type 'counter'": "detector counter tables",
}

var descHelp = regexp.MustCompile(`help: "((?:[^"\\]|\\.)*)"`)

// TestMetricLint runs promlint (Prometheus' naming conventions: units,
// _total on counters only, help text, no camel case, ...) on every metric
// a running smsfw serves. Labelled metrics without a series in this run
// are linted from their description, typed by name (_total: counter, else
// gauge), which checks everything but a counter missing its _total.
func TestMetricLint(t *testing.T) {
	a := runningApp(t)
	names, _ := registered(t, a)
	mfs, err := a.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	gathered := map[string]bool{}
	for _, mf := range mfs {
		gathered[mf.GetName()] = true
	}
	ch := make(chan *prometheus.Desc)
	go func() { a.Registry.Describe(ch); close(ch) }()
	var described []string
	for d := range ch {
		name := fqName.FindStringSubmatch(d.String())[1]
		if gathered[name] {
			continue
		}
		gathered[name] = true
		described = append(described, name)
		help := ""
		if m := descHelp.FindStringSubmatch(d.String()); m != nil {
			help = m[1]
		}
		mf := &dto.MetricFamily{Name: &name, Help: &help}
		zero := 0.0
		if strings.HasSuffix(name, "_total") {
			mf.Type = dto.MetricType_COUNTER.Enum()
			mf.Metric = []*dto.Metric{{Counter: &dto.Counter{Value: &zero}}}
		} else {
			mf.Type = dto.MetricType_GAUGE.Enum()
			mf.Metric = []*dto.Metric{{Gauge: &dto.Gauge{Value: &zero}}}
		}
		mfs = append(mfs, mf)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if _, ok := lintExceptions[p.Metric+": "+p.Text]; !ok {
			t.Errorf("%s: %s", p.Metric, p.Text)
		}
	}
	slices.Sort(described)
	t.Logf("%d metrics linted (of %d registered); from their description only: %s", len(mfs), len(names), strings.Join(described, ", "))
}

// TestDashboardCoversOperations: the dashboard has a panel for each thing
// an operator watches (issue 15): traffic by peer, direction, class and
// verdict; latency; in-flight and windows; binds and upstream pools; rule
// hits; leakage; the event store's queue and drops; the eBPF shield's
// drops; reloads. Each is named by the metric its query must use.
func TestDashboardCoversOperations(t *testing.T) {
	data, err := os.ReadFile("grafana/smsfw.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatal(err)
	}
	queried := map[string][]string{} // metric -> panel titles
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, n := range metricName.FindAllString(tg.Expr, -1) {
				queried[n] = append(queried[n], p.Title)
			}
		}
	}
	for what, metric := range map[string]string{
		"traffic by peer":                  "smsfw_proxy_peer_verdicts_total",
		"traffic by direction and verdict": "smsfw_proxy_verdicts_total",
		"traffic by class":                 "smsfw_filter_messages_total",
		"latency":                          "smsfw_proxy_relay_latency_seconds_bucket",
		"in flight":                        "smsfw_proxy_inflight_requests",
		"windows (deliveries waiting)":     "smsfw_proxy_queued_deliveries",
		"binds":                            "smsfw_proxy_sessions",
		"upstream pools":                   "smsfw_proxy_upstream_sessions_bound",
		"rule hits":                        "smsfw_rules_hits_total",
		"leakage":                          "smsfw_leakage_amount_total",
		"event store queue":                "smsfw_events_queue_length",
		"event store drops":                "smsfw_events_dropped_total",
		"BPF drops":                        "smsfw_bpf_packets_total",
		"BPF attached":                     "smsfw_bpf_enabled",
		"policy reload":                    "smsfw_rules_last_reload_successful",
		"configuration reload":             "smsfw_config_last_reload_successful",
		"certificate expiry":               "smsfw_proxy_tls_certificate_expiry_timestamp_seconds",
	} {
		if len(queried[metric]) == 0 {
			t.Errorf("no dashboard panel shows %s (%s)", what, metric)
		}
	}
}

var (
	variableLabels = regexp.MustCompile(`variableLabels: \{([^}]*)\}`)
	constLabels    = regexp.MustCompile(`constLabels: \{([^}]*)\}`)
)

// boundedLabels are the label names smsfw's metrics may use, each with
// what bounds its values. A new label name fails TestMetricLabelsBounded
// until it is added here with its bound: an MSISDN, a text, an address or
// an id as a label would make a series per subscriber.
var boundedLabels = map[string]string{
	"action":     "filter actions, ban actions (pass, drop), override actions: constants",
	"channel":    "alert channels (webhook, email): constants",
	"class":      "message classes (a2p, p2p, mo, receipt): constants",
	"code":       "HTTP status codes of outgoing webhooks, by class: constants",
	"command":    "SMPP command names: a fixed table",
	"detector":   "the detectors compiled in",
	"direction":  "mt, mo, receipt; in, out: constants",
	"event":      "delivery and segment events: constants",
	"finding":    "the flags the detectors declare (filter.NewFlag)",
	"go_version": "one value per process (smsfw_build_info)",
	"hash":       "the policy in force: one series (smsfw_rules_policy_info)",
	"kind":       "constants",
	"leg":        "downstream, upstream",
	"limit":      "connection limits (total, per_source, banned): constants",
	"mode":       "rule modes (enforce, monitor): constants",
	"op":         "journal operations (load, append, read, compact): constants",
	"outcome":    "constants",
	"part":       "constants",
	"peer":       "the configured peers; pass-through system_ids capped at 1,000, then other (proxy.maxPeerLabels)",
	"reason":     "constants",
	"result":     "constants",
	"revision":   "one value per process (smsfw_build_info)",
	"route":      "the configured MO routes and the policy's rules with actions",
	"rule":       "the policy's rule ids",
	"scope":      "lockout scopes (source, system_id): constants",
	"status":     "SMPP status classes: a fixed table",
	"table":      "constants",
	"target":     "TLS targets, MO targets: constants",
	"upstream":   "the configured upstreams (pass-through: one)",
	"version":    "one value per process (smsfw_build_info)",
}

// TestMetricLabelsBounded: every label of every metric smsfw registers is
// one whose values are bounded (boundedLabels), and no label ever carries
// a subscriber's number or a text.
func TestMetricLabelsBounded(t *testing.T) {
	a := runningApp(t)
	ch := make(chan *prometheus.Desc)
	go func() { a.Registry.Describe(ch); close(ch) }()
	n := 0
	for d := range ch {
		name := fqName.FindStringSubmatch(d.String())[1]
		if !strings.HasPrefix(name, "smsfw_") {
			continue
		}
		var labels []string
		if m := variableLabels.FindStringSubmatch(d.String()); m != nil && m[1] != "" {
			labels = append(labels, strings.Split(m[1], ",")...)
		}
		if m := constLabels.FindStringSubmatch(d.String()); m != nil && m[1] != "" {
			for _, kv := range strings.Split(m[1], ",") {
				k, _, _ := strings.Cut(kv, "=")
				labels = append(labels, k)
			}
		}
		for _, l := range labels {
			n++
			if _, ok := boundedLabels[strings.TrimSpace(l)]; !ok {
				t.Errorf("%s: label %q is not one of the bounded labels (deploy/metrics_test.go boundedLabels): say what bounds its values there, or drop it", name, l)
			}
		}
	}
	if n < 30 {
		t.Fatalf("only %d labels seen: the descriptions' format changed?", n)
	}
	// What a label must never be, whatever a future table says.
	for _, l := range []string{"msisdn", "sender", "recipient", "dest", "destination", "source", "text", "address", "remote", "ip", "message_id", "id"} {
		if _, ok := boundedLabels[l]; ok {
			t.Errorf("boundedLabels allows %q: its values are subscribers, addresses or ids", l)
		}
	}
}

// absentAtStart are the counters allowed to have no series before their
// first event, each with why: their label values are not known before.
var absentAtStart = map[string]string{
	"smsfw_bpf_packets_total":                              "read from the kernel program: absent while it is not attached (smsfw_bpf_enabled 0)",
	"smsfw_leakage_amount_total":                           "by peer, from its first leaking message",
	"smsfw_leakage_segments_total":                         "by peer, from its first leaking message",
	"smsfw_proxy_segments_total":                           "by event of long messages, not an error counter",
	"smsfw_proxy_tls_reloads_total":                        "by TLS target: none configured here",
	"smsfw_proxy_tls_certificate_expiry_timestamp_seconds": "no certificate here",
}

// TestCountersPresentFromStart: in config mode, before any traffic, every
// counter has its series (at 0), so an alert's rate() is defined before the
// first error; the exceptions above say why they cannot.
func TestCountersPresentFromStart(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "key")
	if err := os.WriteFile(key, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(filepath.Join(dir, "c.yaml"), []byte("upstreams:\n  smsc: {address: "+startSim(t)+"}\n"+
		"peers:\n  - {system_id: acme, password: pw}\n"+
		"mo_routes:\n  - {name: help, match: {to: [\"80080\"]}, http: {url: \"http://127.0.0.1:1/\", secret_file: key}, reply: {text: ok, from: \"80080\"}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	src := deploy.DefaultPolicySource()
	a, err := app.New(context.Background(), app.Options{Config: cfg, Listen: "127.0.0.1:0", Admin: "127.0.0.1:0", Policy: &src,
		DB: filepath.Join(dir, "events.db"), Registry: app.NewRegistry(), Logger: zap.NewNop(), WatchInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Shutdown(context.Background()) })
	names, types := registered(t, a)
	var missing []string
	for n := range names {
		if !strings.HasPrefix(n, "smsfw_") || !strings.HasSuffix(n, "_total") {
			continue
		}
		if _, ok := types[n]; !ok && absentAtStart[n] == "" {
			missing = append(missing, n)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("counters without a series at start: %s", strings.Join(missing, ", "))
	}
	// What runs: the policy's hash and the build.
	if v := testutil.Metric(t, a.Registry, "smsfw_rules_policy_info", "hash", a.Engine.Snapshot().Hash); v != 1 {
		t.Errorf("smsfw_rules_policy_info{hash=%s} %v", a.Engine.Snapshot().Hash, v)
	}
	if _, ok := types["smsfw_build_info"]; !ok {
		t.Error("no smsfw_build_info")
	}
	for _, n := range []string{"smsfw_proxy_upstream_reconnects_total", "smsfw_proxy_deliveries_total", "smsfw_proxy_local_answer_throttled_total"} {
		if _, ok := types[n]; !ok {
			t.Errorf("%s: no series for the configured upstream and peer", n)
		}
	}
}
