package mo

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/smsfw/smsfw/internal/smtptest"
	"github.com/smsfw/smsfw/internal/testutil"
)

// smtpOf is the smtp section for mailbox mb.
func smtpOf(mb *smtptest.Mailbox) *SMTP {
	return &SMTP{Host: "127.0.0.1", Port: mb.Port, Username: smtptest.User, PasswordFile: "testdata/smtp.password",
		From: "smsfw@example.net", TLS: SMTPStartTLS, CAFile: mb.CAFile}
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
			mb := smtptest.New(t, tc.refuse)
			rt := fastRetry(1000)
			rt.Timeout = 5 * time.Second
			h := newHarnessWith(t, Options{SMTP: smtpOf(mb), Routes: Routes{{Name: "support",
				Email: &EmailTarget{To: []string{"support@example.net", "Ops <ops@example.net>"}, Digest: tc.digest, Retry: rt}}}}, nil)
			for i := range tc.mos {
				if _, err := h.offer("80080", fmt.Sprintf("help %d", i)); err != nil {
					t.Fatal(err)
				}
			}
			testutil.Eventually(t, 15*time.Second, "mails", func() bool { m, _ := mb.Got(); return len(m) >= tc.wantMails })
			mails, bodies := mb.Got()
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
			if mb.WithoutTLS() {
				t.Error("a mail went without STARTTLS")
			}
			if rcpts := mb.Recipients(); len(rcpts[0]) != 2 {
				t.Errorf("recipients %v", rcpts[0])
			}
		})
	}
}

// A server whose certificate is not the configured CA's gets no mail:
// the MO is retried, then a dead letter (tls: starttls is mandatory).
func TestEmailUntrustedServerDeadLetter(t *testing.T) {
	mb := smtptest.New(t, 0)
	conf := smtpOf(mb)
	_, other := smtptest.Cert(t)
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
	if m, _ := mb.Got(); len(m) != 0 {
		t.Fatalf("%d mails to an untrusted server", len(m))
	}
}
