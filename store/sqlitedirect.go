package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unsafe"

	"modernc.org/libc"
	"modernc.org/libc/sys/types"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/smsfw/smsfw/filter"
)

// directConn is the SQLite event writer's own connection to the events
// file, driven through SQLite's C API as modernc transpiles it
// (modernc.org/sqlite/lib) instead of through database/sql and the
// driver. Hand-written because the writer is SQLite's bottleneck (one
// writer per file) and the driver cost it a fifth of its CPU per event
// (profile, docs/benchmarks.md): it copies each of an event's 19 strings
// into a malloc'd C string and frees it after the row, takes the
// connection's mutex for every bind and unbind (the driver opens
// connections SQLITE_OPEN_FULLMUTEX), and needs every value boxed in an
// interface. Here the strings are copied into one reused buffer of C
// memory (arena) and bound SQLITE_STATIC, the values are bound typed, and the connection
// is opened SQLITE_OPEN_NOMUTEX: it is used by one goroutine at a time,
// under the store's write lock (sqlStore.wmu), which is what that mode
// asks for.
//
// It serves Insert's fast path only; everything else (migrations, the
// careful path, searches, other writes) uses the database/sql pool on the
// same file, serialized with it by the same lock.
type directConn struct {
	tls   *libc.TLS
	db    uintptr
	stmts map[string]uintptr // prepared statements by SQL text
	arena arena
	b     binder // reused: an eventBinder on the stack would escape
}

// Errors of the direct connection.
var (
	// ErrSQLite wraps an SQLite result code the direct connection got.
	ErrSQLite = errors.New("store: sqlite")
)

// directPath is the file an SQLite DSN names when the direct connection
// can open it: a plain path. A DSN with parameters or a "file:" URI is the
// driver's to interpret, and ":memory:" is private to each connection;
// those insert through the careful path.
func directPath(dsn string) (string, bool) {
	if dsn == "" || dsn == ":memory:" || strings.HasPrefix(dsn, "file:") || strings.ContainsRune(dsn, '?') {
		return "", false
	}
	return dsn, true
}

// openDirect opens path with the pool's pragmas (sqlitePragmas).
func openDirect(path string) (_ *directConn, err error) {
	c := &directConn{tls: libc.NewTLS(), stmts: map[string]uintptr{}}
	c.arena.init(c.tls)
	pdb := c.arena.alloc(8)
	rc := sqlite3.Xsqlite3_open_v2(c.tls, c.arena.cstring(path), addr(pdb), sqlite3.SQLITE_OPEN_READWRITE|sqlite3.SQLITE_OPEN_NOMUTEX, 0)
	c.db = *(*uintptr)(unsafe.Pointer(&pdb[0])) // C memory
	c.arena.reset()
	if rc != sqlite3.SQLITE_OK {
		err = c.errorf(rc, "open "+path)
		c.close()
		return nil, err
	}
	sqlite3.Xsqlite3_extended_result_codes(c.tls, c.db, 1)
	for _, p := range sqlitePragmas(false) {
		if err := c.exec(context.Background(), "PRAGMA "+p); err != nil {
			c.close()
			return nil, err
		}
	}
	return c, nil
}

// close finalizes the statements and closes the connection.
func (c *directConn) close() error {
	var err error
	for q, st := range c.stmts {
		sqlite3.Xsqlite3_finalize(c.tls, st)
		delete(c.stmts, q)
	}
	if c.db != 0 {
		if rc := sqlite3.Xsqlite3_close_v2(c.tls, c.db); rc != sqlite3.SQLITE_OK {
			err = c.errorf(rc, "close")
		}
		c.db = 0
	}
	c.arena.free()
	c.tls.Close()
	return err
}

// errorf is rc as an error wrapping ErrSQLite, with the connection's
// message.
func (c *directConn) errorf(rc int32, what string) error {
	msg := ""
	if c.db != 0 {
		msg = libc.GoString(sqlite3.Xsqlite3_errmsg(c.tls, c.db))
	}
	return fmt.Errorf("%w: %s: %s (%d)", ErrSQLite, what, msg, rc)
}

// prepare returns q's prepared statement, preparing it the first time.
func (c *directConn) prepare(q string) (uintptr, error) {
	if st, ok := c.stmts[q]; ok {
		return st, nil
	}
	c.arena.reset()
	pst := c.arena.alloc(8)
	if rc := sqlite3.Xsqlite3_prepare_v2(c.tls, c.db, c.arena.cstring(q), -1, addr(pst), 0); rc != sqlite3.SQLITE_OK {
		return 0, c.errorf(rc, "prepare")
	}
	st := *(*uintptr)(unsafe.Pointer(&pst[0]))
	if st == 0 {
		return 0, fmt.Errorf("%w: prepare: no statement in %q", ErrSQLite, q)
	}
	c.stmts[q] = st
	return st, nil
}

