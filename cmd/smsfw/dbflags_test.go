package main

import (
	"os"
	"path/filepath"
	"testing"
)

// A DSN comes from --db, from a file (--db-file) or from $SMSFW_DB, never
// only from the command line.
func TestDBFlags(t *testing.T) {
	file := filepath.Join(t.TempDir(), "dsn")
	if err := os.WriteFile(file, []byte("postgres://u:secret@db/smsfw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SMSFW_DB", "from-env.db")
	cases := []struct {
		flags    dbFlags
		want     string
		wantsErr bool
	}{
		{dbFlags{dsn: "events.db"}, "events.db", false},
		{dbFlags{file: file}, "postgres://u:secret@db/smsfw", false},
		{dbFlags{}, "from-env.db", false},
		{dbFlags{dsn: "a.db", file: file}, "", true},
		{dbFlags{file: file + ".missing"}, "", true},
	}
	for _, c := range cases {
		got, err := c.flags.value()
		if (err != nil) != c.wantsErr || got != c.want {
			t.Errorf("%+v: %q %v, want %q (error %v)", c.flags, got, err, c.want, c.wantsErr)
		}
	}
}
