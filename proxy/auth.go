package proxy

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smsfw/smsfw/internal/bcryptx"
	"github.com/smsfw/smsfw/internal/guard"
	"go.uber.org/zap"
	"golang.org/x/crypto/bcrypt"
)

// Password hashing limits: below MinCost bcrypt refuses; above maxHashCost
// one bind would cost seconds of CPU.
const (
	// DefaultHashCost is the bcrypt cost smsfw passwd uses (~60 ms a check on
	// a current core).
	DefaultHashCost = 10
	maxHashCost     = bcryptx.MaxCost
	// MaxPasswordLen is the longest SMPP password (a 9-octet C-string).
	MaxPasswordLen = 8
)

// Errors of password hashing and hash validation.
var (
	ErrNotBcrypt       = bcryptx.ErrNotBcrypt
	ErrHashCost        = bcryptx.ErrCost
	ErrPasswordTooLong = fmt.Errorf("password longer than %d characters (SMPP limit)", MaxPasswordLen)
	ErrPasswordEmpty   = errors.New("empty password")
)

// HashPassword returns the bcrypt hash of an SMPP password for a peer's
// password_hash (cost 0: DefaultHashCost).
func HashPassword(password []byte, cost int) (string, error) {
	switch {
	case len(password) == 0:
		return "", ErrPasswordEmpty
	case len(password) > MaxPasswordLen:
		return "", ErrPasswordTooLong
	}
	if cost == 0 {
		cost = DefaultHashCost
	}
	if cost < bcrypt.MinCost || cost > maxHashCost {
		return "", ErrHashCost
	}
	h, err := bcrypt.GenerateFromPassword(password, cost)
	if err != nil {
		return "", err
	}
	return string(h), nil
}

// Lockout is a lockout that just began. Source is the address block the
// failed binds came from (/32 for IPv4, /64 for IPv6); Peer is set instead
// for a lockout of a configured peer's system_id.
type Lockout struct {
	Source netip.Prefix
	Peer   string
	Until  time.Time
}

// LockoutObserver is told of every lockout as it begins (a future eBPF ban
// list, an alerting hook). LockedOut is called on the bind path of the
// connection that caused it: it must return quickly and must not block.
type LockoutObserver interface {
	LockedOut(Lockout)
}

// Lockout scopes (the scope label).
const (
	scopeSource   = "source"
	scopeSystemID = "system_id"
)

// authResult of a password check.
type authResult uint8

const (
	authOK authResult = iota
	authMismatch
	authBusy // no bcrypt slot within check_wait
)

// authenticator checks peer passwords with bounded bcrypt concurrency and
// tracks failed binds per source and per configured system_id.
type authenticator struct {
	obs LockoutObserver
	m   *Metrics
	log *zap.Logger

	mu      sync.Mutex
	sem     chan struct{} // replaced by a reload; a check releases the one it took
	wait    time.Duration
	cfg     [2]LockoutConfig // [scope]: 0 source, 1 system_id
	max     int              // source entries at most (system_id entries are bounded by the peers)
	sources int              // source entries now
	entries map[lockKey]*lockEntry
	swept   int64
	now     func() time.Time

	checking, peak atomic.Int32     // bcrypt checks running now, and at most so far
	fullLog        guard.SampledLog // "lockout table full" logs
}

type lockKey struct {
	source netip.Prefix // scope source
	peer   string       // scope system_id (configured peers only)
}

func (k lockKey) scope() int {
	if k.peer != "" {
		return 1
	}
	return 0
}

// lockEntry is a key's failures: guard.Failures, with the system_id as
// the name (a source that binds with one account cannot wipe the guesses
// it made at another's).
type lockEntry struct{ guard.Failures }

// Results of admit.
const (
	admitOK     = iota
	admitLocked // the source or system_id is locked out
	admitBusy   // failures plus guesses under way stayed at the limit for check_wait
)