// run binds args (int64, float64, string, []byte, nil) to q and steps it
// once; row reports whether it gave a row (then readable until the next
// run of q).
func (c *directConn) run(q string, args ...any) (st uintptr, row bool, err error) {
	st, err = c.prepare(q)
	if err != nil {
		return 0, false, err
	}
	b := c.bind(st)
	for _, a := range args {
		switch v := a.(type) {
		case int64:
			b.int64(v)
		case float64:
			b.float(v)
		case string:
			b.text(v)
		case []byte:
			b.blob(v)
		case nil:
			b.null()
		default:
			return 0, false, fmt.Errorf("%w: cannot bind %T", ErrSQLite, a)
		}
	}
	if b.rc != sqlite3.SQLITE_OK {
		return 0, false, c.errorf(b.rc, "bind")
	}
	switch rc := sqlite3.Xsqlite3_step(c.tls, st); rc {
	case sqlite3.SQLITE_DONE:
		return st, false, nil
	case sqlite3.SQLITE_ROW:
		return st, true, nil
	default:
		err := c.errorf(rc, "step")
		sqlite3.Xsqlite3_reset(c.tls, st)
		return 0, false, err
	}
}

// exec runs q (a transaction's statement, a pragma) to its end.
func (c *directConn) exec(_ context.Context, q string, args ...any) error {
	st, row, err := c.run(q, args...)
	for row && err == nil {
		switch rc := sqlite3.Xsqlite3_step(c.tls, st); rc {
		case sqlite3.SQLITE_DONE:
			row = false
		case sqlite3.SQLITE_ROW:
		default:
			err = c.errorf(rc, "step")
		}
	}
	if st != 0 {
		sqlite3.Xsqlite3_reset(c.tls, st)
	}
	return err
}

// queryInt64 runs q and returns the first column of its one row.
func (c *directConn) queryInt64(_ context.Context, q string, args ...any) (int64, error) {
	st, row, err := c.run(q, args...)
	if err != nil {
		return 0, err
	}
	defer sqlite3.Xsqlite3_reset(c.tls, st)
	if !row {
		return 0, fmt.Errorf("%w: no row", ErrSQLite)
	}
	return sqlite3.Xsqlite3_column_int64(c.tls, st, 0), nil
}

// insertEvent inserts ev with the prepared INSERT OR IGNORE st and
// reports whether the row was inserted (false: its id is stored).
func (c *directConn) insertEvent(st uintptr, ev *filter.Event) (bool, error) {
	b := c.bind(st)
	bindEvent(b, ev)
	if b.rc != sqlite3.SQLITE_OK {
		return false, c.errorf(b.rc, "bind")
	}
	if b.i != nEventCols {
		return false, fmt.Errorf("%w: bound %d columns of %d", ErrSQLite, b.i, nEventCols)
	}
	rc := sqlite3.Xsqlite3_step(c.tls, st)
	if rc != sqlite3.SQLITE_DONE {
		err := c.errorf(rc, "insert")
		sqlite3.Xsqlite3_reset(c.tls, st)
		return false, err
	}
	return sqlite3.Xsqlite3_changes(c.tls, c.db) == 1, nil
}

// rollback ends an open transaction, if any.
func (c *directConn) rollback() {
	if sqlite3.Xsqlite3_get_autocommit(c.tls, c.db) == 0 {
		c.exec(context.Background(), "ROLLBACK") //nolint:errcheck // the transaction ends either way
	}
}

// bind resets st and returns the connection's binder for it, from its
// first parameter, with an empty arena.
func (c *directConn) bind(st uintptr) *binder {
	sqlite3.Xsqlite3_reset(c.tls, st)
	c.arena.reset()
	c.b = binder{c: c, st: st}
	return &c.b
}

// binder binds a statement's parameters in order; the first failure is
// kept in rc and the rest are skipped.
type binder struct {
	c  *directConn
	st uintptr
	i  int32 // parameters bound
	rc int32
}

func (b *binder) next() (int32, bool) {
	b.i++
	return b.i, b.rc == sqlite3.SQLITE_OK
}

