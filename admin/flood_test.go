package admin

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	promtest "github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/crypto/bcrypt"

	"github.com/smsfw/smsfw/internal/bcryptx"
)

func mustHash(t *testing.T, pw string, cost int) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), cost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func mustAuth(t *testing.T, users ...User) *authenticator {
	t.Helper()
	a, err := newAuthenticator(&AuthConfig{Users: users}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func login(a *authenticator, remote, user, pass string) string {
	r := httptest.NewRequest(http.MethodGet, "/api/v1/events", nil)
	r.RemoteAddr = remote
	r.SetBasicAuth(user, pass)
	_, res := a.authenticate(r)
	a.m.logins.WithLabelValues(res).Inc() // as Protect does
	return res
}

// A basic-auth flood without credentials: bcrypt runs at most cap(checks)
// at once, requests beyond wait briefly then get 503, and a source with
// too many failures is answered 429 without any check.
func TestLoginFloodBounded(t *testing.T) {
	a := mustAuth(t, User{Name: "alice", PasswordHash: mustHash(t, "pw", 6)})
	var running, peak atomic.Int32
	codes := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for c := 0; c < 32; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				n := running.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				res := login(a, fmt.Sprintf("192.0.2.%d:1234", c%4), "alice", fmt.Sprintf("guess-%d-%d", c, i)) // four sources
				running.Add(-1)
				mu.Lock()
				codes[res]++
				mu.Unlock()
			}
		}(c)
	}
	wg.Wait()
	if codes[loginOK] != 0 {
		t.Fatalf("answers %v", codes)
	}
	// Each of the four sources is locked out after loginFailures failures:
	// at most that many bcrypt checks per source ran.
	if n := a.checked.Load(); n > 4*loginFailures {
		t.Fatalf("%d bcrypt checks for 160 guesses from 4 sources (lockout after %d each); answers %v", n, loginFailures, codes)
	}
	if codes[loginLocked] == 0 {
		t.Fatalf("no source locked out: %v", codes)
	}
	if cap(a.checks) < 1 || cap(a.checks) > 64 {
		t.Fatalf("check slots %d", cap(a.checks))
	}
	for res, n := range codes {
		if v := promtest.ToFloat64(a.m.logins.WithLabelValues(res)); int(v) != n {
			t.Fatalf("smsfw_admin_logins_total{result=%q} %v, answered %d", res, v, n)
		}
	}
	if v := promtest.ToFloat64(a.m.lockouts); v > 4 {
		t.Fatalf("lockouts %v for 4 sources", v)
	}
	t.Logf("answers %v, %d bcrypt checks, %d slots", codes, a.checked.Load(), cap(a.checks))
}

// An unknown user name costs one bcrypt check at the configured users'
// highest cost, like a known one (names cannot be probed by timing): the
// dummy hash Protect's authenticator checks has that cost.
func TestUnknownUserCostsTheSame(t *testing.T) {
	cases := []struct {
		name  string
		costs []int
		want  int
	}{
		{"htpasswd default", []int{5}, 5},
		{"one cost", []int{7}, 7},
		{"mixed", []int{4, 6, 5}, 6},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var users []User
			for i, cost := range c.costs {
				users = append(users, User{Name: fmt.Sprintf("u%d", i), PasswordHash: mustHash(t, "pw", cost)})
			}
			a := mustAuth(t, users...)
			if cost, _ := bcryptx.Check(string(a.dummy)); cost != c.want {
				t.Fatalf("dummy cost %d, want %d", cost, c.want)
			}
			if res := login(a, "192.0.2.9:1", "mallory", "x"); res != loginFailed || a.checked.Load() != 1 {
				t.Fatalf("unknown user: result %s, %d checks", res, a.checked.Load())
			}
		})
	}
}

// A console hash of cost 31 (or any the peers' check refuses) is refused.
func TestUserHashChecked(t *testing.T) {
	bad := "$2a$31$" + mustHash(t, "pw", 4)[7:]
	if _, err := Protect(http.NotFoundHandler(), &AuthConfig{Users: []User{{Name: "a", PasswordHash: bad}}}, nil, nil, nil); err == nil {
		t.Fatal("cost 31 accepted")
	}
}

