package yamlx

import (
	"errors"
	"testing"
)

func TestByteSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ByteSize
		err  bool
	}{
		{"65536", 65536, false},
		{"64KiB", 64 * KiB, false},
		{"8 MiB", 8 * MiB, false},
		{"1.5GiB", GiB + GiB/2, false},
		{"100B", 100, false},
		{"-1", -1, false},
		{"0", 0, false},
		{"64MB", 0, true},
		{"1.5", 0, true},
		{"MiB", 0, true},
		{"", 0, true},
		{"9999999999GiB", 0, true},
		{"lots", 0, true},
	} {
		got, err := ParseByteSize(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
	for b, want := range map[ByteSize]string{64 * MiB: "64MiB", 1536: "1536", 3 * KiB: "3KiB", 2 * GiB: "2GiB", 0: "0"} {
		if b.String() != want {
			t.Errorf("%d.String() = %q, want %q", b, b.String(), want)
		}
	}
}

func TestByteSizeYAML(t *testing.T) {
	var v struct {
		A ByteSize `yaml:"a"`
		B ByteSize `yaml:"b"`
	}
	if _, err := Decode("f.yaml", []byte("a: 64MiB\nb: 4096\n"), &v); err != nil || v.A != 64*MiB || v.B != 4096 {
		t.Fatalf("%v %+v", err, v)
	}
	_, err := Decode("f.yaml", []byte("a: 1MiB\nb: 64 MB\n"), &v)
	want := `f.yaml:2: byte size "64 MB": want an integer or a number with B, KiB, MiB or GiB`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

// FuzzParseByteSize: no input panics the parser, and what it reads prints
// back to the same size.
func FuzzParseByteSize(f *testing.F) {
	for _, s := range []string{"65536", "64KiB", "8 MiB", "1.5GiB", "-1", "9999999999GiB", "1e3KiB", "NaNMiB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseByteSize(s)
		if err != nil {
			return
		}
		if back, err := ParseByteSize(b.String()); err != nil || back != b {
			t.Fatalf("%q -> %d -> %q -> %d, %v", s, b, b.String(), back, err)
		}
	})
}

// A section validates with its own key paths; Join puts every problem of
// every section in line order, flattened, each wrapping ErrConfig.
func TestAtAndJoin(t *testing.T) {
	lines, err := Decode("c.yaml", []byte("a: 1\nevents:\n  text: x\n  list:\n    - 1\n    - 2\n"), &map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	top := At{File: "c.yaml", Lines: lines}
	ev := top.In("events")
	if p := ev.In("list").Path("[1]"); p != "events.list[1]" {
		t.Fatalf("path %q", p)
	}
	inner := Join(ev.Errorf("list[1]", "second"), ev.Errorf("text", "%s bad", ev.Path("text")))
	err = Join(nil, inner, top.Errorf("a", "first"), ev.Errorf("", "section"))
	want := "c.yaml:1: first\nc.yaml:2: section\nc.yaml:3: events.text bad\nc.yaml:6: second"
	if err == nil || err.Error() != want || !errors.Is(err, ErrConfig) {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	if Join() != nil || Join(nil, nil) != nil {
		t.Fatal("no problems, an error")
	}
	if one := Join(nil, top.Errorf("a", "one")); one.Error() != "c.yaml:1: one" {
		t.Fatalf("one problem: %v", one)
	}
	plain := errors.New("plain")
	if err := Join(top.Errorf("a", "one"), plain); !errors.Is(err, plain) || !errors.Is(err, ErrConfig) {
		t.Fatalf("unpositioned: %v", err)
	}
}

// Problems prefixes each message with the key's full path and its
// section's separator, shares one list with its sub-sections' collectors
// and returns them all in line order.
func TestProblems(t *testing.T) {
	lines, err := Decode("c.yaml", []byte("routes:\n  - name: a\n    to: x\n  - name: b\nevents:\n  queue: 0\n"), &map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	top := At{File: "c.yaml", Lines: lines}
	if err := top.Problems(": ").Err(); err != nil {
		t.Fatalf("no problems: %v", err)
	}
	routes := top.In("routes").Problems(": ")
	routes.In("[1]").Add("name", "route %q defined twice", "b")
	routes.In("[0]").Add("", "no target")
	routes.Append(nil, top.Errorf("routes", "plain"))
	ev := top.In("events").Problems(" ")
	ev.Add("queue", "%d outside [1, 10]", 0)
	err = Join(routes.Err(), ev.Err())
	want := "c.yaml:1: plain\nc.yaml:2: routes[0]: no target\nc.yaml:4: routes[1].name: route \"b\" defined twice\nc.yaml:6: events.queue 0 outside [1, 10]"
	if err == nil || err.Error() != want || !errors.Is(err, ErrConfig) {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}
