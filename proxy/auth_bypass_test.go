package proxy

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	promtest "github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"

	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/sim"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// A source that holds one valid account cannot wipe its guesses at
// another by binding with its own between them: a success forgets only
// failures made for its own system_id. A peer's own mistakes are still
// forgiven by its next good bind.
func TestOwnBindDoesNotResetGuesses(t *testing.T) {
	cases := []struct {
		name         string
		passThrough  bool
		guessID      string // the system_id the wrong passwords are for
		ownID, ownPW string // a bind that succeeds between rounds
		wantGuesses  int    // wrong passwords checked (0x0E) over 10 rounds of 4
		wantOwnOK    int    // own binds accepted over the 10 rounds
	}{
		{"pass-through, guesses at another account", true, "victim", "mine", "pw", 5, 1},
		{"pass-through, own mistakes", true, "mine", "mine", "pw", 40, 10},
		{"config mode, guesses at another peer", false, "acme", "plain", "pw2", 5, 1},
		{"config mode, own mistakes", false, "plain", "plain", "pw2", 40, 10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			auth := AuthConfig{SourceLockout: LockoutConfig{Failures: 5}, SystemIDLockout: LockoutConfig{Disabled: true}}
			var e *env
			if c.passThrough {
				e = start(t, sim.Config{Accounts: map[string]string{"mine": "pw", "victim": "secret"}},
					&Config{Auth: auth}, nil)
			} else {
				e = start(t, sim.Config{}, hashedPeer(t, auth, 0), nil)
				e.waitReady()
			}
			guesses, own := 0, 0
			for round := 0; round < 10; round++ {
				for i := 0; i < 4; i++ {
					switch st := bindStatus(t, e, c.guessID, "wrong"); st {
					case pdu.StatusInvPaswd:
						guesses++
					case pdu.StatusBindFail: // locked out
					default:
						t.Fatalf("round %d guess %d: %v", round, i, st)
					}
				}
				switch st := bindStatus(t, e, c.ownID, c.ownPW); st {
				case pdu.StatusOK:
					own++
				case pdu.StatusBindFail:
				default:
					t.Fatalf("round %d own bind: %v", round, st)
				}
			}
			if guesses != c.wantGuesses || own != c.wantOwnOK {
				t.Fatalf("%d wrong passwords checked, %d own binds accepted; want %d and %d",
					guesses, own, c.wantGuesses, c.wantOwnOK)
			}
		})
	}
}

