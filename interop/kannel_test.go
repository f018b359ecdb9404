//go:build linux

package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/smsfw/smsfw/internal/testutil"
)

// Credentials and names used throughout the Kannel configuration.
const (
	// smscUser/smscPass are what Kannel puts into its bind_transceiver
	// (smsc-username becomes system_id, smsc-password becomes password).
	// smsfw in pass-through mode reuses them for its own upstream bind.
	smscUser = "kannel"
	smscPass = "secret"
	smscID   = "smsfw" // Kannel's smsc-id for the connection (%i in URLs)

	sendUser = "tester" // smsbox sendsms-user
	sendPass = "foobar"

	adminPass  = "adminpw"  // bearerbox admin-password
	statusPass = "statuspw" // bearerbox status-password

	// MT and MO test data.
	mtFrom = "12345"
	mtTo   = "4915112345678"
	mtText = "Hello smsfw €" // "€" exercises the GSM 03.38 extension table
	moFrom = "4917699999999"
	moTo   = "12345"
	moText = "MO via smsfw"
)

// What Kannel 1.4.5 (Debian bookworm) does on the wire, verified against a
// throwaway SMPP server while writing this test (details in README.md):
//
//   - Bind: one bind_transceiver (transceiver-mode = true), system_id =
//     smsc-username, password = smsc-password, system_type = system-type,
//     interface_version 0x34. On bind_resp 0x0D or 0x08 it reconnects after
//     reconnect-delay; on 0x0E (RINVPASWD) or 0x0F (RINVSYSID) it marks the
//     SMSC "dead" for good.
//   - submit_sm: esm_class 0x03, source and destination ton 2 / npi 1 for
//     plain digits, data_coding 0 with the text in the GSM 03.38 default
//     alphabet, unpacked: "€" is the escape pair 0x1B 0x65.
//   - registered_delivery: 0x01 when dlr-mask has 1 or 2, plus 0x10 when it
//     has 4; dlr-mask=31 sends 0x11. DLR types 8/16 come from submit_sm_resp.
//   - Receipts: the receipted_message_id (0x001E) and message_state (0x0427)
//     TLVs win over the "id:... stat:..." text, which is used without them.
//   - msg-id-type: bit 0 = submit_sm_resp ids are hex, bit 1 = receipt ids
//     are hex; both are converted to decimal before matching (so %F is
//     decimal), and ids with non-digits are read as hex anyway. Unset
//     compares the raw strings. Unequal bits with decimal ids (0x01, 0x02)
//     make receipts never match.
//   - MO: source_addr_ton 1 gets a "+" prefix in %p.
//   - An smsbox-id without a matching smsbox-route drops MO silently
//     ("smsbox_list empty!"), so none is configured.

// scenarioTimeout bounds everything after the smsfw binary is built.
const scenarioTimeout = 50 * time.Second

// TestKannelInterop runs Kannel (bearerbox + smsbox, a real ESME) against
// smsfw's proxy, which forwards to smsfw's SMSC simulator:
//
//	test --HTTP--> smsbox --> bearerbox --SMPP--> smsfw run --SMPP--> smsfw sim
//	test <--HTTP-- smsbox <-- bearerbox <--SMPP-- smsfw run <--SMPP-- smsfw sim
//
// It proves that a real SMPP 3.4 client can bind through the proxy, submit
// an MT (with a non-ASCII character), receive its delivery receipt and
// receive an MO.
func TestKannelInterop(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test with external processes; skipped in -short mode")
	}
	bearerbox, smsbox := findKannel(t)
	bin := buildSmsfw(t, t.TempDir())

	for _, v := range []struct {
		name        string
		msgIDFormat string // smsfw sim --msgid-format
		msgIDType   string // Kannel msg-id-type
	}{
		// Decimal ids in submit_sm_resp and receipts: both bits clear.
		{"decimal-ids", "dec", "0x00"},
		// Hex ids in both: both bits set. (Mixed bits break matching.)
		{"hex-ids", "hex", "0x03"},
	} {
		t.Run(v.name, func(t *testing.T) {
			testKannelInterop(t, bin, bearerbox, smsbox, v.msgIDFormat, v.msgIDType)
		})
	}
}

