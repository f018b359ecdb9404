package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smsfw/smsfw/internal/testutil"
)

// testIssuer is a throw-away CA that writes leaf certificates as PEM files.
type testIssuer struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newIssuer(t *testing.T) *testIssuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testIssuer{cert: cert, key: key, pool: pool}
}

// write issues a server certificate for 127.0.0.1 named cn into certFile/keyFile.
func (ca *testIssuer) write(t *testing.T, cn, certFile, keyFile string, serial int64) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		name, typ string
		der       []byte
	}{{keyFile, "PRIVATE KEY", kder}, {certFile, "CERTIFICATE", der}} {
		tmp := f.name + ".tmp"
		if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, f.name); err != nil {
			t.Fatal(err)
		}
	}
}

// adminCN fetches /healthz over HTTPS (a new connection each time) and
// returns the served certificate's common name.
func adminCN(t *testing.T, pool *x509.CertPool, addr string) string {
	t.Helper()
	c := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, DisableKeepAlives: true}}
	resp, err := c.Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz over TLS: %d", resp.StatusCode)
	}
	return resp.TLS.PeerCertificates[0].Subject.CommonName
}

func TestRunAdminTLS(t *testing.T) {
	t.Parallel()
	ca := newIssuer(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "admin.crt"), filepath.Join(dir, "admin.key")
	ca.write(t, "admin-1", certFile, keyFile, 2)
	s := startSim(t)

	t.Run("flags+SIGHUP", func(t *testing.T) {
		r := startRun(t, "--listen", "127.0.0.1:0", "--upstream", s.smpp, "--admin", "127.0.0.1:0",
			"--admin-cert", certFile, "--admin-key", keyFile)
		if cn := adminCN(t, ca.pool, r.admin); cn != "admin-1" {
			t.Fatalf("served %q", cn)
		}
		// Go's TLS server answers a plain HTTP request with 400.
		if code, _ := httpGet(t, "http://"+r.admin+"/healthz"); code != http.StatusBadRequest {
			t.Fatalf("plain HTTP on the TLS admin address: %d", code)
		}
		ca.write(t, "admin-2", certFile, keyFile, 3)
		if err := r.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		r.logged("certificates reloaded", 5*time.Second)
		if cn := adminCN(t, ca.pool, r.admin); cn != "admin-2" {
			t.Fatalf("after SIGHUP served %q", cn)
		}
	})
	t.Run("config+poll", func(t *testing.T) {
		cfgFile := filepath.Join(dir, "smsfw.yaml")
		cfg := "tls_reload_interval: 20ms\nadmin_tls:\n  cert_file: " + certFile + "\n  key_file: " + keyFile + "\n"
		if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		r := startRun(t, "--listen", "127.0.0.1:0", "--upstream", s.smpp, "--admin", "127.0.0.1:0", "--config", cfgFile)
		first := adminCN(t, ca.pool, r.admin)
		ca.write(t, first+"-next", certFile, keyFile, 4)
		testutil.Eventually(t, 5*time.Second, "new admin certificate", func() bool { return adminCN(t, ca.pool, r.admin) == first+"-next" })
		// The change went through the one reload path (audited with a store).
		line := r.logged("reload", 5*time.Second)
		res, _ := line["result"].(map[string]any)
		if line["trigger"] != "file" || res["admin_tls"] != "ok" {
			t.Fatalf("reload logged %v", line)
		}
	})
	t.Run("half a pair", func(t *testing.T) {
		code, _, stderr := runProc(t, 10*time.Second, "run", "--listen", "127.0.0.1:0", "--upstream", s.smpp,
			"--admin", "127.0.0.1:0", "--admin-cert", certFile)
		if code != 1 || !strings.Contains(stderr, "--admin-cert and --admin-key go together") {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
	})
}
