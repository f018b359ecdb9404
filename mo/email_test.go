package mo

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
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

	"github.com/smsfw/smsfw/internal/testutil"
)

// mailbox is a real SMTP server (go-smtp) offering STARTTLS with a test
// certificate and PLAIN authentication; it refuses the first refuse
// mails with a temporary error.
type mailbox struct {
	srv    *smtp.Server
	addr   *net.TCPAddr
	caFile string

	mu      sync.Mutex
	refuse  int
	mails   []*mail.Message
	bodies  []string
	rcpts   [][]string
	plainTx bool // a mail arrived without TLS
}

func newMailbox(t *testing.T, refuse int) *mailbox {
	t.Helper()
	cert, caFile := testCert(t)
	mb := &mailbox{refuse: refuse, caFile: caFile}
	mb.srv = smtp.NewServer(mb)
	mb.srv.Domain = "localhost"
	mb.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	mb.srv.ReadTimeout, mb.srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mb.addr = ln.Addr().(*net.TCPAddr)
	go func() { _ = mb.srv.Serve(ln) }()
	t.Cleanup(func() { mb.srv.Close() })
	return mb
}

func (mb *mailbox) smtp() *SMTP {
	return &SMTP{Host: "127.0.0.1", Port: mb.addr.Port, Username: "smsfw", PasswordFile: "testdata/smtp.password",
		From: "smsfw@example.net", TLS: SMTPStartTLS, CAFile: mb.caFile}
}

func (mb *mailbox) got() ([]*mail.Message, []string) {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return append([]*mail.Message(nil), mb.mails...), append([]string(nil), mb.bodies...)
}

func (mb *mailbox) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &mailSession{mb: mb, c: c}, nil
}

type mailSession struct {
	mb     *mailbox
	c      *smtp.Conn
	authed bool
	rcpts  []string
}

func (s *mailSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *mailSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "smsfw" || pass != "mail-password" {
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
	body, _ := io.ReadAll(m.Body)
	mb.mails = append(mb.mails, m)
	mb.bodies = append(mb.bodies, string(body))
	mb.rcpts = append(mb.rcpts, s.rcpts)
	return nil
}

func (s *mailSession) Reset()        { s.rcpts = nil }
func (s *mailSession) Logout() error { return nil }

// testCert is a self-signed certificate for 127.0.0.1, and its PEM file.
func testCert(t *testing.T) (tls.Certificate, string) {
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

// Email targets through a real SMTP server with STARTTLS and PLAIN: one
// mail per MO, or a digest per interval; a server refusing for a while
// delays mails, loses none.
func TestEmailTarget(t *testing.T) {
	for _, tc := range []struct {
		name          string
		digest        time.Duration
		refuse        int
		mos           int
		wantMails     int
		wantInSubject string
	}{
		{name: "one mail per MO", mos: 3, wantMails: 3, wantInSubject: "SMS from 4917600000001 to 80080 (support)"},
		{name: "digest", digest: time.Second, mos: 4, wantMails: 1, wantInSubject: "4 SMS on route support"},
		{name: "server refuses then recovers", refuse: 4, mos: 2, wantMails: 2, wantInSubject: "SMS from"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mb := newMailbox(t, tc.refuse)
			rt := fastRetry(1000)
			rt.Timeout = 5 * time.Second
			h := newHarnessWith(t, Options{SMTP: mb.smtp(), Routes: Routes{{Name: "support",
				Email: &EmailTarget{To: []string{"support@example.net", "Ops <ops@example.net>"}, Digest: tc.digest, Retry: rt}}}}, nil)
			for i := range tc.mos {
				if _, err := h.offer("80080", fmt.Sprintf("help %d", i)); err != nil {
					t.Fatal(err)
				}
			}
			testutil.Eventually(t, 15*time.Second, "mails", func() bool { m, _ := mb.got(); return len(m) >= tc.wantMails })
			mails, bodies := mb.got()
			if len(mails) != tc.wantMails {
				t.Fatalf("%d mails, want %d", len(mails), tc.wantMails)
			}
			all := strings.Join(bodies, "\n")
			for i := range tc.mos {
				if strings.Count(all, fmt.Sprintf("help %d\r\n", i)) != 1 {
					t.Errorf("MO %d: %d times in\n%s", i, strings.Count(all, fmt.Sprintf("help %d", i)), all)
				}
			}
			m := mails[0]
			if subj := m.Header.Get("Subject"); !strings.Contains(subj, tc.wantInSubject) {
				t.Errorf("subject %q", subj)
			}
			if from := m.Header.Get("From"); !strings.Contains(from, "smsfw@example.net") {
				t.Errorf("from %q", from)
			}
			if !strings.HasPrefix(m.Header.Get("Message-Id"), "<smsfw-mo-") || m.Header.Get("X-Smsfw-Route") != "support" {
				t.Errorf("headers %v", m.Header)
			}
			mb.mu.Lock()
			defer mb.mu.Unlock()
			if mb.plainTx {
				t.Error("a mail went without STARTTLS")
			}
			if len(mb.rcpts[0]) != 2 {
				t.Errorf("recipients %v", mb.rcpts[0])
			}
		})
	}
}

// A server whose certificate is not the configured CA's gets no mail:
// the MO is retried, then a dead letter (tls: starttls is mandatory).
func TestEmailUntrustedServerDeadLetter(t *testing.T) {
	mb := newMailbox(t, 0)
	conf := mb.smtp()
	_, other := testCert(t)
	conf.CAFile = other
	h := newHarnessWith(t, Options{SMTP: conf, Routes: Routes{{Name: "support",
		Email: &EmailTarget{To: []string{"support@example.net"}, Retry: fastRetry(2)}}}}, nil)
	if _, err := h.offer("80080", "help"); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "dead letter", func() bool {
		dead, err := h.q.DeadMO(t.Context(), "support", 10)
		return err == nil && len(dead) == 1 && strings.Contains(dead[0].LastError, "certificate")
	})
	if m, _ := mb.got(); len(m) != 0 {
		t.Fatalf("%d mails to an untrusted server", len(m))
	}
}
