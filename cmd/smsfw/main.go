// Command smsfw is the SMS firewall: an inline SMPP proxy, an SMSC simulator,
// a self-contained demo and a benchmark, in one binary.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

var version = "dev"

type command struct {
	name, summary string
	run           func(args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"run", "run the firewall proxy", runCmd},
		{"sim", "run the SMSC simulator", simCmd},
		{"demo", "simulator + proxy + traffic in one process, with live counts", demoCmd},
		{"bench", "measure throughput and latency against baselines", benchCmd},
		{"config", "check a configuration file: smsfw config check FILE", configCmd},
		{"passwd", "print a bcrypt hash of a peer password for password_hash (reads it without echo)", passwdCmd},
		{"replay", "re-evaluate stored events against a candidate policy: smsfw replay --rules FILE --db DSN [--since T]", replayCmd},
		{"events", "list or export stored events: smsfw events --db DSN | --api URL [filters] [--format csv]", eventsCmd},
		{"eval", "play a labelled corpus through smsfw and score its verdicts: smsfw eval --corpus FILE.jsonl [--operator F] [--compressed]", evalCmd},
		{"rules", "check a policy (rules check FILE) or test a message against it (rules test FILE ...)", rulesCmd},
		{"version", "print the version, commit and Go version", func(_ []string, stdout, _ io.Writer) error {
			fmt.Fprintln(stdout, versionString())
			return nil
		}},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: smsfw <command> [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nsmsfw <command> -h (or smsfw help <command>) shows a command's flags.")
}

// errUsage marks errors already explained by a flag set's usage output.
var errUsage = errors.New("usage")

func main() { os.Exit(cli(os.Args[1:], os.Stdout, os.Stderr)) }

// cli runs the command line args and returns the exit status: 0, 1 when
// the command failed, 2 for an unknown command. Help goes to stdout.
func cli(args []string, stdout, stderr io.Writer) int {
	if len(args) < 1 {
		usage(stderr)
		return 2
	}
	name := args[0]
	if name == "help" && len(args) > 1 { // smsfw help CMD: CMD --help
		return cli([]string{args[1], "--help"}, stdout, stderr)
	}
	for _, c := range commands() {
		if c.name == name {
			if err := c.run(args[1:], stdout, stderr); err != nil {
				if errors.Is(err, flag.ErrHelp) {
					return 0
				}
				if !errors.Is(err, errUsage) && !errors.Is(err, errFailed) {
					fmt.Fprintln(stderr, "smsfw "+name+":", err)
				}
				return 1
			}
			return 0
		}
	}
	if name == "-h" || name == "--help" || name == "help" {
		usage(stdout)
		return 0
	}
	if name == "--version" || name == "-version" || name == "-v" {
		fmt.Fprintln(stdout, versionString())
		return 0
	}
	fmt.Fprintf(stderr, "smsfw: unknown command %q\n\n", name)
	usage(stderr)
	return 2
}

// dbFlags are --db and --db-file: the event store's DSN on the command
// line (fine for an SQLite file), or in a file, so that a postgres:// DSN
// with its password stays out of the process list and shell history;
// $SMSFW_DB when neither is given.
type dbFlags struct{ dsn, file string }

func (d *dbFlags) register(fs *flag.FlagSet, usage string) {
	fs.StringVar(&d.dsn, "db", "", usage+" (default $SMSFW_DB)")
	fs.StringVar(&d.file, "db-file", "", "file holding the --db value (a DSN with a password stays off the command line)")
}

// given reports whether --db or --db-file was.
func (d *dbFlags) given() bool { return d.dsn != "" || d.file != "" }

// value is the DSN: --db, --db-file's content, else $SMSFW_DB.
func (d *dbFlags) value() (string, error) {
	switch {
	case d.dsn != "" && d.file != "":
		return "", errors.New("--db and --db-file are exclusive")
	case d.file != "":
		b, err := os.ReadFile(d.file)
		if err != nil {
			return "", fmt.Errorf("--db-file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	case d.dsn != "":
		return d.dsn, nil
	}
	return os.Getenv("SMSFW_DB"), nil
}

// logFlags adds --log-format and --log-level to fs.
type logFlags struct {
	format, level string
}

// register adds the flags; format is the default: json for a service
// (run: one object a line for the log pipeline), console for commands a
// person watches (demo, sim).
func (l *logFlags) register(fs *flag.FlagSet, format string) {
	fs.StringVar(&l.format, "log-format", format, "log format: console or json")
	fs.StringVar(&l.level, "log-level", "info", "log level: debug, info, warn, error")
}

func (l *logFlags) logger(stderr io.Writer) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(l.level)
	if err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	switch strings.ToLower(l.format) {
	case "json":
		enc = zapcore.NewJSONEncoder(encCfg)
	case "console":
		encCfg.EncodeLevel = zapcore.CapitalLevelEncoder
		enc = zapcore.NewConsoleEncoder(encCfg)
	default:
		return nil, fmt.Errorf("--log-format must be console or json, not %q", l.format)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(stderr)), lvl)), nil
}

// wantsHelp reports whether args ask for help (-h, -help, --help).
func wantsHelp(args []string) bool {
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			return true
		}
	}
	return false
}

// versionString is the version, the commit it was built from and the Go
// version, from the build information the Go toolchain embeds.
func versionString() string {
	v, commit, modified, goVersion := version, "unknown", false, runtime.Version()
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		goVersion = bi.GoVersion
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if modified {
		commit += " (modified)"
	}
	return fmt.Sprintf("smsfw %s\ncommit %s\n%s", v, commit, goVersion)
}

func parse(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	// -h/--help: the usage goes to stdout; a bad flag's error and the usage
	// to the flag set's output (stderr).
	errOut := fs.Output()
	var buf bytes.Buffer
	fs.SetOutput(&buf)
	err := fs.Parse(args)
	fs.SetOutput(errOut)
	if errors.Is(err, flag.ErrHelp) {
		_, _ = stdout.Write(buf.Bytes())
		return err
	}
	_, _ = errOut.Write(buf.Bytes())
	if err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %v\n", fs.Args())
		return errUsage
	}
	return nil
}
