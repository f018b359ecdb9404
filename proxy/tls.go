package proxy

import (
	"errors"
	"time"

	"github.com/smsfw/smsfw/internal/tlsfiles"
)

// loadCerts builds the reloaders of the listener and of every upstream.
func (s *Server) loadCerts() error {
	if s.cfg.TLS != nil {
		r, err := tlsfiles.NewCertReloader(s.cfg.TLS, tlsfiles.Listener, true, s.log, s.tlsm)
		if err != nil {
			return err
		}
		s.srvTLS = r.ServerConfig()
		s.certs = append(s.certs, r)
	}
	s.upCerts = map[*tlsfiles.Config]*tlsfiles.CertReloader{}
	for _, u := range s.cfg.Upstreams {
		if u == nil || u.TLS == nil {
			continue
		}
		if err := s.upstreamCerts(u.TLS); err != nil {
			return err
		}
	}
	return nil
}

// HasTLS reports whether the listener or an upstream uses TLS files.
func (s *Server) HasTLS() bool { return len(s.certFiles()) > 0 }

// certFiles are the reloaders of the listener and of every upstream.
func (s *Server) certFiles() []*tlsfiles.CertReloader {
	s.certMu.Lock()
	defer s.certMu.Unlock()
	return s.certs
}

// upstreamCerts returns the reloader of t, made if needed (an upstream a
// reload added or changed).
func (s *Server) upstreamCerts(t *tlsfiles.Config) error {
	s.certMu.Lock()
	defer s.certMu.Unlock()
	if _, ok := s.upCerts[t]; ok {
		return nil
	}
	r, err := tlsfiles.NewCertReloader(t, tlsfiles.Upstream, false, s.log, s.tlsm)
	if err != nil {
		return err
	}
	s.upCerts[t] = r
	s.certs = append(s.certs[:len(s.certs):len(s.certs)], r)
	return nil
}

// ReloadTLS re-reads every certificate, key and CA file now (SIGHUP).
// Files that fail keep their previous certificates; the errors are joined.
func (s *Server) ReloadTLS() error {
	var errs []error
	for _, r := range s.certFiles() {
		if err := r.Reload(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// TLSChanged reports whether a certificate, key or CA file's content
// changed since it was last loaded (ExternalTLSWatch).
func (s *Server) TLSChanged() bool {
	for _, r := range s.certFiles() {
		if r.Changed() {
			return true
		}
	}
	return false
}

// watchCerts polls the TLS files until the server closes.
func (s *Server) watchCerts() {
	t := time.NewTicker(s.cfg.TLSReloadInterval)
	defer t.Stop()
	for {
		select {
		case <-s.closed:
			return
		case <-t.C:
			for _, r := range s.certFiles() {
				_, _ = r.Check()
			}
		}
	}
}