func testKannelInterop(t *testing.T, bin, bearerbox, smsbox, msgIDFormat, msgIDType string) {
	dir := workDir(t)
	dumpLogsOnFailure(t, dir)

	ctx, cancel := context.WithTimeout(t.Context(), scenarioTimeout)
	defer cancel()

	simSMPP, simHTTP := testutil.FreePort(t), testutil.FreePort(t)
	proxyPort, proxyAdmin := testutil.FreePort(t), testutil.FreePort(t)

	sim := startProc(t, dir, "sim", bin, "sim",
		"--listen", addr(simSMPP),
		"--http", addr(simHTTP),
		"--receipt-delay", "500ms",
		"--msgid-format", msgIDFormat,
		"--log-level", "debug")
	simURL := "http://" + addr(simHTTP)
	waitHTTP(ctx, t, "simulator HTTP API", simURL+"/v1/messages", sim)

	proxy := startProc(t, dir, "proxy", bin, "run",
		"--listen", addr(proxyPort),
		"--upstream", addr(simSMPP),
		"--admin", addr(proxyAdmin),
		"--log-level", "debug")
	adminURL := "http://" + addr(proxyAdmin)
	waitHTTP(ctx, t, "proxy /healthz", adminURL+"/healthz", proxy)

	cb := newCallbacks(t)
	k := startKannel(ctx, t, kannelOpts{
		dir:       dir,
		bearerbox: bearerbox,
		smsbox:    smsbox,
		smscPort:  proxyPort,
		msgIDType: msgIDType,
		moURL:     cb.url + "/mo",
	})

	snapshotOnFailure(t, simURL+"/v1/messages", adminURL+"/readyz", adminURL+"/metrics", k.statusURL)

	runScenario(ctx, t, scenario{
		simURL:   simURL,
		kannel:   k,
		cb:       cb,
		procs:    []*proc{sim, proxy},
		adminURL: adminURL,
		hexIDs:   msgIDFormat == "hex",
	})

	// e. The proxy exported its metrics and survived the whole exchange.
	body, code, err := httpGet(ctx, adminURL+"/metrics")
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET /metrics: code %d, err %v", code, err)
	}
	if !strings.Contains(body, "smsfw_proxy_pdus_total") {
		t.Errorf("/metrics lacks smsfw_proxy_pdus_total:\n%s", truncate(body, 4000))
	}
	for _, p := range []*proc{sim, proxy} {
		if !p.running() {
			t.Errorf("%s exited during the test: %v", p.name, p.exitErr())
		}
	}
}

// scenario is what runScenario needs; the SMSC side can be any
// implementation of the simulator HTTP contract.
type scenario struct {
	simURL   string
	kannel   *kannel
	cb       *callbacks
	procs    []*proc // must stay alive
	adminURL string  // proxy admin base URL; "" when Kannel talks to the SMSC directly
	hexIDs   bool    // the SMSC issues hex message ids
}

