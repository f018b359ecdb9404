// Package action holds the settings of the deliveries package mo makes
// (HTTP and webhook pushes, mails, automatic replies) and of the actions
// a policy rule triggers, with their checks. It is a leaf: the policy
// (package rules) and the inspection pipeline name actions without
// depending on the delivery machinery.
package action

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"time"

	smstext "github.com/smsfw/smsfw/smpp/text"
)

// Queued targets.
const (
	TargetHTTP    = "http"
	TargetPull    = "pull"
	TargetEmail   = "email"
	TargetWebhook = "webhook"
	TargetReply   = "reply"
)

// HTTPTarget is an HTTP push endpoint (http and webhook).
type HTTPTarget struct {
	URL string `yaml:"url"`
	// SecretFile holds the HMAC-SHA256 key of X-Smsfw-Signature (required).
	SecretFile string `yaml:"secret_file"`
	Retry      `yaml:",inline"`

	// secret is read when a policy is checked (rule actions); nil: the
	// deliverer reads SecretFile.
	secret []byte
}

// EmailTarget mails MO messages.
type EmailTarget struct {
	To []string `yaml:"to"`
	// Digest, when set, sends one mail per interval with every MO queued
	// meanwhile instead of one mail per MO.
	Digest time.Duration `yaml:"digest"`
	Retry  `yaml:",inline"`
}

// ReplyAction answers an MO with an MT from From to the MO's sender.
type ReplyAction struct {
	Text string `yaml:"text"`
	From string `yaml:"from"`
	// PerSender is the least time between two replies of the route to one
	// sender (default 1h); PerRoute the most replies of the route per
	// minute (default 60). Replies beyond them are skipped, as are replies
	// to a sender that is one of smsfw's own reply addresses.
	PerSender time.Duration `yaml:"per_sender"`
	PerRoute  int           `yaml:"per_route"`
	// PerRule is PerRoute for a policy rule's reply (rules: actions:).
	PerRule int `yaml:"per_rule"`
	Retry   `yaml:",inline"`
}

// Retry is how a queued target is delivered: concurrency, time bounds,
// backoff and when a message becomes a dead letter.
type Retry struct {
	// Workers bounds the route's concurrent POSTs (default 4).
	Workers int `yaml:"workers"`
	// Timeout bounds one POST (default 10s).
	Timeout time.Duration `yaml:"timeout"`
	// Backoff is the wait before the first retry, doubled per attempt up
	// to MaxBackoff (defaults 1s, 10m), with jitter.
	Backoff    time.Duration `yaml:"backoff"`
	MaxBackoff time.Duration `yaml:"max_backoff"`
	// A message is a dead letter after MaxAttempts failed attempts or once
	// MaxAge old (defaults 12, 24h).
	MaxAttempts int           `yaml:"max_attempts"`
	MaxAge      time.Duration `yaml:"max_age"`
}

// Defaults.
const (
	DefaultWorkers     = 4
	DefaultTimeout     = 10 * time.Second
	DefaultBackoff     = time.Second
	DefaultMaxBackoff  = 10 * time.Minute
	DefaultMaxAttempts = 12
	DefaultMaxAge      = 24 * time.Hour
	DefaultPerSender   = time.Hour
	DefaultPerRoute    = 60
)

// Check reports a bad http or webhook target at key; secret resolves and
// checks its secret file.
func (h *HTTPTarget) Check(key string, secret func(path *string) error, fail func(key, format string, args ...any)) {
	if h == nil {
		return
	}
	if u, err := url.Parse(h.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fail(key+".url", "want an http:// or https:// URL, not %q", h.URL)
	}
	if err := secret(&h.SecretFile); err != nil {
		fail(key+".secret_file", "%v", err)
	}
	h.Retry.Check(key, fail)
}

// Check reports a bad email target at key.
func (e *EmailTarget) Check(key string, fail func(key, format string, args ...any)) {
	if e == nil {
		return
	}
	CheckRecipients(key+".to", e.To, fail)
	if e.Digest < 0 || (e.Digest > 0 && e.Digest < time.Second) || e.Digest > 24*time.Hour {
		fail(key+".digest", "%s outside [1s, 24h] (0: one mail per MO)", e.Digest)
	}
	e.Retry.Check(key, fail)
}

// Check reports a bad reply at key: a policy rule's (rule: it takes
// per_rule) or a route's (per_route).
func (p *ReplyAction) Check(key string, rule bool, fail func(key, format string, args ...any)) {
	if strings.TrimSpace(p.Text) == "" || !ReplyFits(p.Text) {
		fail(key+".text", "want a text of one SMS (160 GSM characters, 70 others), not %q", p.Text)
	}
	if p.From == "" || len(p.From) > 20 {
		fail(key+".from", "%q: want the reply's sender address (1 to 20 characters)", p.From)
	}
	p.Retry.Check(key, fail)
	per, perKey, other, otherKey, wrong := p.PerRoute, "per_route", p.PerRule, "per_rule", "per_rule is for policy rules; a route takes per_route"
	if rule {
		per, perKey, other, otherKey, wrong = p.PerRule, "per_rule", p.PerRoute, "per_route", "per_route is for mo_routes; a rule takes per_rule"
	}
	if p.PerSender < 0 || per < 0 || per > 100000 {
		fail(key, "per_sender and %s must not be negative (%s up to 100000)", perKey, perKey)
	}
	if other != 0 {
		fail(key+"."+otherKey, "%s", wrong)
	}
}

