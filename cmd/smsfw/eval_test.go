package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smsfw/smsfw/bench"
)

func TestEvalCmd(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	if err := os.WriteFile(bad, []byte(`{"direction":"mt","colour":"red"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
		code int
		out  string // in stdout (0) or stderr
	}{
		{"no corpus", []string{"eval"}, 1, "--corpus FILE is required"},
		{"speed and compressed", []string{"eval", "--corpus", "x", "--speed", "2", "--compressed"}, 1, "--speed and --compressed exclude each other"},
		{"bad speed", []string{"eval", "--corpus", "x", "--speed", "0"}, 1, "--speed must be positive"},
		{"strict corpus", []string{"eval", "--corpus", bad}, 1, bad + `:1: json: unknown field "colour"`},
		{"missing operator", []string{"eval", "--corpus", "../../bench/corpus/sample.jsonl", "--operator", "nope.yaml", "--compressed"}, 1, "nope.yaml"},
		{"table", []string{"eval", "--corpus", "../../bench/corpus/sample.jsonl", "--operator", "../../bench/corpus/operator.yaml", "--compressed"}, 0, "fraud caught"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := cli(c.args, &out, &errb)
			got := out.String()
			if c.code != 0 {
				got = errb.String()
			}
			if code != c.code || !strings.Contains(got, c.out) {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q; want %q", code, c.code, out.String(), errb.String(), c.out)
			}
		})
	}
}

func TestEvalCmdJSON(t *testing.T) {
	var out, errb bytes.Buffer
	code := cli([]string{"eval", "--corpus", "../../bench/corpus/sample.jsonl", "--operator", "../../bench/corpus/operator.yaml",
		"--compressed", "--json"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var rep bench.EvalReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Totals.Messages < 1000 || rep.Totals.Unanswered != 0 || len(rep.Results) == 0 {
		t.Fatalf("totals %+v, %d scenarios", rep.Totals, len(rep.Results))
	}
}