func runScenario(ctx context.Context, t *testing.T, sc scenario) {
	t.Helper()
	k := sc.kannel

	// a. Proxy ready and Kannel's SMPP connection online.
	testutil.Await(ctx, t, kannelPoll, "proxy ready and Kannel SMSC online", func() (bool, string) {
		for _, p := range sc.procs {
			if !p.running() {
				t.Fatalf("%s exited: %v", p.name, p.exitErr())
			}
		}
		if sc.adminURL != "" {
			_, code, err := httpGet(ctx, sc.adminURL+"/readyz")
			if err != nil || code != http.StatusOK {
				return false, fmt.Sprintf("proxy /readyz: code %d err %v", code, err)
			}
		}
		return k.smscOnline(ctx)
	})

	// b. MT through smsbox's sendsms interface.
	dlrURL := sc.cb.url + "/dlr?type=%d&id=%I&smscid=%F&smsc=%i&report=%A"
	q := url.Values{
		"username": {sendUser},
		"password": {sendPass},
		"from":     {mtFrom},
		"to":       {mtTo},
		"text":     {mtText},
		"dlr-mask": {"31"},
		"dlr-url":  {dlrURL},
	}
	body, code, err := httpGet(ctx, k.sendsmsURL+"?"+q.Encode())
	if err != nil || code/100 != 2 {
		t.Fatalf("sendsms: code %d body %q err %v", code, body, err)
	}
	t.Logf("sendsms: %d %s", code, strings.TrimSpace(body))

	var mt simMessage
	testutil.Await(ctx, t, kannelPoll, "simulator received the MT submit_sm", func() (bool, string) {
		msgs, err := simMessages(ctx, sc.simURL)
		if err != nil {
			return false, err.Error()
		}
		for _, m := range msgs {
			if m.To == mtTo {
				mt = m
				return true, ""
			}
		}
		return false, fmt.Sprintf("messages so far: %+v", msgs)
	})
	t.Logf("simulator got: %+v", mt)
	if mt.From != mtFrom {
		t.Errorf("submit_sm source_addr = %q, want %q", mt.From, mtFrom)
	}
	if mt.Text != mtText {
		t.Errorf("submit_sm text = %q (data_coding %d), want %q", mt.Text, mt.DataCoding, mtText)
	}
	if mt.RegisteredDelivery&0x03 == 0 {
		t.Errorf("submit_sm registered_delivery = %#x, want a receipt requested", mt.RegisteredDelivery)
	}
	if mt.SystemID != smscUser {
		t.Errorf("submit_sm arrived on system_id %q, want %q", mt.SystemID, smscUser)
	}
	if mt.MessageID == "" {
		t.Errorf("simulator recorded no message_id")
	}

	// c. The receipt comes back through the proxy, Kannel matches it to
	// the MT and calls the dlr-url with type=1 (delivered).
	var dlr url.Values
	testutil.Await(ctx, t, kannelPoll, "delivery report type=1 at dlr-url", func() (bool, string) {
		for _, v := range sc.cb.dlrs() {
			if v.Get("type") == "1" {
				dlr = v
				return true, ""
			}
		}
		return false, fmt.Sprintf("dlr callbacks so far: %v", sc.cb.dlrs())
	})
	t.Logf("dlr callback: %v", dlr)
	// %F is the SMSC's message id as Kannel normalised it: with msg-id-type
	// set, Kannel stores and reports it in decimal.
	if got := dlr.Get("smscid"); !sameID(got, mt.MessageID, sc.hexIDs) {
		t.Errorf("dlr smsc message id = %q, simulator message_id = %q", got, mt.MessageID)
	}
	if r := dlr.Get("report"); !strings.Contains(r, "id:"+mt.MessageID+" ") {
		t.Errorf("dlr report %q lacks id:%s", r, mt.MessageID)
	}
	if r := dlr.Get("report"); !strings.Contains(r, "stat:DELIVRD") {
		t.Errorf("dlr report %q lacks stat:DELIVRD", r)
	}

	// d. MO from the simulator, through the proxy, to the sms-service.
	var moResp struct {
		Status int `json:"status"`
	}
	testutil.Await(ctx, t, kannelPoll, "simulator accepted the MO", func() (bool, string) {
		reqBody, _ := json.Marshal(map[string]string{"from": moFrom, "to": moTo, "text": moText})
		body, code, err := httpPost(ctx, sc.simURL+"/v1/mo", reqBody)
		if err != nil {
			return false, err.Error()
		}
		if code == http.StatusServiceUnavailable {
			// No receiver bound (yet), and not queued; retry.
			return false, fmt.Sprintf("POST /v1/mo: 503 %s", body)
		}
		if code == http.StatusAccepted {
			return true, "" // queued for Kannel's bind: posting again would deliver it twice
		}
		if code != http.StatusOK {
			t.Fatalf("POST /v1/mo: %d %s", code, body)
		}
		if err := json.Unmarshal([]byte(body), &moResp); err != nil {
			t.Fatalf("POST /v1/mo: bad JSON %q: %v", body, err)
		}
		return true, ""
	})
	if moResp.Status != 0 {
		t.Errorf("deliver_sm_resp command_status = %#x, want 0", moResp.Status)
	}
	var mo url.Values
	testutil.Await(ctx, t, kannelPoll, "MO at the sms-service get-url", func() (bool, string) {
		for _, v := range sc.cb.mos() {
			if v.Get("text") == moText {
				mo = v
				return true, ""
			}
		}
		return false, fmt.Sprintf("mo callbacks so far: %v", sc.cb.mos())
	})
	t.Logf("mo callback: %v", mo)
	// Kannel prefixes "+" when the deliver_sm has source_addr_ton=1.
	if got := strings.TrimPrefix(mo.Get("from"), "+"); got != moFrom {
		t.Errorf("MO from = %q, want %q", mo.Get("from"), moFrom)
	}
	if got := strings.TrimPrefix(mo.Get("to"), "+"); got != moTo {
		t.Errorf("MO to = %q, want %q", mo.Get("to"), moTo)
	}
	if got := mo.Get("smsc"); got != smscID {
		t.Errorf("MO smsc-id = %q, want %q", got, smscID)
	}
}

