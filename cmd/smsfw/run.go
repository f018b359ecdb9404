package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"

	"github.com/smsfw/smsfw/admin"
	"github.com/smsfw/smsfw/console"
	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/pipeline"
	"github.com/smsfw/smsfw/proxy"
	"github.com/smsfw/smsfw/rules"
	"github.com/smsfw/smsfw/store"
)

func runCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("smsfw run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:2775", "address peers bind to")
	upstream := fs.String("upstream", "", "SMSC address HOST:PORT (pass-through mode, or the address of a config upstream without one)")
	adminAddr := fs.String("admin", "127.0.0.1:9775", "admin HTTP address (/healthz, /readyz, /metrics); empty disables")
	configFile := fs.String("config", "", "configuration file (YAML); without it smsfw runs pass-through")
	rulesFile := fs.String("rules", "", "policy file (YAML); reloaded on SIGHUP, on change and on POST /-/reload (default: the config's rules, else allow all)")
	region := fs.String("region", "DE", "default region (ISO code) for national numbers")
	adminCert := fs.String("admin-cert", "", "serve the admin address over HTTPS with this certificate (PEM; reloaded on change and SIGHUP; overrides admin_tls)")
	adminKey := fs.String("admin-key", "", "private key of --admin-cert (PEM)")
	dbFlag := fs.String("db", "", "event store: an SQLite file or a postgres:// DSN (default: the config's events.db; \"none\" disables)")
	var lf logFlags
	lf.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	log, err := lf.logger(stderr)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	var cfg *proxy.Config
	if *configFile != "" {
		if cfg, err = proxy.LoadConfig(*configFile); err != nil {
			return err
		}
	} else {
		cfg = &proxy.Config{}
	}
	if !flagSet(fs, "listen") && cfg.Listen != "" {
		*listen = cfg.Listen
	}
	if !flagSet(fs, "admin") && cfg.Admin != "" {
		*adminAddr = cfg.Admin
	}
	reg := newRegistry()
	if *rulesFile == "" && cfg.RulesFile != "" {
		*rulesFile = cfg.RulesFile
		if !filepath.IsAbs(*rulesFile) {
			*rulesFile = filepath.Join(filepath.Dir(*configFile), *rulesFile)
		}
	}
	var an *analysis
	var evOpts pipeline.EventOptions
	if dsn := eventsDSN(*dbFlag, cfg, *configFile); dsn != "" {
		if an, err = openAnalysis(context.Background(), dsn, cfg.Events, log, reg); err != nil {
			return err
		}
		evOpts = an.events
		defer func() { _ = an.close(context.Background()) }() // a no-op after a clean shutdown
		log.Info("event store open", zap.Bool("postgres", store.IsPostgres(dsn)))
	} else {
		log.Warn("no event store: blocked and flagged messages are counted, not recorded; quarantine answers like reject (set --db or events.db)")
	}
	var (
		insp   filter.Inspector
		engine *rules.Engine
		chain  *pipeline.Chain
	)
	if *rulesFile != "" {
		if engine, chain, err = newPolicy(*rulesFile, *region, evOpts, log, reg); err != nil {
			return err
		}
		defer chain.Close()
		insp = chain
	}
	pm := proxy.NewMetrics(reg)
	srv, err := proxy.New(proxy.Options{Config: cfg, Upstream: *upstream, Logger: log, Metrics: pm, Inspector: insp, Events: an.sink()})
	if err != nil {
		return err
	}
	if an != nil {
		if err := an.startReview(context.Background(), srv, chain, cfg.QuarantineTTL(), reg); err != nil {
			return err
		}
	}
	adminCerts, err := adminTLS(cfg, *adminCert, *adminKey, log, pm)
	if err != nil {
		return err
	}
	watchCtx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	if engine != nil {
		go engine.Watch(watchCtx, 2*time.Second)
	}
	if adminCerts != nil && cfg.TLSReloadInterval >= 0 {
		go adminCerts.Watch(watchCtx, cmp.Or(cfg.TLSReloadInterval, 5*time.Second))
	}
	var reload func() // SIGHUP: the policy and every certificate
	if engine != nil || srv.HasTLS() || adminCerts != nil {
		reload = func() {
			if engine != nil {
				_ = engine.Reload()
			}
			_ = srv.ReloadTLS()
			if adminCerts != nil {
				_ = adminCerts.Reload()
			}
		}
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	var adminSrv *http.Server
	if *adminAddr != "" {
		aln, err := net.Listen("tcp", *adminAddr)
		if err != nil {
			_ = ln.Close()
			return err
		}
		if adminCerts != nil {
			aln = tls.NewListener(aln, adminCerts.ServerConfig())
		}
		mux := admin.Handler(admin.Options{Ready: srv.Ready, Gatherer: reg})
		mux.HandleFunc("POST /-/reload", func(w http.ResponseWriter, r *http.Request) {
			if engine == nil {
				http.Error(w, "no policy loaded (start with --rules)", http.StatusConflict)
				return
			}
			if err := engine.Reload(); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			fmt.Fprintln(w, "reloaded")
		})
		if an != nil {
			an.mount(mux)
		} else if chain != nil {
			mux.Handle("GET /api/v1/leakage", chain.Ledger.Handler())
		}
		console.Mount(mux)
		// Authentication (admin_auth) and CSRF protection for everything
		// but /healthz; refuses an open admin server off loopback.
		handler, err := admin.Protect(mux, cfg.AdminAuth, aln.Addr())
		if err != nil {
			_, _ = aln.Close(), ln.Close()
			return err
		}
		adminSrv = &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second, ErrorLog: zap.NewStdLog(log.Named("admin"))}
		go func() { _ = adminSrv.Serve(aln) }()
		log.Info("admin listening", zap.String("addr", aln.Addr().String()), zap.Bool("tls", adminCerts != nil))
	}
	return serveUntilSignal(log, func() error { return srv.Serve(ln) }, func(ctx context.Context) error {
		err := srv.Shutdown(ctx)
		if adminSrv != nil {
			_ = adminSrv.Shutdown(ctx)
		}
		// After the proxy drained: every event it emitted is queued; the
		// writer stores them all before the store closes.
		if cerr := an.close(ctx); cerr != nil {
			err = errors.Join(err, cerr)
		}
		an = nil
		return err
	}, reload)
}

