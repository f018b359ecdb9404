package proxy

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/smsfw/smsfw/internal/yamlx"
)

// livePeer is a configured peer as the server runs it: the same value for
// as long as the peer is configured, its settings and its pool swapped by
// reloads. Sessions keep their livePeer, so a new class reaches their next
// message and a rebuilt pool their next request.
type livePeer struct {
	cfg  atomic.Pointer[Peer]
	pool atomic.Pointer[pool]
	// next is a pool being built to replace pool (its upstream changed):
	// it takes over once bound. Under Server.mu.
	next *pool
	// lastErr is the peer's last refused bind (GET /api/v1/peers).
	lastErr lastError
}

// class is the session's peer class now ("" in pass-through mode).
func (d *downstream) class() string {
	if d.lp == nil {
		return ""
	}
	return d.lp.cfg.Load().Class
}

// addPeer makes p configured with pl as its pool; the caller holds mu
// (or owns the server, in New).
func (s *Server) addPeer(p *Peer, pl *pool) *livePeer {
	lp := &livePeer{}
	lp.cfg.Store(p)
	lp.pool.Store(pl)
	s.live[p.Name], s.bySysID[p.SystemID] = lp, lp
	s.m.countersOf(p.Name) // its series from the start
	return lp
}

func (s *Server) peerBySystemID(id string) *livePeer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bySysID[id]
}

// poolOf is the pool of the configured peer key, nil in pass-through mode
// or for a peer no longer configured.
func (s *Server) poolOf(key string) *pool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if lp := s.live[key]; lp != nil {
		return lp.pool.Load()
	}
	return nil
}

// allPools are the pools to stop at shutdown: every peer's, and those
// being built to replace one.
func (s *Server) allPools() []*pool {
	var out []*pool
	for _, lp := range s.live {
		out = append(out, lp.pool.Load())
		if lp.next != nil {
			out = append(out, lp.next)
		}
	}
	return out
}

// Reconfigured says what a Reconfigure changed: peers added, removed and
// changed (with the keys that changed), the upstreams whose settings
// changed, the peers whose pool is rebuilt, and whether auth changed.
type Reconfigured struct {
	Added     []string            `json:"added,omitempty"`
	Removed   []string            `json:"removed,omitempty"`
	Changed   map[string][]string `json:"changed,omitempty"`
	Upstreams map[string][]string `json:"upstreams,omitempty"`
	Rebuilt   []string            `json:"pools_rebuilt,omitempty"`
	Auth      []string            `json:"auth,omitempty"`
}

// Empty reports whether nothing changed.
func (r *Reconfigured) Empty() bool {
	return len(r.Added)+len(r.Removed)+len(r.Changed)+len(r.Upstreams)+len(r.Rebuilt)+len(r.Auth) == 0
}

// ErrNeedsRestart: a change Reconfigure cannot apply to a running server.
var ErrNeedsRestart = errors.New("needs a restart")