// sameID reports whether Kannel's id (decimal, or verbatim when
// msg-id-type is unset) denotes the simulator's id (hex when simHex).
func sameID(kannelID, simID string, simHex bool) bool {
	if kannelID == simID {
		return true
	}
	base := 10
	if simHex {
		base = 16
	}
	x, err1 := strconv.ParseUint(kannelID, 10, 64)
	y, err2 := strconv.ParseUint(simID, base, 64)
	return err1 == nil && err2 == nil && x == y
}

// ---------------------------------------------------------------------------
// Kannel

type kannelOpts struct {
	dir               string
	bearerbox, smsbox string
	smscPort          int
	msgIDType         string // value of msg-id-type, "" to leave it unset
	moURL             string // base of the sms-service get-url
	user, pass        string // smsc-username and smsc-password (default smscUser, smscPass)
	maxParts          int    // sendsms-user max-messages: parts a long text may be split into (default 1)
	separateRX        bool   // bind_transmitter and bind_receiver (two connections) instead of one transceiver
}

type kannel struct {
	statusURL  string
	sendsmsURL string
	boxPort    int // bearerbox's smsbox port (mtbatch connects there)
	links      int // SMPP connections to the SMSC: 1, or 2 with separateRX
	bearerbox  *proc
	smsbox     *proc
}

// startKannel writes kannel.conf into o.dir and starts bearerbox, then
// smsbox once bearerbox accepts box connections.
func startKannel(ctx context.Context, t *testing.T, o kannelOpts) *kannel {
	t.Helper()
	adminPort, boxPort, sendsmsPort := testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t)
	conf := filepath.Join(o.dir, "kannel.conf")
	if err := os.WriteFile(conf, []byte(kannelConf(o, adminPort, boxPort, sendsmsPort)), 0o644); err != nil {
		t.Fatal(err)
	}
	k := &kannel{
		statusURL:  fmt.Sprintf("http://%s/status.txt?password=%s", addr(adminPort), statusPass),
		sendsmsURL: fmt.Sprintf("http://%s/cgi-bin/sendsms", addr(sendsmsPort)),
		boxPort:    boxPort,
		links:      1,
	}
	if o.separateRX {
		k.links = 2
	}
	// Debug output goes to the log-file; -v 2 keeps only warnings and
	// errors (and early config errors) on stderr, captured in bearerbox.out.
	k.bearerbox = startProc(t, o.dir, "bearerbox", o.bearerbox, "-v", "2", conf)
	testutil.Await(ctx, t, kannelPoll, "bearerbox admin HTTP and smsbox port", func() (bool, string) {
		if !k.bearerbox.running() {
			t.Fatalf("bearerbox exited: %v", k.bearerbox.exitErr())
		}
		if _, code, err := httpGet(ctx, k.statusURL); err != nil || code != http.StatusOK {
			return false, fmt.Sprintf("status: code %d err %v", code, err)
		}
		c, err := net.DialTimeout("tcp", addr(boxPort), time.Second)
		if err != nil {
			return false, err.Error()
		}
		c.Close()
		return true, ""
	})
	k.smsbox = startProc(t, o.dir, "smsbox", o.smsbox, "-v", "2", conf)
	testutil.Await(ctx, t, kannelPoll, "smsbox sendsms HTTP", func() (bool, string) {
		if !k.smsbox.running() {
			t.Fatalf("smsbox exited: %v", k.smsbox.exitErr())
		}
		c, err := net.DialTimeout("tcp", addr(sendsmsPort), time.Second)
		if err != nil {
			return false, err.Error()
		}
		c.Close()
		return true, ""
	})
	return k
}

