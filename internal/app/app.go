// Package app builds a running smsfw from its configuration: the proxy,
// the policy and its inspection chain, the event store with the review API,
// and the admin server. It owns the program's life: New (build and bind),
// Start, Reload (one path for SIGHUP, a changed file and POST /-/reload,
// audited) and Shutdown (drain the proxy, then store every queued event).
// `smsfw run`, `smsfw demo`, the end-to-end tests and the benchmarks build
// smsfw through it, so they cannot disagree on the wiring.
package app

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"

	"github.com/smsfw/smsfw/admin"
	"github.com/smsfw/smsfw/alerts"
	"github.com/smsfw/smsfw/bpf"
	"github.com/smsfw/smsfw/cluster"
	"github.com/smsfw/smsfw/console"
	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/counters"
	"github.com/smsfw/smsfw/filter/counters/shared"
	"github.com/smsfw/smsfw/filter/pipeline"
	"github.com/smsfw/smsfw/filter/receipts"
	"github.com/smsfw/smsfw/internal/apidoc"
	"github.com/smsfw/smsfw/internal/config"
	"github.com/smsfw/smsfw/internal/tlsfiles"
	"github.com/smsfw/smsfw/internal/yamlx"
	"github.com/smsfw/smsfw/mo"
	"github.com/smsfw/smsfw/proxy"
	"github.com/smsfw/smsfw/review"
	"github.com/smsfw/smsfw/rules"
	"github.com/smsfw/smsfw/smpp/pdu"
	"github.com/smsfw/smsfw/store"
)

// Options say what to build. Zero values take the configuration's value,
// then the default.
type Options struct {
	// Config is the configuration (nil: pass-through with defaults);
	// ConfigFile, when it was read from one, anchors relative paths.
	Config     *config.Config
	ConfigFile string
	// Listen is the SMPP address (default: the config's listen, else
	// 127.0.0.1:2775); Admin the admin HTTP address (default: the config's
	// admin, else 127.0.0.1:9775). NoAdmin serves no admin address.
	Listen  string
	Admin   string
	NoAdmin bool
	// Upstream is the SMSC address in pass-through mode (--upstream).
	Upstream string
	// Policy is where the policy comes from (default: the config's rules
	// file; without one every message is allowed).
	Policy *rules.Source
	// Region is the default region for national numbers (default DE).
	Region string
	// DB is the event store: an SQLite file or a postgres:// DSN (default:
	// the config's events.db; "none" disables it). Events overrides the
	// config's events section (the demo samples allowed traffic).
	DB     string
	Events *store.EventsConfig
	// AdminCert and AdminKey serve the admin address over HTTPS (they win
	// over the config's admin_tls).
	AdminCert, AdminKey string
	// Logger (default: none) and Registry (default: a new one with the Go
	// runtime and process collectors).
	Logger   *zap.Logger
	Registry *prometheus.Registry
	// WatchInterval is how often the policy and its list files are checked
	// for changes (default 2s; negative: never).
	WatchInterval time.Duration
	// Hooks for tests and benchmarks: Writer tunes the event writer (its
	// queue size comes from the events section), WrapStore sits between
	// the writer and the store, WrapSink between the proxy and the writer.
	Writer    store.WriterOptions
	WrapStore func(store.Store) store.Store
	WrapSink  func(filter.EventSink) filter.EventSink
	// WrapInspector sits between the proxy and the inspection chain (the
	// scenario benchmark attributes verdicts with it); it is called with
	// nil when there is no policy.
	WrapInspector func(filter.Inspector) filter.Inspector
}

