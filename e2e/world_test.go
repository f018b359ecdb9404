package e2e

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/pipeline"
	"github.com/smsfw/smsfw/internal/app"
	"github.com/smsfw/smsfw/internal/config"
	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/proxy"
	"github.com/smsfw/smsfw/review"
	"github.com/smsfw/smsfw/rules"
	"github.com/smsfw/smsfw/sim"
	"github.com/smsfw/smsfw/smpp/pdu"
	"github.com/smsfw/smsfw/store"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// policy is a small policy in the format of deploy/rules/default.yaml: one
// rule per analyst-visible action.
const policy = `version: 1
default: allow
detectors:
  content:
    keywords: casino-words
    regexes: prize-patterns
lists:
  casino-words: {type: keywords, items: ["casino bonus"]}
  prize-patterns: {type: regexes, items: ['(?i)won the jackpot']}
  crypto-words: {type: keywords, items: ["crypto"]}
rules:
  - id: prize-hold
    description: Prize messages wait for an analyst.
    when: det.regex
    action: quarantine
  - id: casino-spam
    when: det.keyword
    action: block
  - id: crypto-mention
    when: contains_any(msg.text_norm, "crypto-words")
    action: flag
`

// Messages of each kind, and what the policy does with them.
const (
	textLegit       = "Your parcel arrives tomorrow between 9 and 12"
	textBlocked     = "Your CASINO BONUS awaits, claim it today"
	textFlagged     = "Crypto markets this week: our summary"
	textQuarantined = "Congratulations, you WON THE JACKPOT! Reply YES"
	sender          = "SHOP"
	dest            = "4915112345678"
)

// world is the wired system: smsfw built by internal/app, as `smsfw run`
// builds it, in front of a simulator.
type world struct {
	t      *testing.T
	sim    *sim.Server
	app    *app.App
	srv    *proxy.Server
	addr   string // the proxy's listener
	engine *rules.Engine
	chain  *pipeline.Chain
	st     store.Store // the event database, read on a connection of the test's
	sink   *countingSink
	svc    *review.Service
	admin  string // the console's base URL ("" with noAdmin)
	dbPath string
}

type worldOptions struct {
	writer  store.WriterOptions
	wrap    func(store.Store) store.Store // between the writer and the store
	noAdmin bool
	proxy   string   // more top-level lines of the proxy's configuration
	peers   []string // more peers (system_id; password pw, class a2p) beside acme
	p2p     []string // peers of class p2p (routes billed as person-to-person)
	policy  string   // the policy (default: policy)
}

func newWorld(t *testing.T, o worldOptions) *world {
	t.Helper()
	w := &world{t: t}
	log := zaptest.NewLogger(t)

	w.sim = sim.New(sim.Config{}, log.Named("sim"))
	sln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = w.sim.Serve(sln) }()
	t.Cleanup(w.sim.Close)

	var more strings.Builder
	for _, p := range o.peers {
		fmt.Fprintf(&more, "  - {system_id: %s, password: pw, class: a2p}\n", p)
	}
	for _, p := range o.p2p {
		fmt.Fprintf(&more, "  - {system_id: %s, password: pw, class: p2p}\n", p)
	}
	cfg, err := config.Parse("e2e.yaml", []byte(fmt.Sprintf(`
upstreams:
  smsc: {address: %q, system_id: fw, password: pw}
peers:
  - {system_id: acme, password: pw, class: a2p}
%sevents: {}
%s
`, sln.Addr().String(), more.String(), o.proxy)))
	if err != nil {
		t.Fatal(err)
	}
	w.dbPath = filepath.Join(t.TempDir(), "events.db")
	t.Cleanup(func() {
		if w.st != nil {
			_ = w.st.Close()
		}
	})
	pol := policy
	if o.policy != "" {
		pol = o.policy
	}
	src := rules.FSSource(fstest.MapFS{"policy.yaml": {Data: []byte(pol)}}, "policy.yaml")
	w.app, err = app.New(context.Background(), app.Options{Config: cfg, Listen: "127.0.0.1:0", Admin: "127.0.0.1:0",
		NoAdmin: o.noAdmin, Policy: &src, DB: w.dbPath, Logger: log, Writer: o.writer, WrapStore: o.wrap,
		WrapSink: func(s filter.EventSink) filter.EventSink { w.sink = &countingSink{w: s}; return w.sink }})
	if err != nil {
		t.Fatal(err)
	}
	w.app.Start()
	t.Cleanup(func() {
		// Generous: a test may leave megabytes of events queued, and the
		// writer stores them all before it closes (slow under -race on a
		// busy machine); how fast is not what these tests check.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := w.app.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	w.srv, w.engine, w.chain, w.svc = w.app.Proxy, w.app.Engine, w.app.Chain, w.app.Review()
	// The test reads the database on a connection of its own, which
	// outlives the app's (shutdown closes that one).
	if w.st, err = store.Open(context.Background(), w.dbPath, log); err != nil {
		t.Fatal(err)
	}
	w.addr = w.app.Addr()
	if !o.noAdmin {
		w.admin = "http://" + w.app.AdminAddr()
	}
	testutil.Eventually(w.t, 10*time.Second, "proxy ready", func() bool { ok, _ := w.srv.Ready(); return ok })
	return w
}

// dial binds the peer acme as a transceiver.
func (w *world) dial() *esme.Client {
	w.t.Helper()
	return w.dialAs("acme")
}

// dialAs binds a peer as a transceiver.
func (w *world) dialAs(systemID string) *esme.Client {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cl, err := esme.Dial(ctx, w.addr, esme.Options{SystemID: systemID, Password: "pw"})
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(cl.Close)
	return cl
}

func submit(from, text string) []byte {
	return pdu.AppendSM(nil, pdu.SubmitSM, 0, &pdu.SMFields{SrcTON: 5, Src: from, DstTON: 1, DstNPI: 1, Dst: dest,
		ShortMessage: []byte(text)})
}

// send submits one message and waits for its answer.
func (w *world) send(cl *esme.Client, from, text string) esme.Resp {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := cl.Do(ctx, submit(from, text))
	if err != nil {
		w.t.Fatalf("submit %q: %v", text, err)
	}
	return r
}

// delivered returns the simulator's messages with this text.
func (w *world) delivered(text string) []sim.Message {
	var out []sim.Message
	for _, m := range w.sim.Messages() {
		if m.Text == text {
			out = append(out, m)
		}
	}
	return out
}

// count is the number of stored events.
func (w *world) count() int64 {
	w.t.Helper()
	n, err := w.st.Count(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	return n
}

// one returns the single stored event matching q.
func (w *world) one(q store.Query) *filter.Event {
	w.t.Helper()
	p, err := w.st.Search(context.Background(), q)
	if err != nil {
		w.t.Fatal(err)
	}
	if len(p.Events) != 1 {
		w.t.Fatalf("%+v: %d events, want 1", q, len(p.Events))
	}
	ev, err := w.st.Get(context.Background(), p.Events[0].ID)
	if err != nil {
		w.t.Fatal(err)
	}
	return ev
}

// countingSink counts what the proxy hands to the writer, and what the
// writer refused.
type countingSink struct {
	w       filter.EventSink
	emitted atomic.Int64
	refused atomic.Int64
}

func (c *countingSink) Emit(ev *filter.Event) bool {
	c.emitted.Add(1)
	ok := c.w.Emit(ev)
	if !ok {
		c.refused.Add(1)
	}
	return ok
}
