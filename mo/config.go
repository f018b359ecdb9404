package mo

import (
	"fmt"
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

var routeName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// Validate checks the section at at; every problem is returned at its
// key's line. Relative secret and token files are resolved against the
// configuration file's directory.
func (rs Routes) Validate(at yamlx.At) error {
	probs := at.Problems(": ")
	names := map[string]bool{}
	for i := range rs {
		r := &rs[i]
		fail := probs.In(fmt.Sprintf("[%d]", i)).Add
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
			h.Check(key, func(path *string) error { return ResolveSecret(path, at.File, 1) }, fail)
		}
		r.Email.Check("email", fail)
		if p := r.Reply; p != nil {
			p.Check("reply", false, fail)
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
	return probs.Err()
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
