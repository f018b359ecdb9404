package main

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/smsfw/smsfw/bench"
	"github.com/smsfw/smsfw/deploy"
	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/internal/app"
	"github.com/smsfw/smsfw/internal/config"
	"github.com/smsfw/smsfw/mo"
	"github.com/smsfw/smsfw/rules"
	"github.com/smsfw/smsfw/sim"
	"github.com/smsfw/smsfw/smpp/pdu"
	smstext "github.com/smsfw/smsfw/smpp/text"
	"github.com/smsfw/smsfw/store"
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

	simSrv := sim.New(sim.Config{ReceiptDelay: 500 * time.Millisecond, Latency: time.Millisecond}, log)
	simLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go func() { _ = simSrv.Serve(simLn) }()
	defer simSrv.Close()

	dir, err := os.MkdirTemp("", "smsfw-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if *dbFlag == "" {
		*dbFlag = filepath.Join(dir, "events.db")
	}
	policy, policyName := deploy.DefaultPolicySource(), "the shipped default policy (embedded)"
	if *rulesFile != "" {
		policy, policyName = rules.FileSource(*rulesFile), *rulesFile
	}
	// The MO to the demo's short code go to an HTTP receiver of its own
	// (signed pushes through the MO queue) and on to the demo peer.
	recv, err := startDemoReceiver(dir, stdout)
	if err != nil {
		return err
	}
	defer recv.close()
	cfg := &config.Config{MORoutes: mo.Routes{{Name: "demo-inbound", Match: mo.Match{To: []string{demoShortCode}},
		HTTP: &mo.HTTPTarget{URL: recv.url, SecretFile: recv.secretFile}}}}
	// No credentials: the console is open on loopback only (the admin
	// server refuses anything else).
	a, err := app.New(ctx, app.Options{Config: cfg, Listen: *listen, Admin: *adminAddr, Upstream: simLn.Addr().String(), Policy: &policy,
		DB: *dbFlag, Events: &store.EventsConfig{SampleAllowed: 0.02}, Logger: log})
	if err != nil {
		return fmt.Errorf("%w (is another smsfw running? use --listen and --admin)", err)
	}
	a.Start()
	defer func() {
		// Drain first so every event reaches the store, then close it.
		sctx, c := context.WithTimeout(context.Background(), 10*time.Second)
		defer c()
		_ = a.Shutdown(sctx)
	}()
	ln, aln := a.Addr(), a.AdminAddr()

	fmt.Fprintf(stdout, "smsfw demo\n  console:        http://%s/   (events: http://%s/api/v1/events, inbound: http://%s/#/inbound)\n  proxy (SMPP):   %s   bind with any system_id/password\n  SMSC simulator: %s\n  policy:         %s\n  event store:    %s\n  MO receiver:    %s   (route demo-inbound: MO to %s)\n  metrics:        http://%s/metrics\n\n",
		aln, aln, aln, ln, simLn.Addr(), policyName, *dbFlag, recv.url, demoShortCode, aln)

	var receipts, mos atomic.Uint64
	peer, err := esme.Dial(ctx, ln, esme.Options{SystemID: "demoapp", Password: "demo",
		OnDeliver: func(p pdu.PDU) pdu.Status {
			var m pdu.Message
			if pdu.ParseMessage(p, &m) == nil && m.IsReceipt() {
				receipts.Add(1)
			} else {
				mos.Add(1)
			}
			return pdu.StatusOK
		}})
	if err != nil {
		return fmt.Errorf("demo peer bind: %w", err)
	}
	defer peer.Close()

	var sent, accepted, refused atomic.Uint64
	// Mostly legitimate traffic, with a fraud attempt now and then: the
	// shipped policy refuses those (spoofed and lookalike sender IDs,
	// phishing links, spam).
	type demoMsg struct{ from, text string }
	texts := []demoMsg{
		{"DemoShop", "Your code is 482913"}, {"DemoShop", "Your parcel arrives today between 10:00 and 12:00"},
		{"DemoShop", "Ihr Code lautet 771204 – gültig 5 Minuten"}, {"DemoShop", "Your order 1182 has shipped"},
		{"DemoShop", "Your code is 119207"}, {"DemoShop", "Reminder: your appointment is tomorrow at 9:30"},
		{"DemoShop", "Your code is 300418"}, {"DemoShop", "Thanks for your payment of 12.50 EUR"},
		{"PayPal", "Your account is limited, log in to restore it"},
		{"DemoShop", "Your code is 661092"},
		{"Parcels", "DHL: your parcel is on hold, pay the fee at bit.ly/3xYzAb"},
		{"DemoShop", "Your code is 208815"},
		{"PAYPA1", "Confirm your details now"},
		{"Promo", "CL41M Y0UR PR1ZE today!"},
		// From a mobile number with a link nobody vetted: quarantined.
		{"4917055501234", "Hey, new number! Photos from Saturday: photos-2024.xyz/a8Kd2"},
		// One phone number writing to one new person after another: flagged as fan-out.
		{"4917055509876", "Hi, are you coming tonight?"},
	}
	go func() {
		tick := time.NewTicker(time.Second / time.Duration(*rate))
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			dm := texts[i%len(texts)]
			text := dm.text
			f := &pdu.SMFields{SrcTON: 5, Src: dm.from, DstTON: 1, DstNPI: 1, Dst: fmt.Sprintf("49151%08d", (i*7919)%100_000_000), RegisteredDelivery: 1}
			if dm.from[0] >= '0' && dm.from[0] <= '9' {
				f.SrcTON, f.SrcNPI = 1, 1 // an international number
			}
			if smstext.CanGSM7(text) {
				f.ShortMessage, _ = smstext.EncodeGSM7(nil, text)
			} else {
				f.DataCoding, f.ShortMessage = 8, smstext.EncodeUCS2(nil, text)
			}
			sent.Add(1)
			_, err := peer.Send(pdu.AppendSM(nil, pdu.SubmitSM, 0, f), func(r esme.Resp) {
				if r.Err == nil && r.Status == 0 {
					accepted.Add(1)
				} else {
					refused.Add(1)
				}
			})
			if err != nil {
				return
			}
		}
	}()
	go func() {
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for i := 1; ; i++ {
			c, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, _ = simSrv.InjectMO(c, sim.MO{From: fmt.Sprintf("4917%08d", i), To: demoShortCode, Text: "STOP"})
			cancel()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	start := time.Now()
	lineEnd, lineStart := "\n", ""
	if bench.IsTerminal(stdout) {
		lineEnd, lineStart = "", "\r" // a terminal: one live line
	}
	for {
		select {
		case <-ctx.Done():
			pushed := recv.stop() // prints nothing after this
			fmt.Fprintln(stdout)
			fmt.Fprintf(stdout, "done after %s: %d MT sent, %d accepted, %d refused, %d receipts, %d MO, %d MO pushed\n",
				time.Since(start).Round(time.Second), sent.Load(), accepted.Load(), refused.Load(), receipts.Load(), mos.Load(), pushed)
			return nil
		case <-t.C:
			recv.mu.Lock()
			fmt.Fprintf(stdout, "%s[%4ds] MT sent %-7d accepted %-7d refused %-5d receipts %-7d MO %-5d%s",
				lineStart, int(time.Since(start).Seconds()), sent.Load(), accepted.Load(), refused.Load(), receipts.Load(), mos.Load(), lineEnd)
			recv.mu.Unlock()
		}
	}
}

// demoShortCode is where the demo's MO go (its route sends them to the
// demo's HTTP receiver).
const demoShortCode = "12345"

// demoReceiver is the demo's MO endpoint: it checks each push's signature
// as docs/mo.md shows and prints what it receives.
type demoReceiver struct {
	url, secretFile string
	srv             *http.Server
	secret          []byte
	out             io.Writer
	lead            string // "\r" on a terminal: over the live line

	mu      sync.Mutex // one line at a time on out; nothing once stopped
	stopped bool
	pushed  int
}

func startDemoReceiver(dir string, out io.Writer) (*demoReceiver, error) {
	r := &demoReceiver{secretFile: filepath.Join(dir, "mo.key"), secret: []byte("smsfw-demo-mo-secret"), out: out}
	if bench.IsTerminal(out) {
		r.lead = "\r"
	}
	if err := os.WriteFile(r.secretFile, r.secret, 0o600); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r.url = "http://" + ln.Addr().String() + "/mo"
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

func (r *demoReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil || !hmac.Equal([]byte(req.Header.Get(mo.HeaderSignature)), []byte(mo.Sign(r.secret, body))) {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var m mo.Message
	if err := json.Unmarshal(body, &m); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		http.Error(w, "stopping", http.StatusServiceUnavailable)
		return
	}
	r.pushed++
	fmt.Fprintf(r.out, "%s  MO receiver got #%s from %s to %s: %q (route %s, %s)\n", r.lead, m.ID, m.Sender, m.Destination, m.Text, m.Route,
		req.Header.Get(mo.HeaderIdempotency))
	w.WriteHeader(http.StatusNoContent)
}

// stop ends the printing and returns how many pushes were received.
func (r *demoReceiver) stop() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = true
	return r.pushed
}

func (r *demoReceiver) close() { _ = r.srv.Close() }
