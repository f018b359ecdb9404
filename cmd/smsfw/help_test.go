package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every command and subcommand answers -h and --help with its usage on
// stdout, nothing on stderr and exit status 0, and never takes the flag
// for a file name.
func TestHelpEverywhere(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir) // a file named --help would appear here
	cases := [][]string{{"rules", "check"}, {"rules", "check", "policy.yaml"}, {"rules", "test"}, {"rules", "test", "policy.yaml", "--from", "x"},
		{"rules"}, {"config", "check"}, {"config", "check", "c.yaml"}, {"config"}, {"run", "--listen", "127.0.0.1:0"}}
	for _, c := range commands() {
		if c.name != "rules" && c.name != "config" {
			cases = append(cases, []string{c.name})
		}
	}
	for _, args := range cases {
		for _, h := range []string{"-h", "--help"} {
			full := append(append([]string(nil), args...), h)
			t.Run(strings.Join(full, " "), func(t *testing.T) {
				var out, errb bytes.Buffer
				code := cli(full, &out, &errb)
				if code != 0 || errb.Len() > 0 || !strings.Contains(strings.ToLower(out.String()), "usage") && args[0] != "version" {
					t.Fatalf("exit %d\nstdout %s\nstderr %s", code, &out, &errb)
				}
				if ents, _ := os.ReadDir(dir); len(ents) > 0 {
					t.Fatalf("files created: %v", ents)
				}
			})
		}
	}
	// smsfw help CMD is CMD --help; smsfw help alone lists the commands.
	for args, want := range map[string]string{"help sim": "-retry-schedule", "help": "commands:", "--help": "commands:"} {
		var out, errb bytes.Buffer
		if code := cli(strings.Fields(args), &out, &errb); code != 0 || errb.Len() > 0 || !strings.Contains(out.String(), want) {
			t.Errorf("smsfw %s: exit %d, stdout %q, stderr %q", args, code, &out, &errb)
		}
	}
}

func TestVersion(t *testing.T) {
	v := versionString()
	for _, want := range []string{"smsfw ", "commit ", "go1."} {
		if !strings.Contains(v, want) {
			t.Fatalf("version %q lacks %q", v, want)
		}
	}
}

// config check lists every problem, each with its file and line.
func TestConfigCheckReportsEveryError(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(file, []byte("max_pdu_size: 10\non_filter_error: block\nupstreams:\n  smsc: {address: smsc.example}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	err := configCmd([]string{"check", file}, &out, &errb)
	if err == nil {
		t.Fatal("no error")
	}
	got := strings.Split(err.Error(), "\n")
	if len(got) != 3 || !strings.HasPrefix(got[0], file+":1: max_pdu_size") || !strings.HasPrefix(got[1], file+":2: on_filter_error") ||
		!strings.Contains(got[2], file+":4: upstream \"smsc\": address \"smsc.example\" is not host:port") {
		t.Fatalf("error:\n%v", err)
	}
}

// An upstream without a port is refused at start, not at the first bind.
func TestRunRefusesUpstreamWithoutPort(t *testing.T) {
	var out, errb bytes.Buffer
	err := runCmd([]string{"--upstream", "10.0.0.5", "--listen", "127.0.0.1:0", "--admin", "", "--db", "none"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), `address "10.0.0.5" is not host:port`) {
		t.Fatalf("got %v", err)
	}
}
