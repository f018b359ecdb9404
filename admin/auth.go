package admin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/crypto/bcrypt"

	"github.com/smsfw/smsfw/internal/bcryptx"
	"github.com/smsfw/smsfw/internal/guard"
)

// AuthConfig is the admin_auth section of the configuration: API tokens
// (stored as their SHA-256, so the file never holds a usable secret) and
// console users (bcrypt password hashes).
type AuthConfig struct {
	Tokens []Token `yaml:"tokens"`
	Users  []User  `yaml:"users"`
}

// Token is an API client: `Authorization: Bearer <token>`.
type Token struct {
	Name        string `yaml:"name"`
	TokenSHA256 string `yaml:"token_sha256"` // hex SHA-256 of the token
	Role        string `yaml:"role"`         // metrics, viewer, analyst or admin (default)
}

// User is a console user: HTTP basic auth, bcrypt hash of the password.
type User struct {
	Name         string `yaml:"name"`
	PasswordHash string `yaml:"password_hash"`
	Role         string `yaml:"role"` // metrics, viewer, analyst or admin (default)
}

// Empty reports whether no credential is configured.
func (c *AuthConfig) Empty() bool { return c == nil || len(c.Tokens)+len(c.Users) == 0 }

// Sentinel errors.
var (
	// ErrInsecureAdmin: no credentials and a non-loopback admin address.
	ErrInsecureAdmin = errors.New("admin: the admin server listens on a non-loopback address and admin_auth has no tokens or users; configure admin_auth or listen on 127.0.0.1")
	// ErrBadCredential: a configured token hash or password hash is malformed.
	ErrBadCredential = errors.New("admin: bad credential")
)

// CheckToken validates a token_sha256 value (64 hex digits).
func CheckToken(h string) error {
	if b, err := hex.DecodeString(h); err != nil || len(b) != sha256.Size {
		return fmt.Errorf("%w: token_sha256 must be 64 hex digits (sha256sum of the token)", ErrBadCredential)
	}
	return nil
}

// LocalActor is the actor of unauthenticated requests on a loopback-only
// admin server (the demo).
const LocalActor = "local"

type actorKey struct{}

// probeKey marks an unauthenticated readiness probe (see Protect).
type probeKey struct{}

func anonymousProbe(ctx context.Context) bool {
	b, _ := ctx.Value(probeKey{}).(bool)
	return b
}

// Actor returns the authenticated name of the request's client ("" when the
// request did not pass through Protect).
func Actor(ctx context.Context) string {
	s, _ := ctx.Value(actorKey{}).(string)
	return s
}