// App is a built smsfw.
type App struct {
	Proxy    *proxy.Server
	Engine   *rules.Engine   // nil without a policy
	Chain    *pipeline.Chain // nil without a policy
	MO       *mo.Service     // nil without mo_routes
	Shield   *bpf.Shield     // the ban list, and the eBPF program when bpf.enabled
	Alerts   *alerts.Service // nil without alerts
	Counters *shared.Sharer  // nil unless counters.backend is redis
	receipts *receipts.State // the fake-receipt check's ids in the event store; nil without it
	Cluster  *cluster.Node   // nil without the cluster section
	Registry *prometheus.Registry

	cfg        *config.Config
	log        *zap.Logger
	an         *analysis
	adminCerts *tlsfiles.CertReloader
	ln, aln    net.Listener
	adminSrv   *http.Server
	mln        net.Listener // metrics_listen
	metricsSrv *http.Server
	watch      time.Duration
	stopWatch  context.CancelFunc
	serveErr   chan error

	reloadMu     sync.Mutex
	reloadM      *reloadMetrics
	configFile   string   // "" when the configuration was not read from a file
	cfgSum       [32]byte // of the configuration file as last read (under reloadMu)
	shutdownOnce sync.Once
	shutdownErr  error
	cleanup      []func()
}

// New builds smsfw and binds its listeners; nothing is served before Start.
// On error everything built so far is closed.
func New(ctx context.Context, o Options) (_ *App, err error) {
	cfg := o.Config
	if cfg == nil {
		cfg = &config.Config{}
	}
	a := &App{cfg: cfg, log: o.Logger, Registry: o.Registry, watch: cmp.Or(o.WatchInterval, 2*time.Second),
		serveErr: make(chan error, 1), configFile: o.ConfigFile}
	if a.configFile != "" {
		if data, err := os.ReadFile(a.configFile); err == nil {
			a.cfgSum = sha256.Sum256(data)
		}
	}
	if a.log == nil {
		a.log = zap.NewNop()
	}
	if a.Registry == nil {
		a.Registry = NewRegistry()
	}
	a.reloadM = newReloadMetrics(a.Registry)
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	var evOpts pipeline.EventOptions
	if dsn := eventsDSN(o.DB, cfg, o.ConfigFile); dsn != "" {
		ec := cfg.Events
		if o.Events != nil {
			ec = o.Events
		}
		if a.an, err = openAnalysis(ctx, dsn, ec, a.log, a.Registry, o); err != nil {
			return nil, err
		}
		a.cleanup = append(a.cleanup, func() { _ = a.an.close(context.Background()) })
		evOpts = a.an.events
		a.log.Info("event store open", zap.Bool("postgres", store.IsPostgres(dsn)))
	} else {
		a.log.Warn("no event store: blocked and flagged messages are counted, not recorded; quarantine answers like reject (set --db or events.db)")
	}
	src := o.Policy
	if src == nil && cfg.Rules != "" {
		path := cfg.Rules
		if !filepath.IsAbs(path) && o.ConfigFile != "" {
			path = filepath.Join(filepath.Dir(o.ConfigFile), path)
		}
		s := rules.FileSource(path)
		src = &s
	}
	var insp filter.Inspector
	if src != nil {
		if a.Engine, err = rules.NewEngineSource(*src, a.log, rules.NewMetrics(a.Registry)); err != nil {
			return nil, err
		}
		a.Engine.Check = a.checkActions
		if err = a.checkActions(a.Engine.Snapshot()); err != nil {
			return nil, err
		}
		var share func(string, []counters.Named)
		// Registered with local counters too (the fallback gauge stays 0):
		// every node exports the same metrics.
		sharedMetrics := shared.NewMetrics(a.Registry)
		if cfg.Counters.Enabled() {
			// Before the chain: keys must be stable between nodes from the first one.
			if a.Counters, err = shared.Open(*cfg.Counters, shared.Options{Logger: a.log, Metrics: sharedMetrics}); err != nil {
				return nil, err
			}
			a.cleanup = append(a.cleanup, func() { _ = a.Counters.Close() })
			share = a.Counters.Share
		}
		rst, err := a.receiptIDs(ctx)
		if err != nil {
			return nil, err
		}
		a.Chain, err = pipeline.New(pipeline.Options{Engine: a.Engine, DefaultRegion: cmp.Or(o.Region, "DE"), Logger: a.log,
			Metrics: pipeline.NewMetrics(a.Registry), Events: evOpts, ShareCounters: share, States: map[string]any{receipts.Plugin.Name: rst},
			Actions: func(t mo.Trigger) {
				if a.MO != nil {
					a.MO.QueueAction(t)
				}
			}})
		if err != nil {
			return nil, err
		}
		a.cleanup = append(a.cleanup, a.Chain.Close)
		insp = a.Chain
	}
	if o.WrapInspector != nil {
		insp = o.WrapInspector(insp)
	}
	var router proxy.MORouter
	if len(cfg.MORoutes) > 0 || (a.Engine != nil && a.an != nil) {
		// Without routes the service still runs the policy's rule actions
		// (a reload may add some).
		if a.MO, err = a.buildMO(cfg.MORoutes); err != nil {
			return nil, err
		}
		if len(cfg.MORoutes) > 0 {
			router = a.MO
		}
		if a.Engine != nil {
			if err = a.MO.SetRuleActions(a.Engine.Snapshot().Actions()); err != nil {
				return nil, err
			}
		}
	}
	if cfg.Alerts != nil {
		if a.Alerts, err = a.buildAlerts(cfg.Alerts); err != nil {
			return nil, err
		}
	}
	pm, tm := proxy.NewMetrics(a.Registry), tlsfiles.NewMetrics(a.Registry)
	sink := a.an.sink()
	if sink != nil && o.WrapSink != nil {
		sink = o.WrapSink(sink)
	}
	if a.Shield, err = bpf.New(bpf.Options{Config: &cfg.BPF, Logger: a.log, Registerer: a.Registry}); err != nil {
		return nil, err
	}
	a.cleanup = append(a.cleanup, func() { _ = a.Shield.Close() })
	po := proxy.Options{Config: &cfg.Proxy, Upstream: o.Upstream, Logger: a.log, Metrics: pm,
		TLSMetrics: tm, Inspector: insp, Events: sink, MO: router, Bans: a.Shield,
		ExternalTLSWatch: true} // its files are polled here, so that their reloads are audited
	if cfg.BPF.Enabled { // with the shield on, a bind lockout bans its source
		po.LockoutObserver = a.Shield
	}
	if a.Proxy, err = proxy.New(po); err != nil {
		return nil, err
	}
	co, err := a.buildCluster(o.DB)
	if err != nil {
		return nil, err
	}
	if a.an != nil {
		if err = a.an.startReview(ctx, a.Proxy, a.Chain, cfg.Proxy.QuarantineTTL(), a.Registry, co); err != nil {
			return nil, err
		}
	}
	if a.adminCerts, err = adminTLS(cfg.Admin.TLS, o.AdminCert, o.AdminKey, a.log, tm); err != nil {
		return nil, err
	}
	listen := cmp.Or(o.Listen, cfg.Proxy.Listen, "127.0.0.1:2775")
	if a.ln, err = net.Listen("tcp", listen); err != nil {
		return nil, err
	}
	a.cleanup = append(a.cleanup, func() { _ = a.ln.Close() })
	// The program goes on before anything is served; it never fails New
	// (without it, bans are enforced at accept time).
	a.Shield.Start(a.ln.Addr().(*net.TCPAddr).AddrPort())
	if !o.NoAdmin {
		if err = a.buildAdmin(cmp.Or(o.Admin, cfg.Admin.Addr, "127.0.0.1:9775")); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// buildAdmin binds the admin address and assembles its routes: health,
// readiness, metrics, reload, the review API (or the leakage ledger alone
// without a store), the console; authentication and CSRF protection over
// everything but /healthz.
func (a *App) buildAdmin(addr string) error {
	aln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	a.cleanup = append(a.cleanup, func() { _ = aln.Close() })
	am := admin.NewMetrics(a.Registry)
	aln = admin.NewListener(aln, a.cfg.Admin.Limits(), am, a.log)
	if a.adminCerts != nil {
		aln = tls.NewListener(aln, a.adminCerts.ServerConfig())
	}
	mux := admin.Handler(admin.Options{Ready: a.Proxy.Ready, Gatherer: a.Registry})
	// The reload's result as JSON: 200, or 422 when a part failed (a file
	// that does not parse or validate: the running version stays).
	mux.HandleFunc("POST /-/reload", func(w http.ResponseWriter, r *http.Request) {
		res, err := a.Reload(r.Context(), admin.Actor(r.Context()), "http")
		code := http.StatusOK
		var body any = res
		switch {
		case errors.Is(err, ErrNothingToReload):
			code, body = http.StatusConflict, map[string]string{"error": err.Error()}
		case err != nil:
			code = http.StatusUnprocessableEntity
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(body)
	})
	mux.Handle("GET /api/v1/openapi.yaml", apidoc.Handler())
	// The peers, their sessions and upstream pools, live.
	mux.HandleFunc("GET /api/v1/peers", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"time": time.Now().UTC(), "peers": a.Proxy.Peers()})
	})
	if a.an != nil {
		a.an.mount(mux) // /api/v1/, the leakage ledger included
	} else {
		mux.HandleFunc("GET /api/v1/leakage", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, `{"error":"the leakage ledger is kept in the event store: run with events.db or --db"}`)
		})
	}
	if a.MO != nil {
		h := a.MO.AdminHandler()
		for _, p := range mo.AdminPatterns {
			mux.Handle(p, h)
		}
	}
	a.Shield.Mount(mux, a.auditBan)
	console.Mount(mux)
	admin.Pprof(mux)
	handler, err := admin.Protect(admin.JSONErrors(mux), a.cfg.Admin.Auth, aln.Addr(), am, a.log)
	if err != nil {
		return err
	}
	if a.MO != nil {
		// The pull API authenticates consumers by their routes' tokens,
		// not by the admin credentials.
		outer := http.NewServeMux()
		outer.Handle("/api/v1/mo", a.MO.PullHandler())
		outer.Handle("/api/v1/mo/ack", a.MO.PullHandler())
		outer.Handle("/", handler)
		handler = outer
	}
	a.aln = aln
	a.adminSrv = admin.NewServer(handler, a.log)
	if m := a.cfg.Admin.MetricsAddr; m != "" {
		mln, err := net.Listen("tcp", m)
		if err != nil {
			return fmt.Errorf("metrics_listen: %w", err)
		}
		a.cleanup = append(a.cleanup, func() { _ = mln.Close() })
		a.mln = admin.NewListener(mln, a.cfg.Admin.Limits(), am, a.log)
		a.metricsSrv = admin.NewServer(admin.PublicHandler(admin.Options{Ready: a.Proxy.Ready, Gatherer: a.Registry}), a.log)
	}
	return nil
}

