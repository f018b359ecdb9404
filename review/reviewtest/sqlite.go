package reviewtest

import (
	"context"
	"path/filepath"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/smsfw/smsfw/store"
)

// SQLite opens the real store on an SQLite file in a temporary directory
// (migrated, WAL, as `smsfw run` opens it) and closes it when the test
// ends. Tests that pass against both it and Store check the fake too.
func SQLite(t testing.TB) store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "events.db"), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// Stores are the stores the review API, the console and `smsfw events`
// are tested against: the in-memory fake and the real store on SQLite.
var Stores = []struct {
	Name string
	Open func(testing.TB) store.Store
}{
	{"mem", func(testing.TB) store.Store { return NewStore() }},
	{"sqlite", SQLite},
}