// WithActor returns ctx carrying actor (for handlers mounted without
// Protect, and tests).
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// Protect wraps the admin handler h: authentication (unless the config is
// empty and addr is a loopback address) for everything but GET /healthz
// and an anonymous GET /readyz (status only),
// the caller's name in the request context (Actor), and protection against
// cross-site request forgery. The browser remembers basic-auth credentials
// and sends them with any request to this origin, so a page elsewhere could
// otherwise make an analyst's browser release messages; Go's
// CrossOriginProtection refuses cross-origin non-safe requests using the
// Sec-Fetch-Site and Origin headers browsers send, and lets non-browser
// clients (curl, smsfw events) through. m and log may be nil.
func Protect(h http.Handler, cfg *AuthConfig, addr net.Addr, m *Metrics, log *zap.Logger) (http.Handler, error) {
	a, err := newAuthenticator(cfg, addr, m, log)
	if err != nil {
		return nil, err
	}
	csrf := http.NewCrossOriginProtection()
	inner := csrf.Handler(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Liveness probes carry no credentials.
		get := r.Method == http.MethodGet || r.Method == http.MethodHead
		if r.URL.Path == "/healthz" && get {
			h.ServeHTTP(w, r)
			return
		}
		// Neither do readiness probes (the kubelet's, a load balancer's):
		// without credentials /readyz answers its status code and status
		// only, not the reason (which names peers and upstreams).
		if r.URL.Path == "/readyz" && get && !a.open && r.Header.Get("Authorization") == "" {
			h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), probeKey{}, true)))
			return
		}
		actor, res := a.authenticate(r)
		a.m.logins.WithLabelValues(res).Inc()
		switch res {
		case loginBusy:
			w.Header().Set("Retry-After", "1")
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "too many password checks at once; retry"})
			return
		case loginLocked:
			w.Header().Set("Retry-After", strconv.Itoa(int(loginLockout.Seconds())))
			writeJSON(w, http.StatusTooManyRequests, map[string]string{"error": "too many failed logins from this address; retry later"})
			return
		case loginFailed:
			w.Header().Set("WWW-Authenticate", `Basic realm="smsfw", charset="UTF-8"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "authentication required (Bearer token or basic auth)"})
			return
		}
		if role := a.role(actor); !allowed(role, r) {
			a.m.forbidden.Inc()
			writeJSON(w, http.StatusForbidden, map[string]string{
				"error": fmt.Sprintf("%s has the %s role; %s %s needs %s", actor, role, r.Method, r.URL.Path, needs(r))})
			return
		}
		inner.ServeHTTP(w, r.WithContext(WithActor(r.Context(), actor)))
	}), nil
}

type authenticator struct {
	open   bool
	tokens map[[32]byte]string // sha256(token) -> name
	users  map[string][]byte   // name -> bcrypt hash
	roles  map[string]Role     // name -> role
	dummy  []byte              // a hash at the users' highest cost, checked for unknown names
	m      *Metrics
	log    *zap.Logger

	// bcrypt checks run at most cap(checks) at once; a request that finds
	// no slot within checkWait is answered 503 at once. Failed logins are
	// counted per source: too many lock it out for loginLockout (429,
	// without a check), so neither a flood nor a guesser can take the
	// CPU from the relay.
	checks    chan struct{}
	fmu       sync.Mutex
	failed    map[netip.Prefix]*loginRecord
	checked   atomic.Int64 // bcrypt checks run (tests)
	lockedLog guard.SampledLog

	// bcrypt costs ~50-100 ms by design; the console makes several API
	// calls a page, each with basic auth. Successful checks are remembered
	// for a while by the SHA-256 of user and password (never the password),
	// and requests with the same credentials while one is being checked
	// wait for its result instead of running bcrypt again.
	mu      sync.Mutex
	cache   map[[32]byte]time.Time
	flights map[[32]byte]*flight
}

// flight is a password check under way; others with the same credentials
// wait for done and take res.
type flight struct {
	done chan struct{}
	res  string
}

const (
	authCacheTTL  = 5 * time.Minute
	authCacheSize = 1024

	checkWait     = 500 * time.Millisecond // for a bcrypt slot
	loginFailures = 10                     // failed logins from one source within loginWindow ...
	loginWindow   = time.Minute
	loginLockout  = 5 * time.Minute // ... lock it out this long
	maxSources    = 65536
)

// loginRecord is a source's failed logins: guard.Failures, with the user
// name as the name (one user cannot wipe guesses at another's password by
// logging in between them).
type loginRecord struct{ guard.Failures }

// newAuthenticator checks cfg and builds its authenticator: the one
// construction Protect and the tests use.
func newAuthenticator(cfg *AuthConfig, addr net.Addr, m *Metrics, log *zap.Logger) (*authenticator, error) {
	if m == nil {
		m = NewMetrics(nil)
	}
	if log == nil {
		log = zap.NewNop()
	}
	a := &authenticator{m: m, log: log.Named("admin"), cache: map[[32]byte]time.Time{}, flights: map[[32]byte]*flight{},
		checks: make(chan struct{}, max(runtime.NumCPU()/2, 1)), failed: map[netip.Prefix]*loginRecord{}}
	if cfg.Empty() {
		if !isLoopback(addr) {
			return nil, ErrInsecureAdmin
		}
		a.open = true
		return a, nil
	}
	a.tokens = map[[32]byte]string{}
	a.roles = map[string]Role{}
	for _, t := range cfg.Tokens {
		if err := CheckToken(t.TokenSHA256); err != nil {
			return nil, fmt.Errorf("token %q: %w", t.Name, err)
		}
		role, err := roleOf(t.Role)
		if err != nil {
			return nil, fmt.Errorf("token %q: %w: %w", t.Name, ErrBadCredential, err)
		}
		a.roles[t.Name] = role
		var k [32]byte
		_, _ = hex.Decode(k[:], []byte(strings.ToLower(t.TokenSHA256)))
		a.tokens[k] = t.Name
	}
	a.users = map[string][]byte{}
	dummyCost := 0
	for _, u := range cfg.Users {
		c, err := bcryptx.Check(u.PasswordHash) // the peers' check: prefix, length, cost 4 to 14
		if err != nil {
			return nil, fmt.Errorf("user %q: %w: password_hash: %w", u.Name, ErrBadCredential, err)
		}
		a.users[u.Name] = []byte(u.PasswordHash)
		role, err := roleOf(u.Role)
		if err != nil {
			return nil, fmt.Errorf("user %q: %w: %w", u.Name, ErrBadCredential, err)
		}
		a.roles[u.Name] = role
		dummyCost = max(dummyCost, c)
	}
	if len(cfg.Users) > 0 {
		// An unknown user costs what a known one does: user names cannot
		// be told apart by timing (when the users share one cost; see
		// SECURITY.md).
		var err error
		if a.dummy, err = bcrypt.GenerateFromPassword([]byte("no such user"), dummyCost); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// authenticate returns the request's actor and a login result.
func (a *authenticator) authenticate(r *http.Request) (string, string) {
	if a.open {
		// Protect refused a non-loopback listener; checking the peer as
		// well guards against a proxy in front relaying remote clients, and
		// checking Host against DNS rebinding (a hostile page whose name
		// resolves to 127.0.0.1 would otherwise be same-origin).
		if isLoopbackRemote(r.RemoteAddr) && isLoopbackHost(r.Host) {
			return LocalActor, loginOK
		}
		return "", loginFailed
	}
	h := r.Header.Get("Authorization")
	if tok, ok := strings.CutPrefix(h, "Bearer "); ok {
		sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
		// Map lookup by hash: the hash of a guess reveals nothing through
		// timing about the configured tokens' preimages.
		if name, ok := a.tokens[sum]; ok {
			return name, loginOK
		}
		return "", loginFailed
	}
	user, pass, ok := r.BasicAuth()
	if !ok {
		return "", loginFailed
	}
	hash, known := a.users[user]
	key := sha256.Sum256([]byte(user + "\x00" + pass + "\x00" + string(hash)))
	now := time.Now()
	src := guard.SourceOf(r.RemoteAddr)
	// A locked-out source gets no answer on any password, not even from
	// the cache or another client's check under way: its guesses are no
	// longer counted, so 429 for a wrong one and 200 for the right one
	// would be a free oracle.
	if a.lockedOut(src, now) {
		return "", loginLocked
	}
	a.mu.Lock()
	if exp, hit := a.cache[key]; known && hit && now.Before(exp) {
		a.mu.Unlock()
		return user, loginOK
	}
	if f := a.flights[key]; f != nil {
		a.mu.Unlock()
		select {
		case <-f.done:
		case <-r.Context().Done():
			return "", loginBusy
		}
		if f.res == loginOK {
			return user, loginOK
		}
		return "", f.res
	}
	f := &flight{done: make(chan struct{})}
	a.flights[key] = f
	a.mu.Unlock()

	f.res = a.check(src, user, pass, hash, known, now)
	a.mu.Lock()
	delete(a.flights, key)
	if f.res == loginOK {
		if len(a.cache) >= authCacheSize {
			clear(a.cache)
		}
		a.cache[key] = now.Add(authCacheTTL)
	}
	a.mu.Unlock()
	close(f.done)
	if f.res == loginOK {
		return user, loginOK
	}
	return "", f.res
}

// check runs one password check for src: reserved against the source's
// failures, within the bcrypt bound, and counted.
func (a *authenticator) check(src netip.Prefix, user, pass string, hash []byte, known bool, now time.Time) string {
	if !a.reserve(src, now) {
		return loginLocked
	}
	if !known {
		hash = a.dummy // the same time as for a known user
	}
	match, ran := a.compare(hash, pass)
	failed := ran && (!known || !match)
	a.settle(src, time.Now(), ran, failed, user)
	switch {
	case !ran:
		return loginBusy
	case failed:
		return loginFailed
	}
	return loginOK
}

// compare runs one bcrypt comparison within the concurrency bound; ran is
// false when no slot came within checkWait.
func (a *authenticator) compare(hash []byte, pass string) (match, ran bool) {
	t := time.NewTimer(checkWait)
	defer t.Stop()
	select {
	case a.checks <- struct{}{}:
	case <-t.C:
		return false, false
	}
	a.checked.Add(1)
	err := bcrypt.CompareHashAndPassword(hash, []byte(pass))
	<-a.checks
	return err == nil, true
}

// reserve admits a password check from src unless it is locked out or its
// failures plus checks under way reach the limit (so concurrent guesses
// cannot exceed it).
func (a *authenticator) reserve(src netip.Prefix, now time.Time) bool {
	ns := now.UnixNano()
	a.fmu.Lock()
	defer a.fmu.Unlock()
	f := a.record(src, ns)
	if f == nil {
		return false // table full of lockouts: refuse rather than track nothing
	}
	if f.Locked(ns) || f.Full(ns, loginWindow, loginFailures) {
		return false
	}
	f.Inflight++
	return true
}

// settle ends a check reserve admitted: a failure counts, a success
// forgets the source's failures if they were all for user, a check that
// did not run (busy) only gives the reservation back.
func (a *authenticator) settle(src netip.Prefix, now time.Time, ran, failed bool, user string) {
	ns := now.UnixNano()
	a.fmu.Lock()
	f := a.failed[src]
	if f == nil {
		a.fmu.Unlock()
		return
	}
	f.Inflight--
	if !ran {
		a.fmu.Unlock()
		return
	}
	if !failed {
		f.Succeeded(user, ns, loginWindow)
		if f.N == 0 && f.Inflight == 0 && f.Until <= ns {
			delete(a.failed, src)
		}
		a.fmu.Unlock()
		return
	}
	locked := f.Fail(user, ns, loginWindow, loginLockout, loginFailures)
	a.fmu.Unlock()
	if locked {
		a.m.lockouts.Inc()
		if n, ok := a.lockedLog.Tick(10 * time.Second); ok {
			a.log.Warn("admin login lockout begins", zap.Stringer("source", src),
				zap.Duration("for", loginLockout), zap.Int64("lockouts", n))
		}
	}
}

// lockedOut reports whether src is locked out now.
func (a *authenticator) lockedOut(src netip.Prefix, now time.Time) bool {
	a.fmu.Lock()
	defer a.fmu.Unlock()
	f := a.failed[src]
	return f != nil && f.Until > now.UnixNano()
}

// record returns src's entry, made if needed (nil when the table is full
// of entries that cannot go).
func (a *authenticator) record(src netip.Prefix, ns int64) *loginRecord {
	f := a.failed[src]
	if f == nil {
		if len(a.failed) >= maxSources {
			for k, v := range a.failed {
				if v.Until <= ns && v.Inflight == 0 {
					delete(a.failed, k)
				}
			}
			if len(a.failed) >= maxSources {
				return nil
			}
		}
		f = &loginRecord{guard.Failures{First: ns}}
		a.failed[src] = f
	}
	return f
}

func isLoopback(addr net.Addr) bool {
	if addr == nil {
		return false
	}
	return isLoopbackRemote(addr.String())
}

func isLoopbackRemote(hostport string) bool {
	ap, err := netip.ParseAddrPort(hostport)
	if err != nil {
		return false
	}
	return ap.Addr().Unmap().IsLoopback()
}

func isLoopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}