// Store is the event store (nil without one); Review the analysts' API
// over it.
func (a *App) Store() store.Store {
	if a.an == nil {
		return nil
	}
	return a.an.store
}

// Review is the analysts' service (nil without an event store).
func (a *App) Review() *review.Service {
	if a.an == nil {
		return nil
	}
	return a.an.svc
}

// Addr is the SMPP listener's address.
func (a *App) Addr() string { return a.ln.Addr().String() }

// AdminAddr is the admin server's address ("" without one).
// MetricsAddr is the metrics_listen address ("" when not configured).
func (a *App) MetricsAddr() string {
	if a.mln == nil {
		return ""
	}
	return a.mln.Addr().String()
}

func (a *App) AdminAddr() string {
	if a.aln == nil {
		return ""
	}
	return a.aln.Addr().String()
}

// Start serves SMPP and the admin address, and watches the policy and the
// certificates for changes. Errors of the SMPP listener arrive on Done.
func (a *App) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	a.stopWatch = cancel
	if (a.Engine != nil || a.configFile != "") && a.watch > 0 {
		go a.watchFiles(ctx, a.watch, func() bool { return a.configChanged() || a.Engine != nil && a.Engine.Changed() })
	}
	if every := a.cfg.Proxy.WithDefaults().TLSReloadInterval; every > 0 { // a reload may add upstreams with TLS
		go a.watchFiles(ctx, every, func() bool { return a.Proxy.TLSChanged() || a.adminCerts != nil && a.adminCerts.Changed() })
	}
	if a.adminSrv != nil {
		go func() { _ = a.adminSrv.Serve(a.aln) }()
		a.log.Info("admin listening", zap.String("addr", a.aln.Addr().String()), zap.Bool("tls", a.adminCerts != nil))
	}
	if a.metricsSrv != nil {
		go func() { _ = a.metricsSrv.Serve(a.mln) }()
		a.log.Info("metrics listening", zap.String("addr", a.mln.Addr().String()))
	}
	if a.MO != nil {
		a.MO.Start()
	}
	if a.Alerts != nil {
		a.Alerts.Start()
	}
	if a.Counters != nil {
		a.Counters.Start()
	}
	if a.Cluster != nil {
		a.Cluster.Start()
	}
	go func() { a.serveErr <- a.Proxy.Serve(a.ln) }()
}

