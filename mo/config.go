package mo

import (
	"fmt"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/smsfw/smsfw/internal/yamlx"
)

// Routes is the `mo_routes:` section of the configuration: where MO
// messages go besides (or instead of) the peers' SMPP receivers. The first
// route an MO matches decides; an MO matching none goes to SMPP as before.
type Routes []Route

// Route is one MO route.
type Route struct {
	Name  string `yaml:"name"`
	Match Match  `yaml:"match"`
	// HTTP pushes each MO as a signed JSON POST.
	HTTP *HTTPTarget `yaml:"http"`
	// Pull keeps each MO for GET /api/v1/mo?route=NAME until acknowledged;
	// PullTokenFile holds the consumers' bearer token (required with pull);
	// PullVisibility is how long a message read and not acknowledged stays
	// invisible before it is handed out again (default 30s).
	Pull           bool          `yaml:"pull"`
	PullTokenFile  string        `yaml:"pull_token_file"`
	PullVisibility time.Duration `yaml:"pull_visibility"`
	// SMPP also delivers the MO to the peer's receiver sessions as before
	// (default true).
	SMPP *bool `yaml:"smpp"`
	// Email mails each MO (or a digest per interval) through the smtp
	// section's server.
	Email *EmailTarget `yaml:"email"`
	// Reply sends an automatic MT back to the MO's sender through the
	// peer's upstream (rate-limited per sender and per route).
	Reply *ReplyAction `yaml:"reply"`
	// Webhook posts each MO to a ticketing or SIEM endpoint, exactly as
	// http does (signed, retried, dead letters).
	Webhook *HTTPTarget `yaml:"webhook"`
}

// Match selects MO messages; an empty list matches everything, and every
// non-empty list must match.
type Match struct {
	// To and From are destination and sender addresses, exact or a prefix
	// ending in "*".
	To   []string `yaml:"to"`
	From []string `yaml:"from"`
	// Keyword is the message's first word, compared case-insensitively.
	Keyword []string `yaml:"keyword"`
}

// HTTPTarget is an HTTP push endpoint (http and webhook).
type HTTPTarget struct {
	URL string `yaml:"url"`
	// SecretFile holds the HMAC-SHA256 key of X-Smsfw-Signature (required).
	SecretFile string `yaml:"secret_file"`
	Retry      `yaml:",inline"`

	secret []byte // read when a policy was loaded (rule actions); nil: read SecretFile
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
	DefaultWorkers        = 4
	DefaultTimeout        = 10 * time.Second
	DefaultBackoff        = time.Second
	DefaultMaxBackoff     = 10 * time.Minute
	DefaultMaxAttempts    = 12
	DefaultMaxAge         = 24 * time.Hour
	DefaultPullVisibility = 30 * time.Second
	DefaultPerSender      = time.Hour
	DefaultPerRoute       = 60
	minTokenLen           = 16
)

var routeName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// Validate checks the section at at; every problem is returned at its
// key's line. Relative secret and token files are resolved against the
// configuration file's directory.
func (rs Routes) Validate(at yamlx.At) error {
	var errs []error
	names := map[string]bool{}
	for i := range rs {
		r := &rs[i]
		a := at.In(fmt.Sprintf("[%d]", i))
		fail := func(key, format string, args ...any) {
			errs = append(errs, a.Errorf(key, "%s: "+format, append([]any{a.Path(key)}, args...)...))
		}
		switch {
		case !routeName.MatchString(r.Name):
			fail("name", "want 1 to 64 letters, digits, '_', '.' or '-', not %q", r.Name)
		case names[r.Name]:
			fail("name", "route %q defined twice", r.Name)
		}
		names[r.Name] = true
		for key, pats := range map[string][]string{"match.to": r.Match.To, "match.from": r.Match.From} {
			for _, p := range pats {
				if p == "" || strings.Contains(strings.TrimSuffix(p, "*"), "*") {
					fail(key, "%q: want an address, or a prefix ending in *", p)
				}
			}
		}
		for _, k := range r.Match.Keyword {
			if k == "" || strings.ContainsAny(k, " \t\r\n") {
				fail("match.keyword", "%q: want one word", k)
			}
		}
		if !r.SendsSMPP() && !r.Durable() {
			fail("", "no target: set http, email, webhook, reply, pull: true, or smpp: true")
		}
		for key, h := range map[string]*HTTPTarget{"http": r.HTTP, "webhook": r.Webhook} {
			h.check(key, func(path *string) error { return ResolveSecret(path, at.File, 1) }, fail)
		}
		r.Email.check("email", fail)
		if p := r.Reply; p != nil {
			p.check("reply", fail)
			if p.PerSender < 0 || p.PerRoute < 0 || p.PerRoute > 100000 {
				fail("reply", "per_sender and per_route must not be negative (per_route up to 100000)")
			}
			if p.PerRule != 0 {
				fail("reply.per_rule", "per_rule is for policy rules; a route takes per_route")
			}
		}
		switch {
		case r.Pull:
			if err := ResolveSecret(&r.PullTokenFile, at.File, minTokenLen); err != nil {
				fail("pull_token_file", "%v (pull: true needs the consumers' token)", err)
			}
		case r.PullTokenFile != "":
			fail("pull_token_file", "set without pull: true")
		}
		if r.PullVisibility < 0 || r.PullVisibility > time.Hour {
			fail("pull_visibility", "%s outside [1s, 1h]", r.PullVisibility)
		}
	}
	return yamlx.Join(errs...)
}

