package proxy

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/internal/tlsfiles"
	"github.com/smsfw/smsfw/sim"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// testCA is a throw-away certificate authority whose files live in a test's
// temporary directory.
type testCA struct {
	t    *testing.T
	dir  string
	name string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string // CA certificate, PEM
	pool *x509.CertPool
}

// keyPair is an issued certificate: PEM files and the loaded pair.
type keyPair struct {
	certFile, keyFile string
	tls               tls.Certificate
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"smsfw tests"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := &testCA{t: t, dir: t.TempDir(), name: name, cert: cert, key: key, pool: x509.NewCertPool()}
	ca.pool.AddCert(cert)
	ca.file = filepath.Join(ca.dir, name+".pem")
	writePEM(t, ca.file, "CERTIFICATE", der)
	return ca
}

func serial(t *testing.T) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func writePEM(t *testing.T, file, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// issue signs a leaf certificate for 127.0.0.1, ::1 and localhost, usable
// by a server (server=true) or a client.
func (ca *testCA) issue(cn string, server bool) keyPair {
	t := ca.t
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	kp := keyPair{certFile: filepath.Join(ca.dir, cn+".crt"), keyFile: filepath.Join(ca.dir, cn+".key")}
	writePEM(t, kp.certFile, "CERTIFICATE", der)
	writePEM(t, kp.keyFile, "PRIVATE KEY", kder)
	if kp.tls, err = tls.LoadX509KeyPair(kp.certFile, kp.keyFile); err != nil {
		t.Fatal(err)
	}
	return kp
}

// dialTLS connects to addr with TLS (trusting roots, presenting certs if
// any) and binds over the TLS connection.
func dialTLS(t *testing.T, addr string, roots *x509.CertPool, certs []tls.Certificate, o esme.Options) (*esme.Client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d := tls.Dialer{Config: &tls.Config{RootCAs: roots, Certificates: certs, MinVersion: tls.VersionTLS12}}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	tc := nc.(*tls.Conn)
	if st := tc.ConnectionState(); !st.HandshakeComplete || len(st.PeerCertificates) == 0 {
		_ = nc.Close()
		t.Fatalf("handshake state %+v", st)
	}
	if o.SystemID == "" {
		o.SystemID = "peer"
	}
	cl, err := esme.Bind(ctx, nc, o) // Bind closes nc itself on failure
	if err != nil {
		return nil, err
	}
	t.Cleanup(cl.Close)
	return cl, nil
}

// submitFlows sends one submit_sm on cl and checks the simulator got it.
func submitFlows(t *testing.T, e *env, cl *esme.Client, text string) {
	t.Helper()
	r, err := cl.Do(ctx5s(t), submit(text))
	if err != nil || r.Status != 0 || r.MessageID == "" {
		t.Fatalf("submit %q: %v %+v", text, err, r)
	}
	for _, m := range e.sim.Messages() {
		if m.Text == text {
			if m.MessageID != r.MessageID {
				t.Fatalf("simulator id %q, peer got %q", m.MessageID, r.MessageID)
			}
			return
		}
	}
	t.Fatalf("simulator never saw %q: %+v", text, e.sim.Messages())
}

func TestTLSListener(t *testing.T) {
	ca := newTestCA(t, "ca")
	srvCert := ca.issue("smsfw", true)
	e := start(t, sim.Config{}, &Config{TLS: &tlsfiles.Config{CertFile: srvCert.certFile, KeyFile: srvCert.keyFile}}, nil)

	// Plain SMPP to a TLS listener: the bind PDU is not a TLS ClientHello,
	// so the connection is closed without an SMPP answer.
	nc, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := esme.Bind(ctx5s(t), nc, esme.Options{SystemID: "plain"})
	if err == nil {
		cl.Close()
		t.Fatal("plain-TCP client bound on the TLS listener")
	}
	var be *esme.BindError
	if errors.As(err, &be) {
		t.Fatalf("plain client got an SMPP bind answer %v; want the connection closed", be.Status)
	}
	if !errors.Is(err, esme.ErrClosed) {
		t.Fatalf("plain client: %v, want the connection closed", err)
	}
	if n := e.sim.Stats().Binds; n != 0 {
		t.Fatalf("plain client caused %d upstream binds", n)
	}

	// A client not trusting the proxy's CA refuses the handshake.
	other := newTestCA(t, "other")
	if _, err := dialTLS(t, e.addr, other.pool, nil, esme.Options{}); err == nil {
		t.Fatal("client accepted a certificate from an untrusted CA")
	}

	// TLS client: bind, submit, the SMSC sees the message.
	tcl, err := dialTLS(t, e.addr, ca.pool, nil, esme.Options{SystemID: "tlspeer", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	submitFlows(t, e, tcl, "hello over TLS")
	if msgs := e.sim.Messages(); len(msgs) != 1 || msgs[0].SystemID != "tlspeer" {
		t.Fatalf("sim saw %+v", msgs)
	}
	// Counters are published per read batch, after the relayed bytes left:
	// the answer may overtake the count.
	testutil.Eventually(t, 2*time.Second, "the submit counted", func() bool {
		e.m.fold()
		return promtest.ToFloat64(e.m.pdus.WithLabelValues(legDownstream, dirIn, "submit_sm")) == 1
	})
	// Graceful shutdown unbinds a TLS peer as it does a plain one.
	if err := e.srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-tcl.Done():
	case <-time.After(3 * time.Second):
		t.Fatal("TLS peer not unbound at shutdown")
	}
}

// A TLS handshake is bounded by bind_timeout like an unbound session.
func TestTLSListenerHandshakeTimeout(t *testing.T) {
	ca := newTestCA(t, "ca")
	srvCert := ca.issue("smsfw", true)
	e := start(t, sim.Config{}, &Config{BindTimeout: 200 * time.Millisecond,
		TLS: &tlsfiles.Config{CertFile: srvCert.certFile, KeyFile: srvCert.keyFile}}, nil)
	nc, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	began := time.Now()
	_ = nc.SetReadDeadline(time.Now().Add(3 * time.Second))
	var buf [64]byte
	_, err = nc.Read(buf[:]) // we never send a ClientHello
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("silent TLS client not closed within 3s (bind_timeout 200ms)")
	}
	if took := time.Since(began); took > 2*time.Second {
		t.Fatalf("closed after %v", took)
	}
}

func TestTLSListenerMutual(t *testing.T) {
	ca := newTestCA(t, "ca")
	srvCert := ca.issue("smsfw", true)
	e := start(t, sim.Config{}, &Config{TLS: &tlsfiles.Config{CertFile: srvCert.certFile, KeyFile: srvCert.keyFile, CAFile: ca.file}}, nil)

	refused := func(name string, certs []tls.Certificate) {
		t.Helper()
		// With TLS 1.3 the client's handshake completes before the server
		// checks the client certificate: the refusal shows up as the bind
		// failing (alert, then close), never as an SMPP answer.
		cl, err := dialTLS(t, e.addr, ca.pool, certs, esme.Options{SystemID: name})
		if err == nil {
			cl.Close()
			t.Fatalf("%s: bound without an acceptable client certificate", name)
		}
		var be *esme.BindError
		if errors.As(err, &be) {
			t.Fatalf("%s: got an SMPP bind answer %v; want the TLS handshake refused", name, be.Status)
		}
	}
	refused("nocert", nil)
	other := newTestCA(t, "other")
	refused("othercert", []tls.Certificate{other.issue("intruder", false).tls})
	if n := e.sim.Stats().Binds; n != 0 {
		t.Fatalf("refused clients caused %d upstream binds", n)
	}

	client := ca.issue("acme-client", false)
	cl, err := dialTLS(t, e.addr, ca.pool, []tls.Certificate{client.tls}, esme.Options{SystemID: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	submitFlows(t, e, cl, "mutual TLS")
}

// startTLSUpstream runs a simulator behind a TLS listener (serving srvCert;
// requiring client certificates of clientCAs when set) and a config-mode
// proxy with one peer "acme" whose upstream is that simulator, with up as
// the upstream's TLS settings.
func startTLSUpstream(t *testing.T, srvCert keyPair, clientCAs *x509.CertPool, up *tlsfiles.Config) *env {
	t.Helper()
	e := &env{t: t}
	e.sim = sim.New(sim.Config{}, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{srvCert.tls}, MinVersion: tls.VersionTLS12}
	if clientCAs != nil {
		tc.ClientCAs, tc.ClientAuth = clientCAs, tls.RequireAndVerifyClientCert
	}
	e.simLn = tls.NewListener(ln, tc)
	simDone := make(chan struct{})
	go func() { defer close(simDone); _ = e.sim.Serve(e.simLn) }()
	cfg := &Config{
		Upstreams: map[string]*Upstream{"smsc": {Address: ln.Addr().String(), TLS: up}},
		Peers:     []*Peer{{SystemID: "acme", Password: "pw"}},
	}
	mustValidate(t, cfg)
	e.serveProxy(cfg, func() { e.sim.Close(); <-simDone })
	return e
}

func TestTLSUpstream(t *testing.T) {
	ca := newTestCA(t, "ca")
	smsc := ca.issue("smsc", true)
	cases := []struct {
		name string
		tls  func(t *testing.T) *tlsfiles.Config
	}{
		{"ca-servername", func(*testing.T) *tlsfiles.Config { return &tlsfiles.Config{CAFile: ca.file, ServerName: "localhost"} }},
		// Without server_name the host of the address (an IP SAN) is verified.
		{"ca+ip", func(*testing.T) *tlsfiles.Config { return &tlsfiles.Config{CAFile: ca.file} }},
		{"insecure", func(*testing.T) *tlsfiles.Config { return &tlsfiles.Config{InsecureSkipVerify: true} }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := startTLSUpstream(t, smsc, nil, c.tls(t))
			e.waitReady()
			if ok, why := e.srv.Ready(); !ok {
				t.Fatal(why)
			}
			cl := e.dial(esme.Options{SystemID: "acme", Password: "pw"})
			submitFlows(t, e, cl, "upstream TLS "+c.name)
		})
	}
	t.Run("client-cert", func(t *testing.T) {
		// The SMSC requires a client certificate: cert_file/key_file on the upstream.
		client := ca.issue("smsfw-client", false)
		e := startTLSUpstream(t, smsc, ca.pool, &tlsfiles.Config{CAFile: ca.file, ServerName: "localhost",
			CertFile: client.certFile, KeyFile: client.keyFile})
		e.waitReady()
		cl := e.dial(esme.Options{SystemID: "acme", Password: "pw"})
		submitFlows(t, e, cl, "upstream mutual TLS")
	})
}

// An SMSC whose certificate is not trusted never gets a bind; smsfw keeps
// retrying, stays not ready and keeps serving peers (with 0x08).
func TestTLSUpstreamUntrusted(t *testing.T) {
	ca := newTestCA(t, "ca")
	smsc := ca.issue("smsc", true)
	other := newTestCA(t, "other")
	cases := map[string]*tlsfiles.Config{
		"wrong-ca":          {CAFile: other.file, ServerName: "localhost"},
		"wrong-server-name": {CAFile: ca.file, ServerName: "smsc.example.com"},
		"system-roots":      {ServerName: "localhost"},
	}
	for name, up := range cases {
		t.Run(name, func(t *testing.T) {
			e := startTLSUpstream(t, smsc, nil, up)
			failed := func() float64 { return promtest.ToFloat64(e.m.binds.WithLabelValues(legUpstream, bindUpstreamError)) }
			testutil.Eventually(t, 5*time.Second, "the upstream dial retried", func() bool { return failed() >= 2 }) // it retries
			if ok, why := e.srv.Ready(); ok || !strings.Contains(why, "acme") {
				t.Fatalf("Ready() = %v, %q with an untrusted upstream", ok, why)
			}
			if st := e.sim.Stats(); st.Binds != 0 {
				t.Fatalf("simulator saw %d binds", st.Binds)
			}
			// Still serving: the peer binds (authenticated locally) and is told to retry.
			cl := e.dial(esme.Options{SystemID: "acme", Password: "pw"})
			r, err := cl.Do(ctx5s(t), submit("nowhere to go"))
			if err != nil || r.Status != pdu.StatusSysErr {
				t.Fatalf("submit without upstream: %v %+v, want 0x08", err, r)
			}
			if ok, _ := e.srv.Ready(); ok {
				t.Fatal("became ready")
			}
		})
	}
}

// In pass-through mode (no peers) the single configured upstream supplies
// the address; its tls block must apply too.
func TestTLSUpstreamPassThrough(t *testing.T) {
	ca := newTestCA(t, "ca")
	smsc := ca.issue("smsc", true)
	e := &env{t: t}
	e.sim = sim.New(sim.Config{}, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	simDone := make(chan struct{})
	go func() {
		defer close(simDone)
		_ = e.sim.Serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{smsc.tls}}))
	}()
	cfg := &Config{Upstreams: map[string]*Upstream{"smsc": {Address: ln.Addr().String(),
		TLS: &tlsfiles.Config{CAFile: ca.file, ServerName: "localhost"}}}}
	mustValidate(t, cfg)
	e.serveProxy(cfg, func() { e.sim.Close(); <-simDone })
	cl, err := esme.Dial(ctx5s(t), e.addr, esme.Options{SystemID: "acme", Password: "pw"})
	if err != nil {
		ok, why := e.srv.Ready()
		t.Fatalf("pass-through bind to a TLS upstream: %v (Ready() = %v, %q)", err, ok, why)
	}
	t.Cleanup(cl.Close)
	submitFlows(t, e, cl, "pass-through over TLS")
}