// buildCluster makes this node one of several sharing the event store
// (the cluster section): shared bans now, the review service's decisions
// and overrides through the options returned (nil without the section).
func (a *App) buildCluster(flagDB string) (*review.ClusterOptions, error) {
	if a.cfg.Cluster == nil {
		return nil, nil
	}
	if a.an == nil {
		return nil, errors.New("cluster: the nodes share the event store: set events.db (a postgres:// DSN) or --db")
	}
	cs, ok := store.ClusterOf(a.an.store)
	if !ok {
		return nil, errors.New("cluster: the event store cannot coordinate nodes")
	}
	if !store.IsPostgres(eventsDSN(flagDB, a.cfg, a.configFile)) {
		a.log.Warn("cluster on an SQLite store: only processes on this host can share it, and they see each other's changes by polling")
	}
	n, err := cluster.New(cluster.Options{Config: a.cfg.Cluster, Store: cs, Shield: a.Shield, Receipts: a.Proxy, Logger: a.log,
		Registerer: a.Registry})
	if err != nil {
		return nil, err
	}
	a.Cluster = n
	// Receipts of messages smsfw answered itself are rewritten on any node.
	a.Proxy.JoinCluster(n, n.Config().ReceiptWait)
	a.cleanup = append(a.cleanup, n.Close)
	c := n.Config()
	return &review.ClusterOptions{Node: c.Node, Store: cs, Wake: n.Subscribe(), PollInterval: c.PollInterval,
		ReleaseWait: c.ReleaseWait, PendingTTL: c.PendingTTL, ReleaseLease: c.ReleaseLease}, nil
}

