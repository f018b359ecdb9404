// Package tlsfiles is TLS from files: the tls sections of the
// configuration (a listener's or a client's certificate, key and CA files)
// and their reloading when the files change, with the metrics of both. The
// proxy's listener and upstreams and the admin server use it.
package tlsfiles

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"
)

// CertReloader holds the certificate, key and CA pool of one TLS endpoint,
// loaded from its files and reloaded when their content changes (polled) or
// on Reload (SIGHUP). New handshakes use the newest good files; established
// connections keep what they negotiated. A bad new file (unreadable, not
// PEM, key not matching) is logged and counted and the previous
// certificates stay in use.
type CertReloader struct {
	t      *Config
	target Target
	server bool
	log    *zap.Logger
	m      *Metrics

	mu  sync.Mutex // serializes loads
	sum [sha256.Size]byte
	cur atomic.Pointer[certSnapshot]
}

// certSnapshot is one loaded generation of the files.
type certSnapshot struct {
	cert   *tls.Certificate // nil when no cert_file
	pool   *x509.CertPool   // nil when no ca_file
	server *tls.Config      // server side: what handshakes use
}

// NewCertReloader loads t's files; errors here are configuration errors.
// server selects the listener side (cert and key required, ca_file
// requires client certificates) or the client side (ca_file verifies the
// server, cert_file/key_file are the client certificate). m may be nil.
func NewCertReloader(t *Config, target Target, server bool, log *zap.Logger, m *Metrics) (*CertReloader, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	r := &CertReloader{t: t, target: target, server: server, m: m,
		log: log.Named("tls").With(zap.String("target", string(target)))}
	files, sum, err := r.read()
	if err != nil {
		return nil, err
	}
	snap, err := r.parse(files)
	if err != nil {
		return nil, err
	}
	r.sum = sum
	r.install(snap)
	return r, nil
}

// tlsFiles is the raw content of the files.
type tlsFiles struct{ cert, key, ca []byte }

func (r *CertReloader) read() (tlsFiles, [sha256.Size]byte, error) {
	var f tlsFiles
	h := sha256.New()
	for _, x := range []struct {
		name string
		dst  *[]byte
	}{{r.t.CertFile, &f.cert}, {r.t.KeyFile, &f.key}, {r.t.CAFile, &f.ca}} {
		if x.name == "" {
			h.Write([]byte{0})
			continue
		}
		b, err := os.ReadFile(x.name)
		if err != nil {
			return f, [sha256.Size]byte{}, fmt.Errorf("tls: %w", err)
		}
		*x.dst = b
		h.Write([]byte{1})
		h.Write(b)
		h.Write([]byte{0xff})
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return f, sum, nil
}

func (r *CertReloader) parse(f tlsFiles) (*certSnapshot, error) {
	s := &certSnapshot{}
	if r.t.CertFile != "" {
		cert, err := tls.X509KeyPair(f.cert, f.key)
		if err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		s.cert = &cert
	}
	if r.t.CAFile != "" {
		s.pool = x509.NewCertPool()
		if !s.pool.AppendCertsFromPEM(f.ca) {
			return nil, fmt.Errorf("tls: no certificates in %s", r.t.CAFile)
		}
	}
	if r.server {
		if s.cert == nil {
			return nil, errors.New("tls: a listener needs cert_file and key_file")
		}
		s.server = &tls.Config{Certificates: []tls.Certificate{*s.cert}, MinVersion: tls.VersionTLS12}
		if s.pool != nil {
			s.server.ClientCAs = s.pool
			s.server.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	return s, nil
}

func (r *CertReloader) install(s *certSnapshot) {
	r.cur.Store(s)
	if s.cert != nil && s.cert.Leaf != nil {
		r.m.Expiry(r.target).Set(float64(s.cert.Leaf.NotAfter.Unix()))
	}
}

// Reload re-reads the files now (SIGHUP). On error the previous
// certificates stay in use and the error is returned.
func (r *CertReloader) Reload() error {
	_, err := r.load(true)
	return err
}

// Changed reports whether the files' content differs from what the last
// reload or check read, without loading them (false while they cannot be
// read: being replaced, the next poll sees them).
func (r *CertReloader) Changed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, sum, err := r.read()
	return err == nil && sum != r.sum
}

// Check reloads when the files' content changed since the last attempt;
// a bad file is reported once per distinct content.
func (r *CertReloader) Check() (bool, error) { return r.load(false) }

func (r *CertReloader) load(force bool) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f, sum, err := r.read()
	if err == nil && sum == r.sum && !force {
		return false, nil
	}
	var snap *certSnapshot
	if err == nil {
		r.sum = sum // a bad content is tried once, not every poll
		snap, err = r.parse(f)
	}
	if err != nil {
		r.m.Reloads(r.target, ReloadError).Inc()
		r.log.Error("certificate reload failed; keeping the previous certificates", zap.Error(err))
		return false, err
	}
	r.install(snap)
	r.m.Reloads(r.target, ReloadOK).Inc()
	fields := []zap.Field{zap.String("cert_file", r.t.CertFile), zap.String("ca_file", r.t.CAFile)}
	if snap.cert != nil && snap.cert.Leaf != nil {
		fields = append(fields, zap.Time("not_after", snap.cert.Leaf.NotAfter))
	}
	r.log.Info("certificates reloaded", fields...)
	return true, nil
}

// ServerConfig is a tls.Config for a listener: every handshake takes the
// current certificates (GetConfigForClient).
func (r *CertReloader) ServerConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		return r.cur.Load().server, nil
	}}
}

// ClientConfig is a tls.Config for one dial toward addr with the current
// CA pool and client certificate.
func (r *CertReloader) ClientConfig(addr string) *tls.Config {
	s := r.cur.Load()
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: r.t.ServerName, InsecureSkipVerify: r.t.InsecureSkipVerify, RootCAs: s.pool}
	if tc.ServerName == "" {
		host, _, _ := net.SplitHostPort(addr)
		tc.ServerName = host
	}
	if s.cert != nil {
		tc.Certificates = []tls.Certificate{*s.cert}
	}
	return tc
}
