// Package demo builds `smsfw demo`: an SMSC simulator, smsfw (built by
// internal/app) in front of it, an application peer sending MT with
// receipts and receiving MO, and MO to the demo's short code pushed
// (signed, through the MO queue) to an HTTP receiver of the demo's own.
// Everything a newcomer needs to see smsfw relay traffic, in one process;
// the command prints what it counts.
package demo

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

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

// ShortCode is where the demo's MO go (its route sends them to the demo's
// HTTP receiver).
const ShortCode = "12345"

// Options say how to run the demo.
type Options struct {
	// Listen and Admin are smsfw's SMPP and admin HTTP addresses.
	Listen, Admin string
	// Rate is how many MT messages a second the demo peer sends.
	Rate int
	// Policy is smsfw's policy (nil: the shipped default, embedded).
	Policy *rules.Source
	// DB is the event store ("": a file in a temporary directory that
	// Close removes).
	DB     string
	Logger *zap.Logger
	// OnMO is called for each MO push the receiver accepts (with its
	// idempotency key), one at a time and never while Locked runs, until
	// StopMO.
	OnMO func(m mo.Message, idempotencyKey string)
}

// Demo is a running demo.
type Demo struct {
	App         *app.App
	SimAddr     net.Addr
	ReceiverURL string
	DB          string
	Policy      string // the policy's name, for people

	o    Options
	sim  *sim.Server
	dir  string
	recv *receiver
	peer *esme.Client

	sent, accepted, refused, receipts, mos atomic.Uint64
}

// AppError is smsfw itself failing to start (its listeners, its policy,
// its event store).
type AppError struct{ Err error }

func (e *AppError) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *AppError) Unwrap() error { return e.Err }

// New starts the simulator, the MO receiver and smsfw; Run starts the
// traffic. On error everything started is closed.
func New(ctx context.Context, o Options) (_ *Demo, err error) {
	if o.Rate <= 0 {
		return nil, errors.New("the rate must be positive")
	}
	log := o.Logger
	if log == nil {
		log = zap.NewNop()
	}
	d := &Demo{o: o}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	d.sim = sim.New(sim.Config{ReceiptDelay: 500 * time.Millisecond, Latency: time.Millisecond}, log)
	simLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go func() { _ = d.sim.Serve(simLn) }()
	d.SimAddr = simLn.Addr()

	if d.dir, err = os.MkdirTemp("", "smsfw-demo-"); err != nil {
		return nil, err
	}
	d.DB = o.DB
	if d.DB == "" {
		d.DB = filepath.Join(d.dir, "events.db")
	}
	policy, policyName := deploy.DefaultPolicySource(), "the shipped default policy (embedded)"
	if o.Policy != nil {
		policy, policyName = *o.Policy, o.Policy.Path()
	}
	d.Policy = policyName
	if d.recv, err = startReceiver(d.dir, o.OnMO); err != nil {
		return nil, err
	}
	d.ReceiverURL = d.recv.url
	cfg := &config.Config{MORoutes: mo.Routes{{Name: "demo-inbound", Match: mo.Match{To: []string{ShortCode}},
		HTTP: &mo.HTTPTarget{URL: d.recv.url, SecretFile: d.recv.secretFile}}}}
	// No credentials: the console is open on loopback only (the admin
	// server refuses anything else).
	a, err := app.New(ctx, app.Options{Config: cfg, Listen: o.Listen, Admin: o.Admin, Upstream: d.SimAddr.String(), Policy: &policy,
		DB: d.DB, Events: &store.EventsConfig{SampleAllowed: 0.02}, Logger: o.Logger})
	if err != nil {
		return nil, &AppError{err}
	}
	d.App = a
	a.Start()
	return d, nil
}

// Counts are what the demo peer saw so far.
type Counts struct {
	Sent, Accepted, Refused, Receipts, MO uint64
}

// Counts returns the counts now.
func (d *Demo) Counts() Counts {
	return Counts{Sent: d.sent.Load(), Accepted: d.accepted.Load(), Refused: d.refused.Load(), Receipts: d.receipts.Load(),
		MO: d.mos.Load()}
}

// Locked runs f while no OnMO runs (one line of output at a time).
func (d *Demo) Locked(f func()) {
	d.recv.mu.Lock()
	defer d.recv.mu.Unlock()
	f()
}

