package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/smsfw/smsfw/internal/app"
	"github.com/smsfw/smsfw/internal/config"
	"github.com/smsfw/smsfw/rules"
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
	var db dbFlags
	db.register(fs, "event store: an SQLite file or a postgres:// DSN (wins over the config's events.db; \"none\" disables)")
	var lf logFlags
	lf.register(fs, "json")
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	dsn, err := db.value()
	if err != nil {
		return err
	}
	log, err := lf.logger(stderr)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	cfg := &config.Config{}
	if *configFile != "" {
		if cfg, err = config.Load(*configFile); err != nil {
			return err
		}
	}
	o := app.Options{Config: cfg, ConfigFile: *configFile, Upstream: *upstream, Region: *region, DB: dsn,
		AdminCert: *adminCert, AdminKey: *adminKey, Logger: log}
	if flagSet(fs, "listen") || cfg.Proxy.Listen == "" {
		o.Listen = *listen
	}
	if flagSet(fs, "admin") || cfg.Admin.Addr == "" {
		o.Admin, o.NoAdmin = *adminAddr, *adminAddr == ""
	}
	if *rulesFile != "" {
		src := rules.FileSource(*rulesFile)
		o.Policy = &src
	}
	a, err := app.New(context.Background(), o)
	if err != nil {
		return err
	}
	return serveUntilSignal(log, a.Start, a.Done(), a.Shutdown, func() {
		if _, err := a.Reload(context.Background(), "", "signal"); errors.Is(err, app.ErrNothingToReload) {
			log.Info("SIGHUP: nothing to reload")
		}
	})
}

// serveUntilSignal calls start once the signals are caught (a client served
// by start must never meet the default SIGTERM action), then waits for
// SIGINT/SIGTERM and calls shutdown, or for the server's end on errc;
// SIGHUP calls reload (when set).
func serveUntilSignal(log *zap.Logger, start func(), errc <-chan error, shutdown func(context.Context) error, reload func()) error {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	start()
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