// receiptIDs is the fake-receipt check's state: its accepted ids kept in
// the event store across restarts and shared between a cluster's nodes;
// without the store, kept in memory only.
func (a *App) receiptIDs(ctx context.Context) (*receipts.State, error) {
	maxIDs, warmUp := 0, time.Duration(0)
	if c, ok := a.Engine.Snapshot().Settings[receipts.Plugin.Name].(*receipts.Config); ok {
		maxIDs = c.MaxIDs
		if c.WarmUp != nil {
			warmUp = *c.WarmUp
		}
	}
	st := receipts.NewState(cmp.Or(maxIDs, receipts.DefaultMaxIDs))
	m := receipts.NewMetrics(a.Registry)
	st.SetMetrics(m)
	var j receipts.Journal
	if a.an != nil {
		j, _ = store.ReceiptJournalOf(a.an.store)
	}
	if j == nil {
		a.log.Warn("no event store: the ids the SMSC accepted are kept in memory only; after a restart, the fake-receipt check refuses the receipts of messages accepted before it")
		return st, nil
	}
	node := ""
	if a.cfg.Cluster != nil {
		node = a.cfg.Cluster.WithDefaults().Node
	}
	// Events from before: an empty journal is an upgrade (an unreadable
	// store counts as used: the warm-up is the safe side).
	page, err := a.an.store.Search(ctx, store.Query{Limit: 1})
	used := err != nil || len(page.Events) > 0
	st.Persist(ctx, receipts.JournalOptions{Journal: j, Node: node, Logger: a.log, Metrics: m, Used: used, WarmUp: warmUp})
	a.receipts = st
	a.cleanup = append(a.cleanup, func() { _ = st.Stop(context.Background()) }) // a New that failed; after Shutdown's, a no-op
	return st, nil
}