// Bad TLS files are configuration errors at New, not at the first accept.
func TestTLSConfigFileErrors(t *testing.T) {
	ca := newTestCA(t, "ca")
	kp := ca.issue("smsfw", true)
	notPEM := filepath.Join(t.TempDir(), "empty.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		tls  *tlsfiles.Config
		want string
	}{
		"missing cert":  {&tlsfiles.Config{CertFile: filepath.Join(t.TempDir(), "nope.crt"), KeyFile: kp.keyFile}, "no such file"},
		"key mismatch":  {&tlsfiles.Config{CertFile: kp.certFile, KeyFile: ca.issue("other", true).keyFile}, "private key does not match"},
		"missing CA":    {&tlsfiles.Config{CertFile: kp.certFile, KeyFile: kp.keyFile, CAFile: filepath.Join(t.TempDir(), "ca.pem")}, "no such file"},
		"CA not PEM":    {&tlsfiles.Config{CertFile: kp.certFile, KeyFile: kp.keyFile, CAFile: notPEM}, "no certificates in"},
		"cert is a key": {&tlsfiles.Config{CertFile: kp.keyFile, KeyFile: kp.keyFile}, "tls:"},
	}
	for name, c := range cases {
		_, err := New(Options{Config: &Config{TLS: c.tls}, Upstream: "127.0.0.1:1"})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: New() = %v, want an error containing %q", name, err, c.want)
		}
	}
}
