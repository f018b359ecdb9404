package mo

import (
	"fmt"
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

// HTTPTarget is an HTTP push endpoint.
type HTTPTarget struct {
	URL string `yaml:"url"`
	// SecretFile holds the HMAC-SHA256 key of X-Smsfw-Signature (required).
	SecretFile string `yaml:"secret_file"`
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
		if !r.SendsSMPP() && r.HTTP == nil && !r.Pull {
			fail("", "no target: set http, pull: true, or smpp: true")
		}
		if h := r.HTTP; h != nil {
			if u, err := url.Parse(h.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				fail("http.url", "want an http:// or https:// URL, not %q", h.URL)
			}
			if err := readableFile(&h.SecretFile, at.File, 1); err != nil {
				fail("http.secret_file", "%v", err)
			}
			if h.Workers < 0 || h.Workers > 256 {
				fail("http.workers", "%d outside [1, 256]", h.Workers)
			}
			if h.MaxAttempts < 0 || h.MaxAttempts > 1000 {
				fail("http.max_attempts", "%d outside [1, 1000]", h.MaxAttempts)
			}
			if h.Timeout < 0 || h.Backoff < 0 || h.MaxBackoff < 0 || h.MaxAge < 0 {
				fail("http", "durations must not be negative")
			}
		}
		switch {
		case r.Pull:
			if err := readableFile(&r.PullTokenFile, at.File, minTokenLen); err != nil {
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

// SendsSMPP reports whether the route's messages go to SMPP receivers too.
func (r *Route) SendsSMPP() bool { return r.SMPP == nil || *r.SMPP }

// Durable reports whether the route has a target served from the queue.
func (r *Route) Durable() bool { return r.HTTP != nil || r.Pull }

// readableFile resolves *path against the configuration file's directory
// and checks that it holds a secret of at least min bytes.
func readableFile(path *string, configFile string, min int) error {
	if *path == "" {
		return fmt.Errorf("a file is required")
	}
	if !filepath.IsAbs(*path) && configFile != "" {
		*path = filepath.Join(filepath.Dir(configFile), *path)
	}
	b, err := readSecret(*path)
	if err != nil {
		return err
	}
	if len(b) < min {
		return fmt.Errorf("%s holds %d bytes, want at least %d", *path, len(b), min)
	}
	return nil
}

// readSecret reads a secret file without its trailing newline.
func readSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return []byte(strings.TrimRight(string(b), "\r\n")), nil
}

// withDefaults fills the zero values.
func (h HTTPTarget) withDefaults() HTTPTarget {
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