// StopMO ends the OnMO calls (later pushes are refused) and returns how
// many pushes the receiver accepted.
func (d *Demo) StopMO() int { return d.recv.stop() }

// demoTexts are mostly legitimate traffic, with a fraud attempt now and
// then: the shipped policy refuses those (spoofed and lookalike sender
// IDs, phishing links, spam).
var demoTexts = []struct{ from, text string }{
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

// Run binds the demo peer and starts the traffic until ctx ends: MT at
// the rate, and an MO to the short code every 2 s from the simulator.
func (d *Demo) Run(ctx context.Context) error {
	peer, err := esme.Dial(ctx, d.App.Addr(), esme.Options{SystemID: "demoapp", Password: "demo",
		OnDeliver: func(p pdu.PDU) pdu.Status {
			var m pdu.Message
			if pdu.ParseMessage(p, &m) == nil && m.IsReceipt() {
				d.receipts.Add(1)
			} else {
				d.mos.Add(1)
			}
			return pdu.StatusOK
		}})
	if err != nil {
		return fmt.Errorf("demo peer bind: %w", err)
	}
	d.peer = peer
	go d.sendMT(ctx, peer)
	go d.injectMO(ctx)
	return nil
}

func (d *Demo) sendMT(ctx context.Context, peer *esme.Client) {
	tick := time.NewTicker(time.Second / time.Duration(d.o.Rate))
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		dm := demoTexts[i%len(demoTexts)]
		f := &pdu.SMFields{SrcTON: 5, Src: dm.from, DstTON: 1, DstNPI: 1, Dst: fmt.Sprintf("49151%08d", (i*7919)%100_000_000), RegisteredDelivery: 1}
		if dm.from[0] >= '0' && dm.from[0] <= '9' {
			f.SrcTON, f.SrcNPI = 1, 1 // an international number
		}
		if smstext.CanGSM7(dm.text) {
			f.ShortMessage, _ = smstext.EncodeGSM7(nil, dm.text)
		} else {
			f.DataCoding, f.ShortMessage = 8, smstext.EncodeUCS2(nil, dm.text)
		}
		d.sent.Add(1)
		_, err := peer.Send(pdu.AppendSM(nil, pdu.SubmitSM, 0, f), func(r esme.Resp) {
			if r.Err == nil && r.Status == 0 {
				d.accepted.Add(1)
			} else {
				d.refused.Add(1)
			}
		})
		if err != nil {
			return
		}
	}
}

func (d *Demo) injectMO(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for i := 1; ; i++ {
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, _ = d.sim.InjectMO(c, sim.MO{From: fmt.Sprintf("4917%08d", i), To: ShortCode, Text: "STOP"})
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Close stops the peer, drains smsfw so that every event reaches the
// store, then stops the receiver and the simulator and removes the
// temporary directory.
func (d *Demo) Close() {
	if d.peer != nil {
		d.peer.Close()
	}
	if d.App != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = d.App.Shutdown(ctx)
		cancel()
	}
	if d.recv != nil {
		d.recv.close()
	}
	if d.dir != "" {
		_ = os.RemoveAll(d.dir)
	}
	if d.sim != nil {
		d.sim.Close()
	}
}

// receiver is the demo's MO endpoint: it checks each push's signature as
// docs/mo.md shows and hands the message to onMO.
type receiver struct {
	url, secretFile string
	srv             *http.Server
	secret          []byte
	onMO            func(mo.Message, string)

	mu      sync.Mutex // one onMO at a time; none once stopped
	stopped bool
	pushed  int
}

func startReceiver(dir string, onMO func(mo.Message, string)) (*receiver, error) {
	r := &receiver{secretFile: filepath.Join(dir, "mo.key"), secret: []byte("smsfw-demo-mo-secret"), onMO: onMO}
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

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
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
	if r.onMO != nil {
		r.onMO(m, req.Header.Get(mo.HeaderIdempotency))
	}
	w.WriteHeader(http.StatusNoContent)
}

// stop ends the onMO calls and returns how many pushes were accepted.
func (r *receiver) stop() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = true
	return r.pushed
}

func (r *receiver) close() { _ = r.srv.Close() }
