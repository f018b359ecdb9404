package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// `smsfw bench` modes end to end, as subprocesses of the test's smsfw build.
func TestBenchModes(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("peers: [{system_id: a, class: a2p}]\nscenarios:\n  - name: x\n    kind: sms\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		args     []string
		code     int
		stdout   []string // substrings of stdout
		stderr   []string // substrings of stderr
		jsonFile string   // written, with this top-level key
		jsonKey  string
	}{
		{name: "scenario default", args: []string{"--scenario", "default", "--duration", "3s", "--rate", "400", "--json", filepath.Join(dir, "sc.json")},
			stdout:   []string{"phishing", "sim-farm", "forged-receipts", "expected"},
			stderr:   []string{"scenarios: 12 at 400/s for 3s"},
			jsonFile: filepath.Join(dir, "sc.json"), jsonKey: "results"},
		{name: "scenario file error", args: []string{"--scenario", bad}, code: 1,
			stderr: []string{bad + ":4: scenario \"x\": kind \"sms\""}},
		{name: "soak", args: []string{"--soak", "--duration", "2s", "--rate", "500", "--soak-rules=false", "--grace", "2s", "--json", filepath.Join(dir, "soak.json")},
			stdout:   []string{"lost 0, duplicated 0", ": OK", "smsfw child process (pid", "goroutines"},
			jsonFile: filepath.Join(dir, "soak.json"), jsonKey: "samples"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runProc(t, 2*time.Minute, append([]string{"bench"}, c.args...)...)
			if code != c.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, c.code, stdout, stderr)
			}
			for _, s := range c.stdout {
				if !strings.Contains(stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout)
				}
			}
			for _, s := range c.stderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr)
				}
			}
			if strings.Contains(stderr, "\r") {
				t.Errorf("progress redraws a line off a terminal:\n%q", stderr)
			}
			if c.jsonFile != "" {
				b, err := os.ReadFile(c.jsonFile)
				if err != nil {
					t.Fatal(err)
				}
				var m map[string]any
				if err := json.Unmarshal(b, &m); err != nil || m[c.jsonKey] == nil {
					t.Fatalf("%s: %v\n%s", c.jsonFile, err, b)
				}
			}
		})
	}
}
