package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// Off a terminal the progress is plain lines (no carriage returns or
// escape codes in logs); a nil Progress does nothing.
func TestProgressPlain(t *testing.T) {
	for _, c := range []struct {
		name  string
		do    func(p *Progress)
		want  []string
		avoid []string
	}{
		{"step", func(p *Progress) { p.Step("round 1 relay", time.Second) }, []string{"[0:00] round 1 relay\n"}, []string{"\r", "\033"}},
		{"update throttled", func(p *Progress) {
			p.Step("s", time.Second)
			p.Update("first") // within Every of the step line: not printed
		}, []string{"] s\n"}, []string{"first"}},
		{"log", func(p *Progress) { p.Logf("result %d\n", 7) }, []string{"result 7\n"}, []string{"\r"}},
	} {
		var b bytes.Buffer
		p := NewProgress(&b, time.Minute)
		c.do(p)
		p.Done()
		for _, w := range c.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s: %q lacks %q", c.name, b.String(), w)
			}
		}
		for _, a := range c.avoid {
			if strings.Contains(b.String(), a) {
				t.Errorf("%s: %q has %q", c.name, b.String(), a)
			}
		}
	}
	var p *Progress
	p.Step("x", 0)
	p.Update("y")
	p.Logf("z")
	p.Done()
	if NewProgress(nil, 0) != nil {
		t.Fatal("nil writer: want a nil Progress")
	}
}

// On a terminal the line is redrawn in place with a bar.
func TestProgressTerminalDraw(t *testing.T) {
	var b bytes.Buffer
	p := &Progress{w: &b, tty: true, every: time.Second, total: 2 * time.Second, start: time.Now()}
	p.Step("round 1 smsfw", time.Second)
	p.Logf("done\n")
	p.Done()
	s := b.String()
	if !strings.Contains(s, "\r\033[K[") || !strings.Contains(s, "round 1 smsfw") || !strings.Contains(s, "done\n") || !strings.HasSuffix(s, "\r\033[K") {
		t.Fatalf("%q", s)
	}
}
