// Package smtptest is a real SMTP server for tests: the receiving side of
// smsfw's mail (MO email targets, alerts).
package smtptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Mailbox is a real SMTP server (go-smtp) on 127.0.0.1 offering STARTTLS
// with a test certificate and PLAIN authentication (user User, password
// Password); it refuses the first refuse mails with a temporary error.
type Mailbox struct {
	srv *smtp.Server
	// Port is the server's; CAFile the PEM of its certificate.
	Port   int
	CAFile string

	mu      sync.Mutex
	refuse  int
	mails   []*mail.Message
	bodies  []string
	rcpts   [][]string
	plainTx bool // a mail arrived without TLS
}

// Credentials the Mailbox accepts.
const (
	User     = "smsfw"
	Password = "mail-password"
)

// New starts a Mailbox, closed at the test's end.
func New(t testing.TB, refuse int) *Mailbox {
	t.Helper()
	cert, caFile := Cert(t)
	mb := &Mailbox{refuse: refuse, CAFile: caFile}
	mb.srv = smtp.NewServer(mb)
	mb.srv.Domain = "localhost"
	mb.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	mb.srv.ReadTimeout, mb.srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mb.Port = ln.Addr().(*net.TCPAddr).Port
	go func() { _ = mb.srv.Serve(ln) }()
	t.Cleanup(func() { mb.srv.Close() })
	return mb
}

// Got returns the mails received, with their bodies (quoted-printable
// decoded).
func (mb *Mailbox) Got() ([]*mail.Message, []string) {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return append([]*mail.Message(nil), mb.mails...), append([]string(nil), mb.bodies...)
}

// Recipients returns the RCPT TO addresses of each mail received.
func (mb *Mailbox) Recipients() [][]string {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return append([][]string(nil), mb.rcpts...)
}

// WithoutTLS reports whether a mail arrived without STARTTLS.
func (mb *Mailbox) WithoutTLS() bool {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return mb.plainTx
}

// NewSession implements smtp.Backend.
func (mb *Mailbox) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &mailSession{mb: mb, c: c}, nil
}

type mailSession struct {
	mb     *Mailbox
	c      *smtp.Conn
	authed bool
	rcpts  []string
}

func (s *mailSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *mailSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != User || pass != Password {
			return errors.New("bad credentials")
		}
		s.authed = true
		return nil
	}), nil
}

func (s *mailSession) Mail(string, *smtp.MailOptions) error {
	if !s.authed {
		return &smtp.SMTPError{Code: 530, Message: "authentication required"}
	}
	return nil
}

func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.rcpts = append(s.rcpts, to)
	return nil
}

func (s *mailSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	mb := s.mb
	mb.mu.Lock()
	defer mb.mu.Unlock()
	if _, ok := s.c.TLSConnectionState(); !ok {
		mb.plainTx = true
	}
	if mb.refuse > 0 {
		mb.refuse--
		return &smtp.SMTPError{Code: 451, Message: "try again later"}
	}
	m, err := mail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		return err
	}
	var br io.Reader = m.Body
	if strings.EqualFold(m.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		br = quotedprintable.NewReader(br)
	}
	body, _ := io.ReadAll(br)
	mb.mails = append(mb.mails, m)
	mb.bodies = append(mb.bodies, string(body))
	mb.rcpts = append(mb.rcpts, s.rcpts)
	return nil
}

func (s *mailSession) Reset()        { s.rcpts = nil }
func (s *mailSession) Logout() error { return nil }

// Cert is a self-signed certificate for 127.0.0.1 and localhost, and the
// file of its PEM (a CA file that trusts it).
func Cert(t testing.TB) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smtp test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(file, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, file
}
