package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/smsfw/smsfw/bench"
	"github.com/smsfw/smsfw/bench/corpus"
)

// evalCmd runs `smsfw eval`: a labelled corpus through smsfw, scored.
func evalCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("smsfw eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	corpusFile := fs.String("corpus", "", "labelled corpus, JSON lines (bench/corpus/*.jsonl; docs/evaluation.md)")
	config := fs.String("config", "", "smsfw configuration for its settings and peer classes (default: peers and classes from the corpus); its upstreams, listeners, credentials and event store are replaced")
	rulesFile := fs.String("rules", "", "policy to evaluate (default: the config's rules, else the shipped deploy/rules/default.yaml)")
	operator := fs.String("operator", "", "operator knowledge merged over the policy: a partial policy of lists, sender_registry, detectors, tariffs (bench/corpus/operator.yaml)")
	speed := fs.Float64("speed", 1, "play the corpus this many times faster than recorded (detectors see the recorded timing either way)")
	compressed := fs.Bool("compressed", false, "play the corpus as fast as smsfw answers (detectors see the recorded timing)")
	jsonOut := fs.Bool("json", false, "print the report as JSON instead of a table")
	outcomes := fs.String("outcomes", "", "also write every message's outcome, rule and evidence to this file, JSON lines in corpus order")
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	if *corpusFile == "" {
		fmt.Fprintln(stderr, "smsfw eval: --corpus FILE is required")
		fs.Usage()
		return errUsage
	}
	if *speed <= 0 {
		return errors.New("--speed must be positive")
	}
	if *compressed && flagSet(fs, "speed") {
		return errors.New("--speed and --compressed exclude each other")
	}
	msgs, err := corpus.Load(*corpusFile)
	if err != nil {
		return err
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	ev := bench.Eval{Corpus: msgs, CorpusName: *corpusFile, Rules: *rulesFile, Operator: *operator, Config: *config,
		Speed: *speed, Compressed: *compressed}
	ev.Progress = bench.NewProgress(stderr, 0)
	rep, err := ev.Run(ctx)
	ev.Progress.Done()
	if err != nil {
		return err
	}
	if *outcomes != "" {
		if err := writeOutcomes(*outcomes, msgs, rep); err != nil {
			return err
		}
	}
	if *jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(rep)
	}
	rep.WriteTable(stdout)
	return nil
}

// writeOutcomes writes one JSON line per corpus message.
func writeOutcomes(path string, msgs []corpus.Message, rep *bench.EvalReport) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for i, m := range msgs {
		_ = enc.Encode(struct {
			Line     int    `json:"line"`
			Scenario string `json:"scenario"`
			Label    string `json:"label"`
			Outcome  string `json:"outcome"`
			Rule     string `json:"rule,omitempty"`
			Evidence string `json:"evidence,omitempty"`
		}{i + 1, m.Scenario, m.Label, rep.Outcome[i], rep.Rule[i], rep.Evidence[i]})
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
