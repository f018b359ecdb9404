package mo

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/mail"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/smsfw/smsfw/internal/yamlx"
)

// SMTP is the `smtp:` section: the mail server of email targets and
// email alerts.
type SMTP struct {
	Host string `yaml:"host"`
	// Port defaults to 587 (starttls), 465 (tls) or 25 (none).
	Port     int    `yaml:"port"`
	Username string `yaml:"username"`
	// PasswordFile holds the password (relative to the config file).
	PasswordFile string `yaml:"password_file"`
	From         string `yaml:"from"`
	// TLS is starttls (default: the server must offer it), tls (implicit
	// TLS) or none (no password may be sent then).
	TLS string `yaml:"tls"`
	// CAFile verifies the server's certificate against these CAs instead
	// of the system's.
	CAFile string `yaml:"ca_file"`
}

// SMTP TLS modes.
const (
	SMTPStartTLS = "starttls"
	SMTPTLS      = "tls"
	SMTPNoTLS    = "none"
)

// Validate checks the section at at (nil: no section).
func (c *SMTP) Validate(at yamlx.At) error {
	if c == nil {
		return nil
	}
	probs := at.Problems(": ")
	if c.Host == "" {
		probs.Add("host", "the mail server is required")
	}
	if c.Port < 0 || c.Port > 65535 {
		probs.Add("port", "%d outside [1, 65535]", c.Port)
	}
	if _, err := mail.ParseAddress(c.From); err != nil {
		probs.Add("from", "%q: %v", c.From, err)
	}
	switch c.TLS {
	case "", SMTPStartTLS, SMTPTLS:
	case SMTPNoTLS:
		if c.Username != "" {
			probs.Add("tls", "none would send the password in clear: use starttls or tls with a username")
		}
	default:
		probs.Add("tls", "%q: want starttls, tls or none", c.TLS)
	}
	if (c.Username == "") != (c.PasswordFile == "") {
		probs.Add("username", "username and password_file go together")
	}
	if c.PasswordFile != "" {
		if err := ResolveSecret(&c.PasswordFile, at.File, 1); err != nil {
			probs.Add("password_file", "%v", err)
		}
	}
	if c.CAFile != "" {
		if !filepath.IsAbs(c.CAFile) && at.File != "" {
			c.CAFile = filepath.Join(filepath.Dir(at.File), c.CAFile)
		}
		if _, err := caPool(c.CAFile); err != nil {
			probs.Add("ca_file", "%v", err)
		}
	}
	return probs.Err()
}

// CheckEmail reports routes with email targets when there is no smtp
// section (routes is the mo_routes section at at).
func CheckEmail(routes Routes, smtp *SMTP, at yamlx.At) error {
	if smtp != nil {
		return nil
	}
	probs := at.Problems(": ")
	for i, r := range routes {
		if r.Email != nil {
			probs.In(fmt.Sprintf("[%d]", i)).Add("email", "needs the smtp section (the mail server)")
		}
	}
	return probs.Err()
}

func caPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, nil
}

// Mailer sends mail through the smtp section's server.
type Mailer struct {
	c    SMTP
	opts []gomail.Option
}

// NewMailer reads the password and CA files of c.
func NewMailer(c *SMTP) (*Mailer, error) {
	m := &Mailer{c: *c}
	tc := &tls.Config{ServerName: c.Host, MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pool, err := caPool(c.CAFile)
		if err != nil {
			return nil, err
		}
		tc.RootCAs = pool
	}
	port := c.Port
	switch c.TLS {
	case "", SMTPStartTLS:
		m.opts = append(m.opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
		port = cmpOr(port, 587)
	case SMTPTLS:
		m.opts = append(m.opts, gomail.WithSSL())
		port = cmpOr(port, 465)
	case SMTPNoTLS:
		m.opts = append(m.opts, gomail.WithTLSPolicy(gomail.NoTLS))
		port = cmpOr(port, 25)
	}
	m.opts = append(m.opts, gomail.WithPort(port), gomail.WithTLSConfig(tc), gomail.WithHELO("smsfw"))
	if c.Username != "" {
		pw, err := ReadSecret(c.PasswordFile)
		if err != nil {
			return nil, err
		}
		m.opts = append(m.opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover), gomail.WithUsername(c.Username),
			gomail.WithPassword(string(pw)))
	}
	return m, nil
}

func cmpOr(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// Mail is one mail to send.
type Mail struct {
	To      []string
	Subject string
	Body    string // plain text
	// ID is the Message-ID's local part: the same for every attempt, so
	// a mail client can drop a repeat.
	ID      string
	Headers map[string]string
}

// Send delivers one mail, within ctx.
func (m *Mailer) Send(ctx context.Context, ml Mail) error {
	msg := gomail.NewMsg()
	if err := msg.From(m.c.From); err != nil {
		return permanent(fmt.Errorf("from: %w", err))
	}
	if err := msg.To(ml.To...); err != nil {
		return permanent(fmt.Errorf("to: %w", err))
	}
	msg.Subject(ml.Subject)
	msg.SetDate()
	msg.SetMessageIDWithValue(ml.ID + "@smsfw")
	for k, v := range ml.Headers {
		msg.SetGenHeader(gomail.Header(k), v)
	}
	msg.SetBodyString(gomail.TypeTextPlain, ml.Body)
	c, err := gomail.NewClient(m.c.Host, m.opts...)
	if err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		if err := gomail.WithTimeout(time.Until(dl))(c); err != nil {
			return err
		}
	}
	return c.DialAndSendWithContext(ctx, msg)
}

// mailOf is the mail of one MO (digest false) or of a digest of several.
func mailOf(route string, to []string, items []*item) Mail {
	var b strings.Builder
	one := func(m Message) {
		fmt.Fprintf(&b, "From:     %s\nTo:       %s\nPeer:     %s\nReceived: %s\nVerdict:  %s", m.Sender, m.Destination, m.Peer,
			m.Received.Format(time.RFC3339), m.Verdict.Action)
		if m.Verdict.Rule != "" {
			fmt.Fprintf(&b, " (%s)", m.Verdict.Rule)
		}
		if p := m.Part; p != nil {
			fmt.Fprintf(&b, "\nParts:    %s of %d (ref %d), incomplete", joinInts(p.Seqs), p.Total, p.Ref)
		}
		fmt.Fprintf(&b, "\nId:       %s\n\n%s\n", m.ID, m.Text)
	}
	first := items[0].message()
	ml := Mail{To: to, ID: "smsfw-mo-" + first.ID, Headers: map[string]string{"X-Smsfw-Route": route}}
	if len(items) == 1 {
		ml.Subject = fmt.Sprintf("SMS from %s to %s (%s)", first.Sender, first.Destination, route)
		one(first)
	} else {
		ml.ID += "-" + strconv.FormatInt(items[len(items)-1].id(), 10)
		ml.Subject = fmt.Sprintf("%d SMS on route %s", len(items), route)
		for i, it := range items {
			if i > 0 {
				b.WriteString("\n----\n\n")
			}
			one(it.message())
		}
	}
	ml.Body = b.String()
	return ml
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

// permanentError is a failure no retry can mend: the message is a dead
// letter at once.
type permanentError struct{ error }

func (e permanentError) Unwrap() error { return e.error }

func permanent(err error) error { return permanentError{err} }

func isPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}
