package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/internal/tlsfiles"
	"github.com/smsfw/smsfw/sim"
)

// install copies kp's certificate and key (and optionally a CA file) over
// the files the proxy reads: write to a temporary name, then rename, as
// certificate tooling does.
func install(t *testing.T, kp keyPair, certFile, keyFile string) {
	t.Helper()
	for _, f := range [][2]string{{kp.keyFile, keyFile}, {kp.certFile, certFile}} {
		copyFile(t, f[0], f[1])
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	tmp := to + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, to); err != nil {
		t.Fatal(err)
	}
}

// servedCert dials addr with TLS and returns the leaf the server presented.
func servedCert(t *testing.T, addr string, roots *x509.CertPool, certs []tls.Certificate) (*x509.Certificate, error) {
	t.Helper()
	d := tls.Dialer{Config: &tls.Config{RootCAs: roots, Certificates: certs, MinVersion: tls.VersionTLS12}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	return nc.(*tls.Conn).ConnectionState().PeerCertificates[0], nil
}

func TestTLSListenerReload(t *testing.T) {
	ca := newTestCA(t, "ca")
	first, second := ca.issue("smsfw-1", true), ca.issue("smsfw-2", true)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "srv.crt"), filepath.Join(dir, "srv.key")
	install(t, first, certFile, keyFile)
	e := start(t, sim.Config{}, &Config{TLSReloadInterval: -1, TLS: &tlsfiles.Config{CertFile: certFile, KeyFile: keyFile}}, nil)

	old, err := dialTLS(t, e.addr, ca.pool, nil, esme.Options{SystemID: "before"})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := servedCert(t, e.addr, ca.pool, nil); err != nil || c.Subject.CommonName != "smsfw-1" {
		t.Fatalf("before rotation: %v %v", c.Subject, err)
	}
	install(t, second, certFile, keyFile)
	if err := e.srv.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	if c, err := servedCert(t, e.addr, ca.pool, nil); err != nil || c.Subject.CommonName != "smsfw-2" {
		t.Fatalf("after rotation: %v %v", c.Subject, err)
	}
	// The session established before the rotation is unaffected.
	submitFlows(t, e, old, "established before rotation")
	newer, err := dialTLS(t, e.addr, ca.pool, nil, esme.Options{SystemID: "after"})
	if err != nil {
		t.Fatal(err)
	}
	submitFlows(t, e, newer, "bound after rotation")

	// A bad file keeps the previous certificate, is logged and counted.
	if err := os.WriteFile(certFile, []byte("-----BEGIN CERTIFICATE-----\ngarbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.ReloadTLS(); err == nil {
		t.Fatal("bad certificate accepted")
	}
	if c, err := servedCert(t, e.addr, ca.pool, nil); err != nil || c.Subject.CommonName != "smsfw-2" {
		t.Fatalf("after a bad file: %v %v", c.Subject, err)
	}
	if v := promtest.ToFloat64(e.tm.Reloads(tlsfiles.Listener, tlsfiles.ReloadError)); v != 1 {
		t.Fatalf("reload errors %v", v)
	}
	if v := promtest.ToFloat64(e.tm.Reloads(tlsfiles.Listener, tlsfiles.ReloadOK)); v != 1 {
		t.Fatalf("reloads %v", v)
	}
	if v := promtest.ToFloat64(e.tm.Expiry(tlsfiles.Listener)); v != float64(second.tls.Leaf.NotAfter.Unix()) {
		t.Fatalf("expiry gauge %v", v)
	}
	submitFlows(t, e, old, "still flowing")
}

// Polling picks up a rotation by itself, including the mTLS CA.
func TestTLSListenerReloadPolledWithClientCA(t *testing.T) {
	ca1, ca2 := newTestCA(t, "ca1"), newTestCA(t, "ca2")
	srv := ca1.issue("smsfw", true)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "clients.pem")
	copyFile(t, ca1.file, caFile)
	e := start(t, sim.Config{}, &Config{TLSReloadInterval: 10 * time.Millisecond,
		TLS: &tlsfiles.Config{CertFile: srv.certFile, KeyFile: srv.keyFile, CAFile: caFile}}, nil)
	client1, client2 := ca1.issue("client-1", false), ca2.issue("client-2", false)
	old, err := dialTLS(t, e.addr, ca1.pool, []tls.Certificate{client1.tls}, esme.Options{SystemID: "one"})
	if err != nil {
		t.Fatal(err)
	}
	if cl, err := dialTLS(t, e.addr, ca1.pool, []tls.Certificate{client2.tls}, esme.Options{SystemID: "two"}); err == nil {
		cl.Close()
		t.Fatal("client of ca2 accepted before the CA rotation")
	}
	copyFile(t, ca2.file, caFile)
	testutil.Eventually(t, 5*time.Second, "the new client CA trusted", func() bool {
		cl, err := dialTLS(t, e.addr, ca1.pool, []tls.Certificate{client2.tls}, esme.Options{SystemID: "two"})
		if err == nil {
			cl.Close()
		}
		return err == nil
	})
	if cl, err := dialTLS(t, e.addr, ca1.pool, []tls.Certificate{client1.tls}, esme.Options{SystemID: "one-again"}); err == nil {
		cl.Close()
		t.Fatal("client of ca1 accepted after the CA rotation")
	}
	submitFlows(t, e, old, "session of the old CA unaffected")
}

