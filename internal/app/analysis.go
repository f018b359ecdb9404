package app

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/pipeline"
	"github.com/smsfw/smsfw/internal/config"
	"github.com/smsfw/smsfw/proxy"
	"github.com/smsfw/smsfw/review"
	"github.com/smsfw/smsfw/store"
)

// analysis is the analysts' side of a running smsfw: the event store, the
// writer the proxy hands events to, and the review API over them.
type analysis struct {
	store  store.Store
	writer *store.Writer
	svc    *review.Service
	events pipeline.EventOptions
	stop   context.CancelFunc
	log    *zap.Logger

	closeOnce sync.Once
	closeErr  error
}

// eventsDSN resolves where events go: --db, else the config's events.db
// (relative to the config file), else the default file next to the config
// when an events section exists; "" disables the store.
func eventsDSN(flagDB string, cfg *config.Config, configFile string) string {
	if flagDB != "" {
		if flagDB == "none" {
			return ""
		}
		return flagDB
	}
	if cfg.Events == nil {
		return ""
	}
	db := cfg.Events.DB
	if db == "" {
		db = "smsfw-events.db"
	}
	if !store.IsPostgres(db) && db != ":memory:" && !filepath.IsAbs(db) && configFile != "" {
		db = filepath.Join(filepath.Dir(configFile), db)
	}
	return db
}

// openAnalysis opens the store and starts the writer and retention.
func openAnalysis(ctx context.Context, dsn string, ec *store.EventsConfig, log *zap.Logger, reg prometheus.Registerer, o Options) (*analysis, error) {
	if ec == nil {
		ec = &store.EventsConfig{}
	}
	text, err := pipeline.ParseTextMode(ec.Text)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, dsn, log)
	if err != nil {
		return nil, err
	}
	wo := o.Writer
	wo.QueueSize = cmp.Or(ec.Queue, wo.QueueSize)
	wo.QueueBytes = cmp.Or(int64(ec.QueueBytes), wo.QueueBytes)
	wo.PeerQueueBytes = cmp.Or(int64(ec.PeerQueueBytes), wo.PeerQueueBytes)
	wo.PeerRate = cmp.Or(ec.PeerRate, wo.PeerRate)
	wo.Logger, wo.Metrics = log, store.NewWriterMetrics(reg)
	wst := st
	if o.WrapStore != nil {
		wst = o.WrapStore(st)
	}
	w := store.NewWriter(wst, wo)
	rctx, stop := context.WithCancel(context.Background())
	retention := ec.Retention
	if retention == 0 {
		retention = 30 * 24 * time.Hour
	}
	go w.RunRetention(rctx, 10*time.Minute, retention, ec.MaxEvents)
	return &analysis{store: st, writer: w, stop: stop, log: log,
		events: pipeline.EventOptions{Enabled: true, SampleAllowed: ec.SampleAllowed, Text: text,
			TextMax: int(ec.TextMaxBytes), RawMax: int(ec.RawMaxBytes)}}, nil
}

// startReview starts the review API over the store: releases go through
// srv, overrides to chain (nil without a policy); co makes it one node of
// several (nil: alone).
func (a *analysis) startReview(ctx context.Context, srv *proxy.Server, chain *pipeline.Chain, ttl time.Duration, reg prometheus.Registerer,
	co *review.ClusterOptions) error {
	o := review.Options{Store: a.store, Quarantine: srv, Logger: a.log, Registerer: reg, QuarantineTTL: ttl, Cluster: co}
	if chain != nil { // a nil *Chain in the interface would not be nil
		o.Overrides = chain
	}
	svc, err := review.New(o)
	if err != nil {
		return err
	}
	if err := svc.Start(ctx); err != nil {
		return err
	}
	a.svc = svc
	return nil
}

// mount adds the review API to the admin mux.
func (a *analysis) mount(mux *http.ServeMux) {
	mux.Handle("/api/v1/", a.svc.Handler())
}

// sink is the proxy's event sink (nil when there is no store).
func (a *analysis) sink() filter.EventSink {
	if a == nil {
		return nil
	}
	return a.writer
}

// close runs after the proxy has drained: every queued event is written
// before the store closes. Later calls return the first one's result.
func (a *analysis) close(ctx context.Context) error {
	if a == nil {
		return nil
	}
	a.closeOnce.Do(func() {
		if a.svc != nil {
			a.svc.Stop()
		}
		a.stop()
		a.closeErr = errors.Join(a.writer.Close(ctx), a.store.Close())
	})
	return a.closeErr
}