// kannelConf renders one configuration file read by both boxes.
//
// Kannel 1.4.5 notes (verified against a scratch SMPP server):
//   - transceiver-mode = true makes Kannel send a single bind_transceiver
//     (system_id = smsc-username, password = smsc-password, version 0x34).
//   - msg-id-type: bit 0 set = ids in submit_sm_resp are hex, bit 1 set =
//     ids in deliver_sm receipts are hex; Kannel converts both to decimal
//     before matching. Unset (-1) compares the ids as opaque strings.
//   - No smsbox-id: with an smsbox-id but no matching smsbox-route,
//     bearerbox silently drops MO ("smsbox_list empty!").
//   - sms-service max-messages = 0: the get-url reply body is never sent
//     back as an MT, so the simulator only sees the test's own submit_sm.
func kannelConf(o kannelOpts, adminPort, boxPort, sendsmsPort int) string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	logf := func(name string) string { return strconv.Quote(filepath.Join(o.dir, name)) }

	w("group = core")
	w("admin-port = %d", adminPort)
	w("admin-interface = 127.0.0.1")
	w("admin-password = %s", adminPass)
	w("status-password = %s", statusPass)
	w("admin-allow-ip = \"127.0.0.1\"")
	w("smsbox-port = %d", boxPort)
	w("smsbox-interface = 127.0.0.1")
	w("box-allow-ip = \"127.0.0.1\"")
	w("log-file = %s", logf("bearerbox.log"))
	w("log-level = 0")
	w("access-log = %s", logf("bearerbox-access.log"))
	w("dlr-storage = internal")
	w("")
	// One transceiver group, or (separateRX) a transmitter group and a
	// receiver group under the same smsc-id: Kannel 1.4.5 refuses port and
	// receive-port in one group.
	user, pass := smscUser, smscPass
	if o.user != "" {
		user, pass = o.user, o.pass
	}
	type link struct{ port, receivePort int }
	links := []link{{o.smscPort, 0}}
	if o.separateRX {
		links = []link{{o.smscPort, 0}, {0, o.smscPort}}
	}
	for _, l := range links {
		w("group = smsc")
		w("smsc = smpp")
		w("smsc-id = %s", smscID)
		w("host = 127.0.0.1")
		w("port = %d", l.port)
		if o.separateRX {
			w("receive-port = %d", l.receivePort)
		} else {
			w("transceiver-mode = true")
		}
		w("smsc-username = %s", user)
		w("smsc-password = %s", pass)
		w("system-type = \"\"")
		if o.msgIDType != "" {
			w("msg-id-type = %s", o.msgIDType)
		}
		w("enquire-link-interval = 5")
		w("reconnect-delay = 1")
		w("wait-ack = 30")
		w("log-file = %s", logf("smsc.log"))
		w("log-level = 0")
		w("")
	}
	w("group = smsbox")
	w("bearerbox-host = 127.0.0.1")
	w("bearerbox-port = %d", boxPort)
	w("sendsms-port = %d", sendsmsPort)
	w("sendsms-interface = 127.0.0.1")
	w("log-file = %s", logf("smsbox.log"))
	w("log-level = 0")
	w("access-log = %s", logf("smsbox-access.log"))
	w("")
	w("group = sendsms-user")
	w("username = %s", sendUser)
	w("password = %s", sendPass)
	w("max-messages = %d", max(o.maxParts, 1))
	if o.maxParts > 1 {
		w("concatenation = true") // split long texts into concatenated parts (UDH), not separate SMS
	}
	w("")
	w("group = sms-service")
	w("keyword = default")
	w("catch-all = true")
	w("max-messages = 0")
	w("get-url = %s", strconv.Quote(o.moURL+"?from=%p&to=%P&text=%a&smsc=%i&coding=%c"))
	return b.String()
}