func (b *binder) int64(v int64) {
	if i, ok := b.next(); ok {
		b.rc = sqlite3.Xsqlite3_bind_int64(b.c.tls, b.st, i, v)
	}
}

func (b *binder) float(v float64) {
	if i, ok := b.next(); ok {
		b.rc = sqlite3.Xsqlite3_bind_double(b.c.tls, b.st, i, v)
	}
}

func (b *binder) null() {
	if i, ok := b.next(); ok {
		b.rc = sqlite3.Xsqlite3_bind_null(b.c.tls, b.st, i)
	}
}

func (b *binder) text(s string) {
	if i, ok := b.next(); ok {
		s = clean(s)
		p := b.c.arena.alloc(len(s))
		copy(p, s)
		// SQLITE_STATIC (0): the arena keeps the bytes until the next row.
		b.rc = sqlite3.Xsqlite3_bind_text(b.c.tls, b.st, i, addr(p), int32(len(s)), 0)
	}
}

func (b *binder) blob(v []byte) {
	if v == nil {
		b.null()
		return
	}
	if i, ok := b.next(); ok {
		p := b.c.arena.alloc(len(v))
		copy(p, v)
		b.rc = sqlite3.Xsqlite3_bind_blob(b.c.tls, b.st, i, addr(p), int32(len(v)), 0)
	}
}

// raw binds segs as encodeRaw encodes them, written into the arena.
func (b *binder) raw(segs [][]byte) {
	if len(segs) == 0 {
		b.null()
		return
	}
	if i, ok := b.next(); ok {
		p := appendRaw(b.c.arena.alloc(rawSize(segs))[:0], segs)
		b.rc = sqlite3.Xsqlite3_bind_blob(b.c.tls, b.st, i, addr(p), int32(len(p)), 0)
	}
}

// addr is the address of p's first byte (p from an arena).
func addr(p []byte) uintptr {
	return uintptr(unsafe.Pointer(unsafe.SliceData(p[:1])))
}

// arena hands out byte slices of C memory (modernc's allocator, outside
// the Go heap), reused from row to row: SQLite reads SQLITE_STATIC
// parameters in place during the step, so their bytes must stay until the
// next row is bound, and the transpiled C's pointer arithmetic must not
// land in the Go heap (checkptr, under -race, refuses it). A slice always
// has an address (a zero-length string binds the empty string; a NULL
// pointer would bind NULL).
type arena struct {
	tls    *libc.TLS
	chunks [][]byte
	cur    int // chunk being filled
	off    int // bytes used in it
}

const (
	arenaChunk = 64 << 10
	// arenaKeep: beyond this many bytes of chunks (a row of very long
	// texts) the extra chunks are freed at the next reset.
	arenaKeep = 1 << 20
)

func (a *arena) init(tls *libc.TLS) {
	a.tls = tls
	a.add(arenaChunk)
}

func (a *arena) add(n int) {
	p := libc.Xmalloc(a.tls, types.Size_t(n))
	if p == 0 {
		panic("store: out of memory for the SQLite writer's buffer")
	}
	a.chunks = append(a.chunks, unsafe.Slice((*byte)(cptr(p)), n))
}

// cptr is C memory's address as a pointer. Spelled this way because vet
// cannot tell C memory's uintptr from a Go pointer's.
func cptr(p uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&p)) }

// alloc returns n bytes (capacity at least 1) valid until the next reset.
func (a *arena) alloc(n int) []byte {
	need := max(n, 1)
	for a.off+need > len(a.chunks[a.cur]) {
		a.cur, a.off = a.cur+1, 0
		if a.cur == len(a.chunks) {
			a.add(max(need, arenaChunk))
		}
	}
	p := a.chunks[a.cur][a.off : a.off+n : a.off+need]
	a.off += need
	return p
}

// cstring copies s with a terminating NUL and returns its address.
func (a *arena) cstring(s string) uintptr {
	p := a.alloc(len(s) + 1)
	p[copy(p, s)] = 0
	return addr(p)
}

// reset makes every chunk free again, keeping at most arenaKeep bytes.
func (a *arena) reset() {
	a.cur, a.off = 0, 0
	total := 0
	for _, c := range a.chunks {
		total += len(c)
	}
	if total > arenaKeep {
		for _, c := range a.chunks[1:] {
			libc.Xfree(a.tls, addr(c))
		}
		a.chunks = a.chunks[:1]
	}
}

func (a *arena) free() {
	for _, c := range a.chunks {
		libc.Xfree(a.tls, addr(c))
	}
	a.chunks = nil
}
