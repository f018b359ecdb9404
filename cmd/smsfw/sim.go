package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/smsfw/smsfw/sim"
	"github.com/smsfw/smsfw/smpp/pdu"
)

func simCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("smsfw sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:2776", "SMPP address ESMEs bind to")
	httpAddr := fs.String("http", "", "control API address (GET /v1/messages, POST /v1/mo, GET /v1/stats); empty disables")
	latency := fs.Duration("latency", 0, "delay before answering each message")
	errRate := fs.Float64("error-rate", 0, "fraction of messages answered with --error-status (0..1)")
	errStatus := fs.String("error-status", "0x08", "status for --error-rate answers (e.g. 0x58)")
	receiptDelay := fs.Duration("receipt-delay", time.Second, "delay before a requested delivery receipt")
	msgidFormat := fs.String("msgid-format", "dec", "message id format: dec or hex")
	accounts := fs.String("accounts", "", "accepted binds as id:password,id:password (empty accepts all)")
	moEvery := fs.Duration("mo-every", 0, "inject an MO to a bound receiver this often (0: only via the API)")
	window := fs.Int("window", 100, "deliveries (MO, receipts) unanswered per session at most (0: no bound)")
	retry := fs.String("retry-schedule", "1s,5s,30s,2m,10m", "when a delivery refused with a temporary status (0x58, 0x14, 0x08, 0x64) or unanswered is tried again; \"none\": never")
	var lf logFlags
	lf.register(fs, "console")
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	log, err := lf.logger(stderr)
	if err != nil {
		return err
	}
	st, err := strconv.ParseUint(strings.TrimPrefix(*errStatus, "0x"), 16, 32)
	if err != nil {
		return fmt.Errorf("--error-status %q: want hex like 0x58", *errStatus)
	}
	if *errRate < 0 || *errRate > 1 {
		return fmt.Errorf("--error-rate must be within 0..1")
	}
	if *msgidFormat != "dec" && *msgidFormat != "hex" {
		return fmt.Errorf("--msgid-format must be dec or hex")
	}
	acc := map[string]string{}
	for _, kv := range strings.Split(*accounts, ",") {
		if kv == "" {
			continue
		}
		id, pw, ok := strings.Cut(kv, ":")
		if !ok {
			return fmt.Errorf("--accounts: %q is not id:password", kv)
		}
		acc[id] = pw
	}
	schedule, err := parseSchedule(*retry)
	if err != nil {
		return err
	}
	if *window < 0 {
		return fmt.Errorf("--window must not be negative")
	}
	s := sim.New(sim.Config{Latency: *latency, ErrorRate: *errRate, ErrorStatus: pdu.Status(st),
		ReceiptDelay: *receiptDelay, MessageIDFormat: *msgidFormat, Accounts: acc, Window: *window,
		RetrySchedule: schedule}, log)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	log.Info("simulator listening", zap.String("addr", ln.Addr().String()))
	var hs *http.Server
	if *httpAddr != "" {
		hln, err := net.Listen("tcp", *httpAddr)
		if err != nil {
			return err
		}
		hs = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = hs.Serve(hln) }()
		log.Info("simulator API listening", zap.String("addr", hln.Addr().String()))
	}
	stop := make(chan struct{})
	if *moEvery > 0 {
		go func() {
			t := time.NewTicker(*moEvery)
			defer t.Stop()
			for i := 1; ; i++ {
				select {
				case <-stop:
					return
				case <-t.C:
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					_, _ = s.InjectMO(ctx, sim.MO{From: fmt.Sprintf("4917%08d", i), To: "12345", Text: fmt.Sprintf("MO %d from the simulator", i)})
					cancel()
				}
			}
		}()
	}
	errc := make(chan error, 1)
	serve := func() { go func() { errc <- s.Serve(ln) }() }
	return serveUntilSignal(log, serve, errc, func(ctx context.Context) error {
		close(stop)
		if hs != nil {
			_ = hs.Shutdown(ctx)
		}
		s.Close()
		return nil
	}, nil)
}

// parseSchedule reads "1s,5s,30s" ("none": no retries).
func parseSchedule(v string) ([]time.Duration, error) {
	if v == "none" || v == "" {
		return nil, nil
	}
	var out []time.Duration
	for _, f := range strings.Split(v, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(f))
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("--retry-schedule: %q is not a positive duration", f)
		}
		out = append(out, d)
	}
	return out, nil
}