// smscOnline reports whether bearerbox lists every SMPP connection of
// the smsc as online.
func (k *kannel) smscOnline(ctx context.Context) (bool, string) {
	body, code, err := httpGet(ctx, k.statusURL)
	if err != nil || code != http.StatusOK {
		return false, fmt.Sprintf("status.txt: code %d err %v", code, err)
	}
	var online []string
	for _, line := range strings.Split(body, "\n") {
		if strings.Contains(line, smscID) && strings.Contains(line, "(online") {
			online = append(online, strings.TrimSpace(line))
		}
	}
	if len(online) >= k.links {
		return true, strings.Join(online, "; ")
	}
	return false, "status.txt:\n" + body
}

// findKannel locates bearerbox and smsbox (Debian installs them in
// /usr/sbin, which is not on every user's PATH).
func findKannel(t *testing.T) (bearerbox, smsbox string) {
	t.Helper()
	bearerbox = lookTool("bearerbox", "/usr/sbin", "/usr/local/sbin", "/sbin")
	smsbox = lookTool("smsbox", "/usr/sbin", "/usr/local/sbin", "/sbin")
	if bearerbox == "" || smsbox == "" {
		msg := "Kannel not installed (bearerbox/smsbox not found on PATH or in /usr/sbin); install it with: apt-get install -y kannel"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + " (CI=true: the CI script must install Kannel)")
		}
		t.Skip(msg)
	}
	return bearerbox, smsbox
}

// lookTool finds an executable on PATH, then in dirs; "" if nowhere.
func lookTool(name string, dirs ...string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// ---------------------------------------------------------------------------
// smsfw

// buildSmsfw builds the smsfw binary from the module root into dir.
func buildSmsfw(t *testing.T, dir string) string {
	t.Helper()
	root := moduleRoot(t)
	bin := filepath.Join(dir, "smsfw")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/smsfw/smsfw/cmd/smsfw")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go build smsfw: %v\n%s", err, out)
	}
	return bin
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if gomod := strings.TrimSpace(string(out)); err == nil && gomod != "" && gomod != os.DevNull {
		return filepath.Dir(gomod)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// simMessage is one element of the simulator's GET /v1/messages.
type simMessage struct {
	SystemID           string `json:"system_id"`
	From               string `json:"from"`
	To                 string `json:"to"`
	Text               string `json:"text"`
	DataCoding         int    `json:"data_coding"`
	RegisteredDelivery int    `json:"registered_delivery"`
	MessageID          string `json:"message_id"`
	EsmClass           int    `json:"esm_class"`
}

func simMessages(ctx context.Context, simURL string) ([]simMessage, error) {
	body, code, err := httpGet(ctx, simURL+"/v1/messages")
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("GET /v1/messages: %d %s", code, body)
	}
	var msgs []simMessage
	if err := json.Unmarshal([]byte(body), &msgs); err != nil {
		return nil, fmt.Errorf("GET /v1/messages: %v in %q", err, body)
	}
	return msgs, nil
}

// ---------------------------------------------------------------------------
// Callback server for Kannel's dlr-url and get-url.

type callbacks struct {
	url  string
	mu   sync.Mutex
	dlr  []url.Values
	mo   []url.Values
	bulk map[string]int // "n type" -> DLR callbacks (bulk MT)
}