// Toward the SMSC: the SMSC rotates to a certificate of a new CA and
// requires client certificates of that CA; until smsfw's files follow,
// new upstream sessions fail and the established one keeps working; after
// the reload new sessions bind.
func TestTLSUpstreamReload(t *testing.T) {
	ca1, ca2 := newTestCA(t, "ca1"), newTestCA(t, "ca2")
	smscConf := func(ca *testCA) *tls.Config {
		return &tls.Config{Certificates: []tls.Certificate{ca.issue("smsc-"+ca.name, true).tls}, MinVersion: tls.VersionTLS12,
			ClientCAs: ca.pool, ClientAuth: tls.RequireAndVerifyClientCert}
	}
	var current atomic.Pointer[tls.Config]
	current.Store(smscConf(ca1))
	e := &env{t: t}
	e.sim = sim.New(sim.Config{}, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.simLn = tls.NewListener(ln, &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		return current.Load(), nil
	}})
	simDone := make(chan struct{})
	go func() { defer close(simDone); _ = e.sim.Serve(e.simLn) }()

	dir := t.TempDir()
	caFile, certFile, keyFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "c.crt"), filepath.Join(dir, "c.key")
	copyFile(t, ca1.file, caFile)
	install(t, ca1.issue("smsfw-client-1", false), certFile, keyFile)
	cfg := &Config{TLSReloadInterval: -1,
		Upstreams: map[string]*Upstream{"smsc": {Address: ln.Addr().String(),
			TLS: &tlsfiles.Config{CAFile: caFile, CertFile: certFile, KeyFile: keyFile, ServerName: "localhost"}}},
		Peers: []*Peer{{SystemID: "acme", Password: "pw"}}}
	mustValidate(t, cfg)
	e.serveProxy(cfg, func() { e.sim.Close(); <-simDone })
	e.waitReady()
	cl := e.dial(esme.Options{SystemID: "acme", Password: "pw"})
	submitFlows(t, e, cl, "before rotation")

	current.Store(smscConf(ca2)) // the SMSC rotates
	submitFlows(t, e, cl, "established upstream session unaffected")

	failedBinds := func() float64 { return promtest.ToFloat64(e.m.binds.WithLabelValues(legUpstream, bindUpstreamError)) }
	e.sim.DropConnections()
	testutil.Eventually(t, 5*time.Second, "a bind with the old CA failed", func() bool { return failedBinds() >= 1 }) // old CA: new sessions fail

	copyFile(t, ca2.file, caFile)
	install(t, ca2.issue("smsfw-client-2", false), certFile, keyFile)
	if err := e.srv.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	e.waitReady() // reconnect with backoff, now with the new CA and client certificate
	submitFlows(t, e, cl, "after reload")
	if v := promtest.ToFloat64(e.tm.Reloads(tlsfiles.Upstream, tlsfiles.ReloadOK)); v != 1 {
		t.Fatalf("upstream reloads %v", v)
	}
}