// Reconfigure applies next's peers, upstreams and auth settings to the
// running server (the rest of next is ignored: the caller reports what
// needs a restart). next must be validated. Nothing a session is doing is
// cut short:
//   - a peer added can bind at once; Reconfigure waits (bounded by ctx and
//     bind_timeout) for its upstream pool's first bind;
//   - a peer removed can no longer bind; its sessions stop taking new
//     requests (0x04), are unbound once every request in flight is
//     answered, then its pool is unbound the same way;
//   - a peer's password, password_hash, allowed_cidrs, window and
//     max_sessions apply to new binds; its class to the next message of
//     every session; sessions from a source allowed_cidrs no longer allows
//     are unbound as a removed peer's are;
//   - a peer whose upstream (name, address, credentials, TLS, sessions,
//     window) changed gets a new pool: it binds beside the old one, takes
//     the new requests once bound, and the old pool's legs are unbound
//     once what is in flight on them is answered;
//   - auth settings apply to the next bind; lockouts under way are kept.
//
// Switching between pass-through and config mode needs a restart
// (ErrNeedsRestart). On an error nothing is changed.
func (s *Server) Reconfigure(ctx context.Context, next *Config) (*Reconfigured, error) {
	s.reconfMu.Lock()
	defer s.reconfMu.Unlock()
	if s.cfg.PassThrough() != next.PassThrough() {
		return nil, fmt.Errorf("%w: switching between pass-through mode (no peers) and config mode", ErrNeedsRestart)
	}
	r := &Reconfigured{}
	auth := next.WithDefaults().Auth
	r.Auth = yamlx.ChangedKeys(s.authNow, auth)
	if s.cfg.PassThrough() {
		if len(next.Upstreams) > 0 && !reflect.DeepEqual(s.cfg.Upstreams, next.Upstreams) {
			return nil, fmt.Errorf("%w: the upstream of pass-through mode", ErrNeedsRestart)
		}
		s.auth.update(auth)
		s.authNow = auth
		return r, nil
	}
	for _, u := range next.Upstreams {
		if u.Address == "" {
			u.Address = s.upstream
		}
		if err := CheckHostPort(u.Address); err != nil {
			return nil, fmt.Errorf("%w: upstream: %v", yamlx.ErrConfig, err)
		}
	}

	s.mu.Lock()
	if s.draining.Load() {
		s.mu.Unlock()
		return nil, errors.New("proxy: shutting down")
	}
	// The upstreams as the pools run them, to tell what changed.
	oldUps := map[string]*Upstream{}
	for _, lp := range s.live {
		pl := lp.pool.Load()
		if lp.next != nil {
			pl = lp.next
		}
		oldUps[pl.name] = pl.up
	}
	s.mu.Unlock()
	for name, u := range next.Upstreams {
		if old, ok := oldUps[name]; ok && !reflect.DeepEqual(old, u) {
			r.addUpstream(name, yamlx.ChangedKeys(*old, *u))
		}
		if u.TLS != nil {
			if old, ok := oldUps[name]; ok && reflect.DeepEqual(old, u) {
				continue // the pool keeps the old value, and its certificates
			}
			if err := s.upstreamCerts(u.TLS); err != nil {
				return nil, fmt.Errorf("upstream %q: %w", name, err)
			}
		}
	}

	s.mu.Lock()
	if s.draining.Load() {
		s.mu.Unlock()
		return nil, errors.New("proxy: shutting down")
	}
	serving := s.ln != nil
	wanted := map[string]*Peer{}
	for _, p := range next.Peers {
		wanted[p.Name] = p
	}
	var retire []*downstream
	var retirePools, started []*pool
	for name, lp := range s.live {
		cur := lp.cfg.Load()
		if p := wanted[name]; p == nil || p.SystemID != cur.SystemID {
			r.Removed = append(r.Removed, name)
			delete(s.live, name)
			delete(s.bySysID, cur.SystemID)
			retire = append(retire, s.byPeer[name]...)
			retirePools = append(retirePools, lp.pool.Load())
			if lp.next != nil {
				retirePools, lp.next = append(retirePools, lp.next), nil
			}
		}
	}
	for _, p := range next.Peers {
		lp := s.live[p.Name]
		if lp == nil {
			r.Added = append(r.Added, p.Name)
			pl := newPool(s, p, p.Upstream, next.Upstreams[p.Upstream])
			s.addPeer(p, pl)
			started = append(started, pl)
			continue
		}
		cur := lp.cfg.Load()
		if !reflect.DeepEqual(cur, p) {
			if r.Changed == nil {
				r.Changed = map[string][]string{}
			}
			r.Changed[p.Name] = yamlx.ChangedKeys(*cur, *p)
			lp.cfg.Store(p)
			for _, d := range s.byPeer[p.Name] {
				if !p.allows(d.remote) {
					retire = append(retire, d)
				}
			}
		}
		pl := lp.pool.Load()
		if lp.next != nil {
			pl = lp.next
		}
		if pl.peer.Upstream == p.Upstream && pl.peer.UpstreamSystemID == p.UpstreamSystemID &&
			pl.peer.UpstreamPassword == p.UpstreamPassword && reflect.DeepEqual(pl.up, next.Upstreams[p.Upstream]) {
			continue
		}
		r.Rebuilt = append(r.Rebuilt, p.Name)
		if lp.next != nil { // replaced before it took over
			retirePools = append(retirePools, lp.next)
		}
		lp.next = newPool(s, p, p.Upstream, next.Upstreams[p.Upstream])
		started = append(started, lp.next)
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.takeOver(lp, lp.next) }()
	}
	s.auth.update(auth)
	s.authNow = auth
	if serving {
		for _, pl := range started {
			pl.start()
		}
	}
	if len(retire)+len(retirePools) > 0 {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.retire(retire, retirePools) }()
	}
	s.mu.Unlock()

	sort.Strings(r.Added)
	sort.Strings(r.Removed)
	sort.Strings(r.Rebuilt)
	if serving {
		s.awaitBound(ctx, started)
	}
	return r, nil
}

func (r *Reconfigured) addUpstream(name string, keys []string) {
	if r.Upstreams == nil {
		r.Upstreams = map[string][]string{}
	}
	r.Upstreams[name] = keys
}

// takeOver swaps pl in as lp's pool once it is bound, then retires the old
// one; it gives up when pl is stopped first (replaced again, peer removed,
// shutdown).
func (s *Server) takeOver(lp *livePeer, pl *pool) {
	select {
	case <-pl.bound:
	case <-pl.ctx.Done():
		return
	}
	s.mu.Lock()
	if lp.next != pl || s.draining.Load() {
		s.mu.Unlock()
		return
	}
	old := lp.pool.Swap(pl)
	lp.next = nil
	s.mu.Unlock()
	s.log.Info("upstream pool rebuilt; draining the old one", zap.String("peer", pl.peer.Name), zap.String("upstream", pl.name))
	old.retire()
}

// retire unbinds sessions of peers a reload removed (or whose source it no
// longer allows) once their requests in flight are answered, then retires
// the pools that served them.
func (s *Server) retire(sessions []*downstream, pools []*pool) {
	var wg sync.WaitGroup
	for _, d := range sessions {
		wg.Add(1)
		go func() { defer wg.Done(); d.retire("peer removed or no longer allowed by a reload") }()
	}
	wg.Wait()
	for _, pl := range pools {
		wg.Add(1)
		go func() { defer wg.Done(); pl.retire() }()
	}
	wg.Wait()
}

// retire ends a session cleanly: no new requests (0x04), what is in flight
// answered, then unbind.
func (d *downstream) retire(reason string) {
	if d.ending.Swap(true) {
		return // unbinding already
	}
	d.log.Info("session retiring", zap.String("reason", reason))
	d.awaitAnswers()
	d.unbindAndClose(reason)
}

// awaitBound waits until every pool has a bound leg, at most bind_timeout.
func (s *Server) awaitBound(ctx context.Context, pools []*pool) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.BindTimeout)
	defer cancel()
	for _, pl := range pools {
		select {
		case <-pl.bound:
		case <-ctx.Done():
			return
		}
	}
}

// PeerNames are the configured peers' names, sorted (tests, status).
func (s *Server) PeerNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.live))
	for n := range s.live {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