// admit reserves a guess: a bind whose password will be checked (by smsfw
// or, in pass-through mode, by the SMSC). Failures plus guesses under way
// never exceed a lockout's threshold, so concurrent binds cannot put more
// guesses through than the lockout allows; a bind over it waits up to
// check_wait for one under way to end (legitimate pools binding at once
// are serialised, not refused). Each admitted bind must call settle.
func (a *authenticator) admit(remote netip.Addr, peer *Peer) (int, string) {
	_, wait := a.limits()
	deadline := a.now().Add(wait)
	for {
		r, scope := a.tryAdmit(remote, peer)
		if r != admitBusy || !a.now().Before(deadline) {
			if r == admitLocked {
				a.m.lockedBinds.WithLabelValues(scope).Inc()
			}
			return r, scope
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (a *authenticator) tryAdmit(remote netip.Addr, peer *Peer) (int, string) {
	now := a.now().UnixNano()
	a.mu.Lock()
	defer a.mu.Unlock()
	keys := a.keys(remote, peer)
	for _, k := range keys {
		e := a.entries[k]
		if e == nil {
			continue
		}
		scope := scopeSource
		if k.scope() == 1 {
			scope = scopeSystemID
		}
		if e.Locked(now) {
			return admitLocked, scope
		}
		if cfg := a.cfg[k.scope()]; e.Full(now, cfg.Window, cfg.Failures) {
			return admitBusy, scope
		}
	}
	for _, k := range keys {
		if e := a.entry(k, now); e != nil {
			e.Inflight++
		}
	}
	return admitOK, ""
}

// entry returns k's entry, made if needed; nil when the table is full of
// sources that cannot go (active lockouts, guesses under way). System_id
// keys always get one: there are only as many as configured peers, and a
// flood of sources must not stop the system_id lockout from counting.
// The caller holds mu.
func (a *authenticator) entry(k lockKey, now int64) *lockEntry {
	if e := a.entries[k]; e != nil {
		return e
	}
	if k.peer == "" && a.sources >= a.max && !a.makeRoom(now) {
		a.m.lockUntracked.Inc()
		if n, ok := a.fullLog.Tick(10 * time.Second); ok {
			a.log.Warn("lockout table full of active lockouts; sources not tracked",
				zap.Stringer("source", k.source), zap.Int("max_tracked", a.max), zap.Int64("count", n))
		}
		return nil
	}
	e := &lockEntry{guard.Failures{First: now}}
	a.entries[k] = e
	if k.peer == "" {
		a.sources++
	}
	return e
}

// forget deletes k's entry. The caller holds mu.
func (a *authenticator) forget(k lockKey) {
	if _, ok := a.entries[k]; ok && k.peer == "" {
		a.sources--
	}
	delete(a.entries, k)
}

// Outcomes of an admitted guess.
const (
	guessUnchecked = iota // no answer on the password (busy, SMSC unreachable)
	guessFailed
	guessOK
)

// settle ends an admitted guess for system_id id: a failure counts
// toward the lockouts, a success forgets the source's failures if they
// were all for id, an unchecked guess only gives its reservation back.
// For a success it reports whether the bind may complete: false when the
// source or system_id was locked out while the password was being checked
// (by failures that took no reservation, such as unknown system_ids), so a
// right password is never accepted from a locked-out source.
func (a *authenticator) settle(remote netip.Addr, peer *Peer, id string, outcome int) bool {
	now := a.now().UnixNano()
	var begun []Lockout
	ok, scope := true, ""
	a.mu.Lock()
	keys := a.keys(remote, peer)
	for _, k := range keys {
		if e := a.entries[k]; e != nil && e.Inflight > 0 {
			e.Inflight--
		}
	}
	switch outcome {
	case guessFailed:
		// In the same critical section as the release: a bind admitted
		// in between would see neither this guess nor its failure.
		begun = a.failedLocked(remote, peer, id, a.now())
	case guessOK:
		for _, k := range keys {
			if e := a.entries[k]; e != nil && e.Until > now {
				ok, scope = false, scopeSource
				if k.scope() == 1 {
					scope = scopeSystemID
				}
			}
		}
		if ok {
			a.succeededLocked(keys, id, now)
		}
	}
	a.mu.Unlock()
	a.announce(begun)
	if !ok {
		a.m.lockedBinds.WithLabelValues(scope).Inc()
	}
	return ok
}

func newAuthenticator(a AuthConfig, obs LockoutObserver, m *Metrics, log *zap.Logger) *authenticator {
	x := &authenticator{obs: obs, m: m, log: log.Named("auth"), entries: map[lockKey]*lockEntry{}, now: time.Now}
	x.update(a)
	return x
}

// update applies auth settings (a reload): lockout thresholds apply to the
// next failure, the check bound to the next check. Failures counted so far
// and lockouts under way are kept.
func (a *authenticator) update(c AuthConfig) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.sem == nil || cap(a.sem) != c.MaxConcurrentChecks {
		a.sem = make(chan struct{}, c.MaxConcurrentChecks)
	}
	a.wait, a.cfg, a.max = c.CheckWait, [2]LockoutConfig{c.SourceLockout, c.SystemIDLockout}, c.MaxTracked
}

// limits are the bcrypt bound and check_wait now.
func (a *authenticator) limits() (chan struct{}, time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sem, a.wait
}

// sourceKey is the lockout key of a source address (guard.Source).
func sourceKey(a netip.Addr) lockKey { return lockKey{source: guard.Source(a)} }

func (a *authenticator) keys(remote netip.Addr, peer *Peer) []lockKey {
	ks := make([]lockKey, 0, 2)
	if !a.cfg[0].Disabled && remote.IsValid() {
		ks = append(ks, sourceKey(remote))
	}
	if !a.cfg[1].Disabled && peer != nil {
		ks = append(ks, lockKey{peer: peer.Name})
	}
	return ks
}

// lockedOut reports whether the source or the peer's system_id is locked
// out, and which scope.
func (a *authenticator) lockedOut(remote netip.Addr, peer *Peer) (bool, string) {
	now := a.now().UnixNano()
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, k := range a.keys(remote, peer) {
		if e := a.entries[k]; e != nil && e.Until > now {
			scope := scopeSource
			if k.scope() == 1 {
				scope = scopeSystemID
			}
			a.m.lockedBinds.WithLabelValues(scope).Inc()
			return true, scope
		}
	}
	return false, ""
}

// failed records a failed bind that took no reservation (unknown
// system_id, source outside allowed_cidrs); id is the system_id tried.
func (a *authenticator) failed(remote netip.Addr, peer *Peer, id string) {
	a.mu.Lock()
	begun := a.failedLocked(remote, peer, id, a.now())
	a.mu.Unlock()
	a.announce(begun)
}

// failedLocked counts a failure; the caller holds mu and announces the
// lockouts that began.
func (a *authenticator) failedLocked(remote netip.Addr, peer *Peer, id string, now time.Time) []Lockout {
	ns := now.UnixNano()
	var begun []Lockout
	for _, k := range a.keys(remote, peer) {
		cfg := a.cfg[k.scope()]
		e := a.entry(k, ns)
		if e == nil || e.Locked(ns) {
			continue // not tracked (table full), or already locked out
		}
		if e.Fail(id, ns, cfg.Window, cfg.Duration, cfg.Failures) {
			begun = append(begun, Lockout{Source: k.source, Peer: k.peer, Until: time.Unix(0, e.Until)})
		}
	}
	return begun
}

// announce counts, logs and reports lockouts that began.
func (a *authenticator) announce(begun []Lockout) {
	for _, l := range begun {
		scope := scopeSource
		if l.Peer != "" {
			scope = scopeSystemID
		}
		a.m.lockouts.WithLabelValues(scope).Inc()
		key := zap.String("peer", l.Peer)
		if scope == scopeSource {
			key = zap.Stringer("source", l.Source)
		}
		a.log.Warn("bind lockout begins", zap.String("scope", scope), key, zap.Time("until", l.Until))
		if a.obs != nil {
			a.obs.LockedOut(l)
		}
	}
}

// makeRoom frees a source slot in a full table: entries neither locked,
// counting nor in use are swept (at most once a second); otherwise one
// unlocked source entry without guesses under way goes. False when none
// can. The caller holds mu.
func (a *authenticator) makeRoom(now int64) bool {
	if now-a.swept > int64(time.Second) {
		a.swept = now
		for k, e := range a.entries {
			if e.Until <= now && e.Inflight == 0 && now-e.First > int64(a.cfg[k.scope()].Window) {
				a.forget(k)
			}
		}
		if a.sources < a.max {
			return true
		}
	}
	checked := 0
	for k, e := range a.entries {
		if k.peer == "" && e.Until <= now && e.Inflight == 0 {
			a.forget(k)
			return true
		}
		if checked++; checked >= 64 {
			break
		}
	}
	return false
}

// succeededLocked ends what a successful bind for id clears: the source's
// failures when they were all for id (those of the system_id stay: they
// may come from elsewhere), and entries that no longer carry anything.
// The caller holds mu.
func (a *authenticator) succeededLocked(keys []lockKey, id string, now int64) {
	for _, k := range keys {
		e := a.entries[k]
		if e == nil || e.Locked(now) {
			continue
		}
		window := a.cfg[k.scope()].Window
		stale := now-e.First > int64(window)
		if k.peer == "" {
			e.Succeeded(id, now, window)
		}
		if e.Inflight == 0 && (e.N == 0 || stale) {
			a.forget(k) // it carries nothing: the table stays small
		}
	}
}

// compareHash is bcrypt's check; tests replace it to hold a check under way.
var compareHash = bcrypt.CompareHashAndPassword

// verify checks password against the peer's password or bcrypt hash. bcrypt
// runs on the calling connection's goroutine, at most MaxConcurrentChecks at
// once; a bind that finds no slot within check_wait is answered busy.
func (a *authenticator) verify(peer *Peer, password []byte) authResult {
	if peer.hash == nil {
		if subtle.ConstantTimeCompare([]byte(peer.Password), password) == 1 {
			return authOK
		}
		return authMismatch
	}
	sem, wait := a.limits()
	select {
	case sem <- struct{}{}:
	default:
		if wait <= 0 {
			return authBusy
		}
		t := time.NewTimer(wait)
		select {
		case sem <- struct{}{}:
			t.Stop()
		case <-t.C:
			return authBusy
		}
	}
	n := a.checking.Add(1)
	for p := a.peak.Load(); n > p && !a.peak.CompareAndSwap(p, n); p = a.peak.Load() {
	}
	err := compareHash(peer.hash, password)
	a.checking.Add(-1)
	<-sem
	if err != nil {
		return authMismatch
	}
	return authOK
}

// tracked is the number of sources and system_ids tracked (tests).
func (a *authenticator) tracked() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.entries)
}