// buildMO builds the MO routes' delivery over the event store.
func (a *App) buildMO(routes mo.Routes) (*mo.Service, error) {
	if a.an == nil {
		return nil, errors.New("mo_routes need the event store: set events.db or --db")
	}
	q, ok := store.MOQueueOf(a.an.store)
	if !ok {
		return nil, errors.New("mo_routes: the event store has no MO queue")
	}
	svc, err := mo.New(mo.Options{Routes: routes, Queue: q, Logger: a.log, Registerer: a.Registry, SMTP: a.cfg.SMTP, Replier: replier{a},
		Audit: func(ctx context.Context, actor, action, target, reason string, detail map[string]any) {
			if a.an.svc != nil {
				a.an.svc.Audit(ctx, cmp.Or(actor, review.SystemActor), review.Action(action), target, reason, detail)
			}
		}})
	if err != nil {
		return nil, err
	}
	a.cleanup = append(a.cleanup, svc.Close)
	return svc, nil
}

// checkActions refuses a policy whose rule actions this program cannot
// serve: any without the event store, email without the smtp section.
func (a *App) checkActions(s *rules.Snapshot) error {
	for _, r := range s.Rules {
		switch {
		case r.Actions == nil:
		case a.an == nil:
			return s.RuleError(r, "actions need the event store (events.db or --db)")
		case r.Actions.Email != nil && a.cfg.SMTP == nil:
			return s.RuleError(r, "actions.email needs the smtp section of the configuration")
		}
	}
	return nil
}

// buildAlerts builds the alerts over the event store.
func (a *App) buildAlerts(c *alerts.Config) (*alerts.Service, error) {
	if a.an == nil {
		return nil, errors.New("alerts need the event store: set events.db or --db")
	}
	o := alerts.Options{Config: *c, Store: a.an.store, Logger: a.log, Registerer: a.Registry}
	if c.Email != nil && a.cfg.SMTP != nil {
		m, err := mo.NewMailer(a.cfg.SMTP)
		if err != nil {
			return nil, err
		}
		o.Mailer = m
	}
	svc, err := alerts.New(o)
	if err != nil {
		return nil, err
	}
	a.cleanup = append(a.cleanup, svc.Close)
	return svc, nil
}

// replier sends the MO routes' automatic replies: inspected by the policy
// like any MT of the peer (a reply it would not let through is not sent,
// and not retried), then on the peer's upstream by the proxy's release
// path.
type replier struct{ a *App }

func (r replier) SubmitReply(ctx context.Context, peer string, p pdu.PDU) (string, error) {
	if r.a.Chain != nil {
		var m pdu.Message
		if err := pdu.ParseMessage(p, &m); err != nil {
			return "", err
		}
		v, err := r.a.Chain.Inspect(&filter.Request{Direction: filter.MT, Peer: peer, Msg: &m, Time: time.Now().UnixNano()})
		if err != nil {
			return "", err
		}
		if v.Action != filter.Allow && v.Action != filter.Flag {
			return "", fmt.Errorf("%w: the policy answers %s (rule %q)", mo.ErrReplyRefused, v.Action, v.RuleID)
		}
	}
	id, err := r.a.Proxy.SubmitMT(ctx, peer, p)
	if se := (*proxy.StatusError)(nil); errors.As(err, &se) && !se.Status.Temporary() {
		return id, fmt.Errorf("%w: %v", mo.ErrReplyRefused, err)
	}
	return id, err
}

// Done delivers the SMPP listener's end: nil after Shutdown, else the error.
func (a *App) Done() <-chan error { return a.serveErr }

// ErrNothingToReload: no configuration file, no policy and no
// certificates to reload.
var ErrNothingToReload = errors.New("app: nothing to reload (no configuration file, no policy, no certificates)")

// ReloadResult is what a reload did, part by part: "ok" or "failed" for
// each part there is; for the configuration file, the peers, upstreams
// and auth settings it changed, and the keys that changed but take effect
// only at the next start.
type ReloadResult struct {
	Actor      string              `json:"actor,omitempty"`
	Trigger    string              `json:"trigger"`
	Config     string              `json:"config,omitempty"`
	Peers      *proxy.Reconfigured `json:"peers,omitempty"`
	MORoutes   *mo.RoutesChanged   `json:"mo_routes,omitempty"`
	Restart    []string            `json:"restart_required,omitempty"`
	Policy     string              `json:"policy,omitempty"`
	PolicyHash string              `json:"policy_hash,omitempty"`
	TLS        string              `json:"tls,omitempty"`
	AdminTLS   string              `json:"admin_tls,omitempty"`
	Error      string              `json:"error,omitempty"`
}

