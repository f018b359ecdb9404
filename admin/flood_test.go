package admin

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/smsfw/smsfw/internal/bcryptx"
)

// A basic-auth flood without credentials: bcrypt runs at most cap(checks)
// at once, requests beyond wait briefly then get 503, and a source with
// too many failures is answered 429 without any check.
func TestLoginFloodBounded(t *testing.T) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), 6)
	a := newAuthenticator()
	a.users = map[string][]byte{"alice": hash}
	a.dummy, _ = bcrypt.GenerateFromPassword([]byte("x"), 6)
	var running, peak atomic.Int32
	codes := map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for c := 0; c < 32; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				r := httptest.NewRequest(http.MethodGet, "/api/v1/events", nil)
				r.RemoteAddr = fmt.Sprintf("192.0.2.%d:1234", c%4) // four sources
				r.SetBasicAuth("alice", fmt.Sprintf("guess-%d-%d", c, i))
				n := running.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				_, res := a.authenticate(r)
				running.Add(-1)
				code := map[int]int{authFailed: 401, authBusy: 503, authLocked: 429, authOK: 200}[res]
				mu.Lock()
				codes[code]++
				mu.Unlock()
			}
		}(c)
	}
	wg.Wait()
	if codes[200] != 0 {
		t.Fatalf("answers %v", codes)
	}
	// Each of the four sources is locked out after loginFailures failures:
	// at most that many bcrypt checks per source ran.
	if n := a.checked.Load(); n > 4*loginFailures {
		t.Fatalf("%d bcrypt checks for 160 guesses from 4 sources (lockout after %d each); answers %v", n, loginFailures, codes)
	}
	if codes[429] == 0 {
		t.Fatalf("no source locked out: %v", codes)
	}
	if cap(a.checks) < 1 || cap(a.checks) > 64 {
		t.Fatalf("check slots %d", cap(a.checks))
	}
	t.Logf("answers %v, %d bcrypt checks, %d slots", codes, a.checked.Load(), cap(a.checks))
}

// An unknown user name costs one bcrypt check at the configured users'
// cost, like a known one (names cannot be probed by timing).
func TestUnknownUserCostsTheSame(t *testing.T) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), 5)
	h, err := Protect(http.NotFoundHandler(), &AuthConfig{Users: []User{{Name: "alice", PasswordHash: string(hash)}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = h
	a := newAuthenticator()
	a.users = map[string][]byte{"alice": hash}
	a.dummy, _ = bcrypt.GenerateFromPassword([]byte("no such user"), 5)
	if c, _ := bcryptx.Check(string(a.dummy)); c != 5 {
		t.Fatalf("dummy cost %d", c)
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "192.0.2.9:1"
	r.SetBasicAuth("mallory", "x")
	if _, res := a.authenticate(r); res != authFailed || a.checked.Load() != 1 {
		t.Fatalf("unknown user: result %d, %d checks", res, a.checked.Load())
	}
}

// A console hash of cost 31 (or any the peers' check refuses) is refused.
func TestUserHashChecked(t *testing.T) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), 4)
	bad := "$2a$31$" + string(hash[7:])
	if _, err := Protect(http.NotFoundHandler(), &AuthConfig{Users: []User{{Name: "a", PasswordHash: bad}}}, nil); err == nil {
		t.Fatal("cost 31 accepted")
	}
}
