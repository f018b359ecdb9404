package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/smsfw/smsfw/bench"
	"github.com/smsfw/smsfw/internal/demo"
	"github.com/smsfw/smsfw/mo"
	"github.com/smsfw/smsfw/rules"
)

// demoCmd runs an SMSC simulator, the proxy in front of it and an
// application peer sending MT with receipts and receiving MO, printing live
// counts: everything a newcomer needs to see smsfw relay traffic.
func demoCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("smsfw demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:2775", "proxy address (other ESMEs may bind here too)")
	adminAddr := fs.String("admin", "127.0.0.1:9775", "admin HTTP address")
	rate := fs.Int("rate", 50, "MT messages per second from the demo peer")
	duration := fs.Duration("duration", 0, "stop after this long (0: until Ctrl-C)")
	rulesFile := fs.String("rules", "", "policy file (default: the shipped deploy/rules/default.yaml)")
	dbFlag := fs.String("db", "", "event store: SQLite file or postgres:// DSN (default: a file in a temporary directory, removed at the end)")
	var lf logFlags
	lf.register(fs, "console")
	lf.level = "warn"
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	if *rate <= 0 {
		return fmt.Errorf("--rate must be positive")
	}
	log, err := lf.logger(stderr)
	if err != nil {
		return err
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if *duration > 0 {
		var c2 context.CancelFunc
		ctx, c2 = context.WithTimeout(ctx, *duration)
		defer c2()
	}
	o := demo.Options{Listen: *listen, Admin: *adminAddr, Rate: *rate, DB: *dbFlag, Logger: log}
	if *rulesFile != "" {
		src := rules.FileSource(*rulesFile)
		o.Policy = &src
	}
	lineEnd, lineStart := "\n", ""
	if bench.IsTerminal(stdout) {
		lineEnd, lineStart = "", "\r" // a terminal: one live line
	}
	o.OnMO = func(m mo.Message, idempotencyKey string) {
		fmt.Fprintf(stdout, "%s  MO receiver got #%s from %s to %s: %q (route %s, %s)\n", lineStart, m.ID, m.Sender, m.Destination,
			m.Text, m.Route, idempotencyKey)
	}
	d, err := demo.New(ctx, o)
	if err != nil {
		if ae := (*demo.AppError)(nil); errors.As(err, &ae) {
			return fmt.Errorf("%w (is another smsfw running? use --listen and --admin)", err)
		}
		return err
	}
	defer d.Close()
	ln, aln := d.App.Addr(), d.App.AdminAddr()
	fmt.Fprintf(stdout, "smsfw demo\n  console:        http://%s/   (events: http://%s/api/v1/events, inbound: http://%s/#/inbound)\n  proxy (SMPP):   %s   bind with any system_id/password\n  SMSC simulator: %s\n  policy:         %s\n  event store:    %s\n  MO receiver:    %s   (route demo-inbound: MO to %s)\n  metrics:        http://%s/metrics\n\n",
		aln, aln, aln, ln, d.SimAddr, d.Policy, d.DB, d.ReceiverURL, demo.ShortCode, aln)
	if err := d.Run(ctx); err != nil {
		return err
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	start := time.Now()
	for {
		select {
		case <-ctx.Done():
			pushed := d.StopMO() // prints nothing after this
			c := d.Counts()
			fmt.Fprintln(stdout)
			fmt.Fprintf(stdout, "done after %s: %d MT sent, %d accepted, %d refused, %d receipts, %d MO, %d MO pushed\n",
				time.Since(start).Round(time.Second), c.Sent, c.Accepted, c.Refused, c.Receipts, c.MO, pushed)
			return nil
		case <-t.C:
			d.Locked(func() {
				c := d.Counts()
				fmt.Fprintf(stdout, "%s[%4ds] MT sent %-7d accepted %-7d refused %-5d receipts %-7d MO %-5d%s",
					lineStart, int(time.Since(start).Seconds()), c.Sent, c.Accepted, c.Refused, c.Receipts, c.MO, lineEnd)
			})
		}
	}
}