// check reports a bad http or webhook target at key; secret resolves and
// checks its secret file.
func (h *HTTPTarget) check(key string, secret func(path *string) error, fail func(key, format string, args ...any)) {
	if h == nil {
		return
	}
	if u, err := url.Parse(h.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fail(key+".url", "want an http:// or https:// URL, not %q", h.URL)
	}
	if err := secret(&h.SecretFile); err != nil {
		fail(key+".secret_file", "%v", err)
	}
	h.Retry.validate(key, fail)
}

// check reports a bad email target at key.
func (e *EmailTarget) check(key string, fail func(key, format string, args ...any)) {
	if e == nil {
		return
	}
	CheckRecipients(key+".to", e.To, fail)
	if e.Digest < 0 || (e.Digest > 0 && e.Digest < time.Second) || e.Digest > 24*time.Hour {
		fail(key+".digest", "%s outside [1s, 24h] (0: one mail per MO)", e.Digest)
	}
	e.Retry.validate(key, fail)
}

// check reports a bad reply at key (per_rule and per_route are checked by
// the caller: each belongs to one place).
func (p *ReplyAction) check(key string, fail func(key, format string, args ...any)) {
	if strings.TrimSpace(p.Text) == "" || !replyFits(p.Text) {
		fail(key+".text", "want a text of one SMS (160 GSM characters, 70 others), not %q", p.Text)
	}
	if p.From == "" || len(p.From) > 20 {
		fail(key+".from", "%q: want the reply's sender address (1 to 20 characters)", p.From)
	}
	p.Retry.validate(key, fail)
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

func (rt *Retry) validate(key string, fail func(key, format string, args ...any)) {
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

// SendsSMPP reports whether the route's messages go to SMPP receivers too.
func (r *Route) SendsSMPP() bool { return r.SMPP == nil || *r.SMPP }

// Durable reports whether the route has a target served from the queue.
func (r *Route) Durable() bool {
	return r.HTTP != nil || r.Pull || r.Email != nil || r.Reply != nil || r.Webhook != nil
}

// ResolveSecret resolves *path against the configuration file's directory
// and checks that it holds a secret of at least min bytes.
func ResolveSecret(path *string, configFile string, min int) error {
	if *path == "" {
		return fmt.Errorf("a file is required")
	}
	if !filepath.IsAbs(*path) && configFile != "" {
		*path = filepath.Join(filepath.Dir(configFile), *path)
	}
	b, err := ReadSecret(*path)
	if err != nil {
		return err
	}
	if len(b) < min {
		return fmt.Errorf("%s holds %d bytes, want at least %d", *path, len(b), min)
	}
	return nil
}

// ReadSecret reads a secret file without its trailing newline.
func ReadSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return []byte(strings.TrimRight(string(b), "\r\n")), nil
}

// withDefaults fills the zero values.
func (h Retry) withDefaults() Retry {
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