// liveKeys are the configuration keys a reload applies; a change of any
// other key is reported as needing a restart.
var liveKeys = []string{"peers", "upstreams", "auth"}

// Reload re-reads the configuration file (peers, upstreams and auth
// settings apply at once, see proxy.Reconfigure; other changed keys are
// reported in Restart and logged), the policy (with its list files) and
// every certificate, key and CA file; whatever fails keeps its previous
// version. Every trigger comes here; the reload is logged and, with an
// event store, audited with who asked (actor), how (trigger: signal, http,
// file) and what changed.
func (a *App) Reload(ctx context.Context, actor, trigger string) (*ReloadResult, error) {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	if a.configFile == "" && a.Engine == nil && !a.Proxy.HasTLS() && a.adminCerts == nil {
		return nil, ErrNothingToReload
	}
	var errs []error
	res := &ReloadResult{Actor: actor, Trigger: trigger}
	if a.configFile != "" {
		err := a.reloadConfig(ctx, res)
		a.reloadM.done(err)
		errs = append(errs, err)
		res.Config = result(err)
	}
	if a.Engine != nil {
		err := a.Engine.Reload()
		if err == nil && a.MO != nil {
			// The new rules' actions get their routes now, not at their first hit.
			err = a.MO.SetRuleActions(a.Engine.Snapshot().Actions())
		}
		errs = append(errs, err)
		res.Policy = result(err)
		res.PolicyHash = a.Engine.Snapshot().Hash
	}
	if a.Proxy.HasTLS() {
		err := a.Proxy.ReloadTLS()
		errs = append(errs, err)
		res.TLS = result(err)
	}
	if a.adminCerts != nil {
		err := a.adminCerts.Reload()
		errs = append(errs, err)
		res.AdminTLS = result(err)
	}
	err := errors.Join(errs...)
	reason := "ok"
	if err != nil {
		reason = err.Error()
		res.Error = reason
	}
	lvl := zap.InfoLevel
	if err != nil {
		lvl = zap.WarnLevel
	}
	a.log.Log(lvl, "reload", zap.String("actor", actor), zap.String("trigger", trigger), zap.Any("result", res))
	if len(res.Restart) > 0 {
		a.log.Warn("configuration keys changed that take effect only after a restart; running with the old values",
			zap.Strings("keys", res.Restart))
	}
	if a.an != nil && a.an.svc != nil {
		var detail map[string]any
		if b, jerr := json.Marshal(res); jerr == nil {
			_ = json.Unmarshal(b, &detail)
		}
		a.an.svc.Audit(ctx, cmp.Or(actor, "system"), review.ActReload, "config", reason, detail)
	}
	return res, err
}

// reloadConfig reads the configuration file again and applies what can
// change while running. A file that does not parse or validate changes
// nothing (the error has its file:line).
func (a *App) reloadConfig(ctx context.Context, res *ReloadResult) error {
	data, err := os.ReadFile(a.configFile)
	if err != nil {
		return err
	}
	a.cfgSum = sha256.Sum256(data)
	next, err := config.Parse(a.configFile, data)
	if err != nil {
		return err
	}
	// MO routes change live when the proxy routes MO through the service
	// (it was started with routes); otherwise adding some needs a restart.
	moLive := a.MO != nil && len(a.cfg.MORoutes) > 0
	moChanged := false
	for _, k := range yamlx.ChangedKeys(*a.cfg, *next) {
		switch {
		case k == "mo_routes" && moLive:
			moChanged = true
		case !slices.Contains(liveKeys, k):
			res.Restart = append(res.Restart, k)
		}
	}
	if moChanged {
		ch, err := a.MO.SetRoutes(next.MORoutes)
		if err != nil {
			return err
		}
		a.cfg.MORoutes = next.MORoutes
		if !ch.Empty() {
			res.MORoutes = &ch
		}
	}
	rc, err := a.Proxy.Reconfigure(ctx, &next.Proxy)
	switch {
	case errors.Is(err, proxy.ErrNeedsRestart):
		res.Restart = append(res.Restart, err.Error())
		return nil
	case err != nil:
		return err
	}
	// The running configuration: the live sections are the new ones.
	a.cfg.Proxy.Peers, a.cfg.Proxy.Upstreams, a.cfg.Proxy.Auth = next.Proxy.Peers, next.Proxy.Upstreams, next.Proxy.Auth
	if !rc.Empty() {
		res.Peers = rc
	}
	return nil
}