// adminTLS loads the admin server's certificates: --admin-cert/--admin-key,
// else the config's admin_tls; nil without either.
func adminTLS(cfg *proxy.Config, cert, key string, log *zap.Logger, m *proxy.Metrics) (*proxy.CertReloader, error) {
	t := cfg.AdminTLS
	if cert != "" || key != "" {
		if cert == "" || key == "" {
			return nil, errors.New("--admin-cert and --admin-key go together")
		}
		t = &proxy.TLSConfig{CertFile: cert, KeyFile: key}
	}
	if t == nil {
		return nil, nil
	}
	return proxy.NewCertReloader(t, proxy.TLSAdmin, true, log, m)
}

// serveUntilSignal runs serve until SIGINT/SIGTERM, then shutdown; SIGHUP
// calls reload (when set).
func serveUntilSignal(log *zap.Logger, serve func() error, shutdown func(context.Context) error, reload func()) error {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	errc := make(chan error, 1)
	go func() { errc <- serve() }()
	for {
		select {
		case err := <-errc:
			return err
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				if reload != nil {
					reload()
				} else {
					log.Info("SIGHUP: nothing to reload")
				}
				continue
			}
			log.Info("signal received; shutting down", zap.Stringer("signal", sig))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err := shutdown(ctx)
			cancel()
			if serr := <-errc; serr != nil && !errors.Is(serr, net.ErrClosed) {
				return serr
			}
			return err
		}
	}
}

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}

// newPolicy loads a policy file into a reloadable engine and the inspection
// chain over it, with their metrics on reg.
func newPolicy(path, region string, events pipeline.EventOptions, log *zap.Logger, reg prometheus.Registerer) (*rules.Engine, *pipeline.Chain, error) {
	engine, err := rules.NewEngine(path, log, rules.NewMetrics(reg))
	if err != nil {
		return nil, nil, err
	}
	chain, err := pipeline.New(pipeline.Options{Engine: engine, DefaultRegion: region, Logger: log,
		Metrics: pipeline.NewMetrics(reg), Events: events})
	if err != nil {
		return nil, nil, err
	}
	return engine, chain, nil
}

// newRegistry is a Prometheus registry with the Go runtime and process collectors.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}