func newCallbacks(t *testing.T) *callbacks {
	cb := &callbacks{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.URL.Path != "/bulk" {
			t.Logf("callback %s %s", r.Method, r.URL)
		}
		cb.mu.Lock()
		switch r.URL.Path {
		case "/bulk":
			if cb.bulk == nil {
				cb.bulk = map[string]int{}
			}
			cb.bulk[q.Get("n")+" "+q.Get("type")]++
		case "/dlr":
			cb.dlr = append(cb.dlr, q)
		case "/mo":
			cb.mo = append(cb.mo, q)
		}
		cb.mu.Unlock()
		// Empty body: nothing for smsbox to send back (max-messages = 0
		// anyway).
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	cb.url = srv.URL
	return cb
}

func (cb *callbacks) dlrs() []url.Values {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	return append([]url.Values(nil), cb.dlr...)
}

func (cb *callbacks) mos() []url.Values {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	return append([]url.Values(nil), cb.mo...)
}

// ---------------------------------------------------------------------------
// Processes

type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // valid after done is closed
}

// startProc starts bin in its own process group with stdout and stderr in
// dir/name.out; the whole group is killed in t.Cleanup.
func startProc(t *testing.T, dir, name, bin string, args ...string) *proc {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, name+".out"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = f, f
	// Own process group, so stop can kill everything the process started;
	// Pdeathsig kills it even if the test binary dies without cleanup
	// (e.g. a go test -timeout panic).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	t.Logf("starting %s: %s %s", name, bin, strings.Join(args, " "))
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	t.Cleanup(p.stop)
	return p
}

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

func (p *proc) exitErr() error {
	select {
	case <-p.done:
		if p.err == nil {
			return errors.New("exit status 0")
		}
		return p.err
	default:
		return nil
	}
}

// stop sends SIGTERM to the process group, then SIGKILL if it lingers.
func (p *proc) stop() {
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(3 * time.Second):
	}
	// Also reaps anything the process left behind in its group.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	<-p.done
}

// dumpLogsOnFailure logs every *.out and *.log file in dir when the test
// failed. Registered first, so it runs after all processes are stopped.
func dumpLogsOnFailure(t *testing.T, dir string) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, pat := range []string{"*.out", "*.log", "*.conf"} {
			files, _ := filepath.Glob(filepath.Join(dir, pat))
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					continue
				}
				t.Logf("==== %s (%d bytes) ====\n%s", filepath.Base(f), len(b), tail(string(b), 64<<10))
			}
		}
	})
}

// snapshotOnFailure logs the given URLs' responses if the test failed.
// Register it after the processes, so it runs while they are still up.
func snapshotOnFailure(t *testing.T, urls ...string) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, u := range urls {
			body, code, err := httpGet(ctx, u)
			t.Logf("==== GET %s: %d %v\n%s", u, code, err, truncate(body, 16<<10))
		}
	})
}

// ---------------------------------------------------------------------------
// Small helpers

// workDir is t.TempDir(), or $SMSFW_INTEROP_DIR/<test name> (emptied
// first and kept afterwards) to inspect configs and logs after a run.
func workDir(t *testing.T) string {
	t.Helper()
	base := os.Getenv("SMSFW_INTEROP_DIR")
	if base == "" {
		return t.TempDir()
	}
	dir, err := filepath.Abs(filepath.Join(base, strings.ReplaceAll(t.Name(), "/", "_")))
	if err == nil {
		err = os.RemoveAll(dir)
	}
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("SMSFW_INTEROP_DIR: keeping files in %s", dir)
	return dir
}

func addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// kannelPoll is how often Kannel's state is polled.
const kannelPoll = 100 * time.Millisecond

// waitHTTP waits until url answers 200, failing early if p exits.
func waitHTTP(ctx context.Context, t *testing.T, what, u string, p *proc) {
	t.Helper()
	testutil.Await(ctx, t, kannelPoll, what, func() (bool, string) {
		if !p.running() {
			t.Fatalf("%s exited: %v", p.name, p.exitErr())
		}
		body, code, err := httpGet(ctx, u)
		if err != nil {
			return false, err.Error()
		}
		return code == http.StatusOK, fmt.Sprintf("%d %s", code, truncate(body, 200))
	})
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

func httpGet(ctx context.Context, u string) (string, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", 0, err
	}
	return do(req)
}

func httpPost(ctx context.Context, u string, body []byte) (string, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	return do(req)
}

func do(req *http.Request) (string, int, error) {
	resp, err := httpClient.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return string(b), resp.StatusCode, err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