// A right password whose check is under way when the source gets locked
// out (by failures that take no reservation: unknown system_ids) is
// refused 0x0D, not bound.
func TestLockedOutDuringCheckRefused(t *testing.T) {
	// The check is held until the source is locked out: on a busy machine
	// a real bcrypt check could end before the failures come in.
	release := make(chan struct{})
	compareHash = func(hash, pw []byte) error {
		<-release
		return bcrypt.CompareHashAndPassword(hash, pw)
	}
	t.Cleanup(func() { compareHash = bcrypt.CompareHashAndPassword })
	h, err := HashPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &Config{Auth: AuthConfig{SourceLockout: LockoutConfig{Failures: 5}}, Upstreams: map[string]*Upstream{"smsc": {}},
		Peers: []*Peer{{SystemID: "acme", PasswordHash: h}}}
	mustValidate(t, cfg)
	e := start(t, sim.Config{}, cfg, nil)
	e.waitReady()
	res := make(chan pdu.Status, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cl, err := esme.Dial(ctx, e.addr, esme.Options{SystemID: "acme", Password: "pw"})
		if err == nil {
			cl.Close()
			res <- pdu.StatusOK
			return
		}
		var be *esme.BindError
		if errors.As(err, &be) {
			res <- be.Status
			return
		}
		res <- 0xFFFFFFFF
	}()
	testutil.Eventually(t, 10*time.Second, "the password check runs", func() bool { return e.srv.auth.checking.Load() == 1 })
	for i := 0; i < 5; i++ {
		if st := bindStatus(t, e, "nobody", "x"); st != pdu.StatusInvSysID {
			close(release)
			t.Fatalf("unknown system_id %d: %v", i, st)
		}
	}
	close(release)
	select {
	case st := <-res:
		if st != pdu.StatusBindFail {
			t.Fatalf("right password from a source locked out during its check: %v, want 0x0D", st)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no answer to the bind")
	}
	if v := promtest.ToFloat64(e.m.lockedBinds.WithLabelValues(scopeSource)); v != 1 {
		t.Fatalf("locked_out binds %v", v)
	}
}

// With the table full of locked-out sources, new sources are not tracked
// (counted), but the system_id lockout still counts their guesses.
func TestLockoutTableFullKeepsSystemIDLockout(t *testing.T) {
	m := NewMetrics(nil)
	a := newAuthenticator(AuthConfig{MaxConcurrentChecks: 1, MaxTracked: 4,
		SourceLockout:   LockoutConfig{Failures: 1, Window: time.Minute, Duration: time.Hour},
		SystemIDLockout: LockoutConfig{Failures: 3, Window: time.Minute, Duration: time.Hour}}, nil, m, zap.NewNop())
	for i := 0; i < 4; i++ {
		a.failed(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), nil, "")
	}
	peer := &Peer{Name: "acme"}
	for i := 0; i < 3; i++ {
		src := netip.AddrFrom4([4]byte{10, 1, 0, byte(i)})
		if r, _ := a.admit(src, peer); r != admitOK {
			t.Fatalf("guess %d not admitted: %d", i, r)
		}
		a.settle(src, peer, "acme", guessFailed)
	}
	locked, scope := a.lockedOut(netip.AddrFrom4([4]byte{10, 2, 0, 0}), peer)
	if !locked || scope != scopeSystemID {
		t.Fatalf("system_id not locked out after 3 failures with a full table: %v %q", locked, scope)
	}
	if v := promtest.ToFloat64(m.lockUntracked); v < 3 {
		t.Fatalf("untracked sources counted %v", v)
	}
	for i := 0; i < 4; i++ {
		if locked, _ := a.lockedOut(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), nil); !locked {
			t.Fatalf("active lockout %d evicted", i)
		}
	}
}

// A delivery that comes while a session has registered but its bind is
// not answered yet does not reach the peer before the bind_resp: it goes
// to another session, or back to the SMSC as a temporary refusal.
func TestNoDeliveryBeforeBindResp(t *testing.T) {
	hooked, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	boundHook = func() {
		once.Do(func() { close(hooked) })
		<-release
	}
	t.Cleanup(func() { boundHook = nil })
	releaseOnce := sync.OnceFunc(func() { close(release) })
	defer releaseOnce()
	cfg := &Config{Upstreams: map[string]*Upstream{"smsc": {}}, Peers: []*Peer{{SystemID: "acme", Password: "pw"}}}
	mustValidate(t, cfg)
	e := start(t, sim.Config{}, cfg, nil)
	e.waitReady()
	nc, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	answers, _ := readAll(nc)
	if _, err := nc.Write(pdu.AppendBind(nil, pdu.BindTransceiver, 1, pdu.BindFields{SystemID: "acme", Password: "pw"})); err != nil {
		t.Fatal(err)
	}
	select {
	case <-hooked:
	case <-time.After(10 * time.Second):
		t.Fatal("the session never registered")
	}
	mo := make(chan pdu.Status, 1)
	go func() {
		st, _ := e.sim.InjectMO(context.Background(), sim.MO{From: "491", To: "12345", Text: "hello"})
		mo <- st
	}()
	select {
	case a := <-answers:
		t.Fatalf("the peer got %+v before its bind_resp", a)
	case st := <-mo:
		if st != pdu.StatusXTAppn {
			t.Fatalf("the SMSC's delivery answered %v, want 0x64 (no receiver yet)", st)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the delivery was neither sent nor answered")
	}
	releaseOnce()
	if a := <-answers; a.id != pdu.BindTransceiverResp || a.st != 0 {
		t.Fatalf("first PDU to the peer %+v, want bind_transceiver_resp", a)
	}
}