// A user who logs in between guesses at another user's password does not
// wipe the guesses: a good login forgets only failures for its own name.
// A user's own mistakes are forgiven by the next good login.
func TestOwnLoginDoesNotResetGuesses(t *testing.T) {
	cases := []struct {
		name        string
		guessUser   string
		wantChecked int // wrong passwords checked over 10 rounds of 9
		wantOwnOK   int // own logins accepted over the 10 rounds
		wantLocked  float64
	}{
		{"guesses at another user", "bob", loginFailures, 1, 1},
		{"own mistakes", "alice", 90, 10, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := mustAuth(t, User{Name: "alice", PasswordHash: mustHash(t, "a-pw", 4)},
				User{Name: "bob", PasswordHash: mustHash(t, "b-pw", 4)})
			const src = "192.0.2.5:4000"
			checked, own := 0, 0
			for round := 0; round < 10; round++ {
				for i := 0; i < loginFailures-1; i++ {
					switch res := login(a, src, c.guessUser, fmt.Sprintf("guess-%d-%d", round, i)); res {
					case loginFailed:
						checked++
					case loginLocked:
					default:
						t.Fatalf("round %d guess %d: %s", round, i, res)
					}
				}
				// A fresh password each round, so the cache does not answer.
				a.mu.Lock()
				clear(a.cache)
				a.mu.Unlock()
				if login(a, src, "alice", "a-pw") == loginOK {
					own++
				}
			}
			if checked != c.wantChecked || own != c.wantOwnOK {
				t.Fatalf("%d wrong passwords checked, %d own logins; want %d and %d", checked, own, c.wantChecked, c.wantOwnOK)
			}
			if v := promtest.ToFloat64(a.m.lockouts); v != c.wantLocked {
				t.Fatalf("lockouts %v, want %v", v, c.wantLocked)
			}
		})
	}
}

// Requests with the same credentials at once (the console's parallel API
// calls) cost one bcrypt check: the others wait for its result or find it
// remembered.
func TestSameCredentialsCheckedOnce(t *testing.T) {
	a := mustAuth(t, User{Name: "alice", PasswordHash: mustHash(t, "pw", 8)})
	var wg sync.WaitGroup
	start := make(chan struct{})
	var ok atomic.Int32
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if login(a, "192.0.2.7:1", "alice", "pw") == loginOK {
				ok.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	if ok.Load() != 8 || a.checked.Load() != 1 {
		t.Fatalf("%d of 8 logins accepted with %d bcrypt checks; want 8 with 1", ok.Load(), a.checked.Load())
	}
}

// A locked-out source gets no answers at all on passwords, not even from
// the cache of other clients' good logins or from their checks under way:
// else, while its guesses are no longer counted, a wrong one would get 429
// and the right one 200, and the lockout would become a free oracle.
func TestLockedSourceNotAnsweredFromCache(t *testing.T) {
	a := mustAuth(t, User{Name: "alice", PasswordHash: mustHash(t, "right", 4)})
	if res := login(a, "192.0.2.1:1000", "alice", "right"); res != loginOK { // alice works; her login is cached
		t.Fatalf("alice: %s", res)
	}
	const attacker = "192.0.2.9:2000"
	for i := 0; i < loginFailures; i++ {
		if res := login(a, attacker, "alice", fmt.Sprint("guess-", i)); res != loginFailed {
			t.Fatalf("guess %d: %s", i, res)
		}
	}
	checked := a.checked.Load()
	for _, pw := range []string{"wrong-1", "right", "wrong-2"} {
		if res := login(a, attacker, "alice", pw); res != loginLocked {
			t.Fatalf("%q from the locked-out source: %s, want %s", pw, res, loginLocked)
		}
	}
	// A check under way for the same credentials from elsewhere does not
	// answer the locked-out source either.
	a.mu.Lock()
	clear(a.cache)
	f := &flight{done: make(chan struct{}), res: loginOK}
	key := sha256.Sum256([]byte("alice\x00right\x00" + string(a.users["alice"])))
	a.flights[key] = f
	a.mu.Unlock()
	close(f.done)
	if res := login(a, attacker, "alice", "right"); res != loginLocked {
		t.Fatalf("joining a check under way while locked out: %s", res)
	}
	if n := a.checked.Load(); n != checked {
		t.Fatalf("%d bcrypt checks for a locked-out source", n-checked)
	}
	if res := login(a, "192.0.2.1:1001", "alice", "right"); res != loginOK {
		t.Fatalf("alice from her own address: %s", res)
	}
}
