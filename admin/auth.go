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
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
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
}

// User is a console user: HTTP basic auth, bcrypt hash of the password.
type User struct {
	Name         string `yaml:"name"`
	PasswordHash string `yaml:"password_hash"`
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

// CheckPasswordHash validates a bcrypt hash.
func CheckPasswordHash(h string) error {
	if _, err := bcrypt.Cost([]byte(h)); err != nil {
		return fmt.Errorf("%w: password_hash is not a bcrypt hash (%v)", ErrBadCredential, err)
	}
	return nil
}

// LocalActor is the actor of unauthenticated requests on a loopback-only
// admin server (the demo).
const LocalActor = "local"

type actorKey struct{}

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
// empty and addr is a loopback address) for everything but GET /healthz,
// the caller's name in the request context (Actor), and protection against
// cross-site request forgery. The browser remembers basic-auth credentials
// and sends them with any request to this origin, so a page elsewhere could
// otherwise make an analyst's browser release messages; Go's
// CrossOriginProtection refuses cross-origin non-safe requests using the
// Sec-Fetch-Site and Origin headers browsers send, and lets non-browser
// clients (curl, smsfw events) through.
func Protect(h http.Handler, cfg *AuthConfig, addr net.Addr) (http.Handler, error) {
	a := &authenticator{cache: map[[32]byte]time.Time{}}
	if cfg.Empty() {
		if !isLoopback(addr) {
			return nil, ErrInsecureAdmin
		}
		a.open = true
	} else {
		a.tokens = map[[32]byte]string{}
		for _, t := range cfg.Tokens {
			if err := CheckToken(t.TokenSHA256); err != nil {
				return nil, fmt.Errorf("token %q: %w", t.Name, err)
			}
			var k [32]byte
			_, _ = hex.Decode(k[:], []byte(strings.ToLower(t.TokenSHA256)))
			a.tokens[k] = t.Name
		}
		a.users = map[string][]byte{}
		for _, u := range cfg.Users {
			if err := CheckPasswordHash(u.PasswordHash); err != nil {
				return nil, fmt.Errorf("user %q: %w", u.Name, err)
			}
			a.users[u.Name] = []byte(u.PasswordHash)
		}
	}
	csrf := http.NewCrossOriginProtection()
	inner := csrf.Handler(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Liveness probes carry no credentials.
		if r.URL.Path == "/healthz" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			h.ServeHTTP(w, r)
			return
		}
		actor, ok := a.authenticate(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="smsfw", charset="UTF-8"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "authentication required (Bearer token or basic auth)"})
			return
		}
		inner.ServeHTTP(w, r.WithContext(WithActor(r.Context(), actor)))
	}), nil
}

type authenticator struct {
	open   bool
	tokens map[[32]byte]string // sha256(token) -> name
	users  map[string][]byte   // name -> bcrypt hash

	// bcrypt costs ~50-100 ms by design; the console makes several API
	// calls a page, each with basic auth. Successful checks are remembered
	// for a while by the SHA-256 of user and password (never the password).
	mu    sync.Mutex
	cache map[[32]byte]time.Time
}

const (
	authCacheTTL  = 5 * time.Minute
	authCacheSize = 1024
)

func (a *authenticator) authenticate(r *http.Request) (string, bool) {
	if a.open {
		// Protect refused a non-loopback listener; checking the peer as
		// well guards against a proxy in front relaying remote clients, and
		// checking Host against DNS rebinding (a hostile page whose name
		// resolves to 127.0.0.1 would otherwise be same-origin).
		return LocalActor, isLoopbackRemote(r.RemoteAddr) && isLoopbackHost(r.Host)
	}
	h := r.Header.Get("Authorization")
	if tok, ok := strings.CutPrefix(h, "Bearer "); ok {
		sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
		// Map lookup by hash: the hash of a guess reveals nothing through
		// timing about the configured tokens' preimages.
		name, ok := a.tokens[sum]
		return name, ok
	}
	user, pass, ok := r.BasicAuth()
	if !ok {
		return "", false
	}
	hash, known := a.users[user]
	if !known {
		// Spend the same time as for a known user, so user names cannot be
		// probed by timing.
		_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(pass))
		return "", false
	}
	key := sha256.Sum256([]byte(user + "\x00" + pass + "\x00" + string(hash)))
	now := time.Now()
	a.mu.Lock()
	exp, hit := a.cache[key]
	a.mu.Unlock()
	if hit && now.Before(exp) {
		return user, true
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(pass)) != nil {
		return "", false
	}
	a.mu.Lock()
	if len(a.cache) >= authCacheSize {
		clear(a.cache)
	}
	a.cache[key] = now.Add(authCacheTTL)
	a.mu.Unlock()
	return user, true
}

// dummyHash is a bcrypt hash at the default cost, made on first use.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("no such user"), bcrypt.DefaultCost)
	return h
})

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