// CheckRecipients reports at key (through fail) an empty list of mail
// recipients and each address that does not parse.
func CheckRecipients(key string, to []string, fail func(key, format string, args ...any)) {
	if len(to) == 0 {
		fail(key, "at least one address is required")
	}
	for _, a := range to {
		if _, err := mail.ParseAddress(a); err != nil {
			fail(key, "%q: %v", a, err)
		}
	}
}

// Check reports bad retry settings at key.
func (rt *Retry) Check(key string, fail func(key, format string, args ...any)) {
	if rt.Workers < 0 || rt.Workers > 256 {
		fail(key+".workers", "%d outside [1, 256]", rt.Workers)
	}
	if rt.MaxAttempts < 0 || rt.MaxAttempts > 1000 {
		fail(key+".max_attempts", "%d outside [1, 1000]", rt.MaxAttempts)
	}
	if rt.Timeout < 0 || rt.Backoff < 0 || rt.MaxBackoff < 0 || rt.MaxAge < 0 {
		fail(key, "durations must not be negative")
	}
}

// WithDefaults fills the zero values.
func (h Retry) WithDefaults() Retry {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&h.Timeout, DefaultTimeout)
	def(&h.Backoff, DefaultBackoff)
	def(&h.MaxBackoff, DefaultMaxBackoff)
	def(&h.MaxAge, DefaultMaxAge)
	if h.Workers == 0 {
		h.Workers = DefaultWorkers
	}
	if h.MaxAttempts == 0 {
		h.MaxAttempts = DefaultMaxAttempts
	}
	return h
}

// Actions are what a policy rule triggers when it decides an MO message
// (rules: actions: in the policy): an automatic reply to the sender, a
// signed webhook POST (a ticket, a SIEM), a mail. They are served like a
// route's targets, from the same durable queue under the route name
// RulePrefix+ID: the same retries, dead letters, replay, metrics and
// console.
type Actions struct {
	Reply   *ReplyAction `yaml:"reply"`
	Webhook *HTTPTarget  `yaml:"webhook"`
	Email   *EmailTarget `yaml:"email"`
}

// SecretReader resolves a secret file named in a policy (relative to the
// policy's directory) and reads it.
type SecretReader func(name string) (resolved string, data []byte, err error)

// Check reports every problem of the actions through fail, at its key
// below actions (reply.text, webhook.url, ...); read resolves and reads
// the webhook's secret file, which is kept for delivery.
func (a *Actions) Check(read SecretReader, fail func(key, format string, args ...any)) {
	if a.Reply == nil && a.Webhook == nil && a.Email == nil {
		fail("", "no action: set reply, webhook or email")
	}
	if p := a.Reply; p != nil {
		p.Check("reply", true, fail)
	}
	if h := a.Webhook; h != nil {
		h.Check("webhook", func(path *string) error {
			if *path == "" {
				return errors.New("a file is required")
			}
			name, b, err := read(*path)
			if err != nil {
				return err
			}
			*path, h.secret = name, []byte(trimNewline(string(b)))
			if len(h.secret) == 0 {
				return fmt.Errorf("%s is empty", name)
			}
			return nil
		}, fail)
	}
	a.Email.Check("email", fail)
}

// Targets names the queued targets of the actions.
func (a *Actions) Targets() []string {
	var ts []string
	if a.Webhook != nil {
		ts = append(ts, TargetWebhook)
	}
	if a.Email != nil {
		ts = append(ts, TargetEmail)
	}
	if a.Reply != nil {
		ts = append(ts, TargetReply)
	}
	return ts
}

// Trigger is an MO message a rule with actions decided.
type Trigger struct {
	Rule    string
	Actions *Actions
	// The message: its peer (whose upstream a reply takes), addresses,
	// decoded text (every part of a long message) and the verdict.
	Peer, Sender, Dest string
	Text               string
	DataCoding         int
	Action             string
	Received           time.Time
}

// Secret is the webhook's key read when its policy was checked (nil: not
// read; the deliverer reads SecretFile).
func (h *HTTPTarget) Secret() []byte { return h.secret }

// ReplyFits reports whether text goes in one SMS (a reply is never split).
func ReplyFits(text string) bool {
	if smstext.CanGSM7(text) {
		b, _ := smstext.EncodeGSM7(nil, text)
		return len(b) <= 160
	}
	return len(smstext.EncodeUCS2(nil, text)) <= 140
}

func trimNewline(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}