// watchFiles reloads when changed says a watched file changed, checking
// every interval until ctx ends: the same Reload as SIGHUP and POST
// /-/reload, audited with the trigger "file". Start runs one for the
// configuration file, the policy and its list files, and one for the
// certificate, key and CA files (SMPP listener, upstreams, admin address).
func (a *App) watchFiles(ctx context.Context, every time.Duration, changed func() bool) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if changed() {
			_, _ = a.Reload(ctx, "", "file")
		}
	}
}

// configChanged reports whether the configuration file's content differs
// from what the last reload read (false while it cannot be read: being
// replaced, the next tick sees it).
func (a *App) configChanged() bool {
	if a.configFile == "" {
		return false
	}
	data, err := os.ReadFile(a.configFile)
	if err != nil {
		return false
	}
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	return sha256.Sum256(data) != a.cfgSum
}

// auditBan logs a change of the ban list and, with an event store, writes
// it to the audit log.
func (a *App) auditBan(ctx context.Context, actor, action, target, reason string, detail map[string]any) {
	a.log.Info("ban list changed", zap.String("actor", actor), zap.String("action", action), zap.String("source", target),
		zap.String("reason", reason))
	if a.an != nil && a.an.svc != nil {
		a.an.svc.Audit(ctx, cmp.Or(actor, "system"), review.Action(action), target, reason, detail)
	}
}

func result(err error) string {
	if err != nil {
		return "failed"
	}
	return "ok"
}

// Shutdown stops accepting, drains the proxy (in-flight requests answered,
// held messages decided), stops the admin server, then writes every queued
// event before the store closes. Later calls return the first's result.
func (a *App) Shutdown(ctx context.Context) error {
	a.shutdownOnce.Do(func() {
		err := a.Proxy.Shutdown(ctx)
		if a.adminSrv != nil {
			_ = a.adminSrv.Shutdown(ctx)
		}
		if a.metricsSrv != nil {
			_ = a.metricsSrv.Shutdown(ctx)
		}
		if a.stopWatch != nil {
			a.stopWatch()
		}
		// After the proxy drained, no MO waits for the MO queue: store
		// what the writer holds, stop delivering.
		if a.MO != nil {
			a.MO.Close()
		}
		if a.Alerts != nil {
			a.Alerts.Close() // before the store closes
		}
		if a.Cluster != nil {
			a.Cluster.Close() // before the store closes
		}
		if a.receipts != nil { // after the proxy drained: every accepted id is known
			if rerr := a.receipts.Stop(ctx); rerr != nil {
				a.log.Error("accepted receipt ids not saved at the stop: the next start warms up", zap.Error(rerr))
			}
		}
		// After the proxy drained, every event it emitted is queued: the
		// writer stores them all before the store closes.
		if cerr := a.an.close(ctx); cerr != nil {
			err = errors.Join(err, cerr)
		}
		a.close()
		a.shutdownErr = err
	})
	return a.shutdownErr
}

// close releases what New built, in reverse order.
func (a *App) close() {
	for i := len(a.cleanup) - 1; i >= 0; i-- {
		a.cleanup[i]()
	}
	a.cleanup = nil
}

// adminTLS loads the admin server's certificates: cert/key, else the
// config's admin_tls (t); nil without either.
func adminTLS(t *tlsfiles.Config, cert, key string, log *zap.Logger, m *tlsfiles.Metrics) (*tlsfiles.CertReloader, error) {
	if cert != "" || key != "" {
		if cert == "" || key == "" {
			return nil, errors.New("--admin-cert and --admin-key go together")
		}
		t = &tlsfiles.Config{CertFile: cert, KeyFile: key}
	}
	if t == nil {
		return nil, nil
	}
	return tlsfiles.NewCertReloader(t, tlsfiles.Admin, true, log, m)
}

// NewRegistry is a Prometheus registry with the Go runtime and process collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), buildInfo())
	return reg
}
