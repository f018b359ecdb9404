package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/smsfw/smsfw/proxy"
)

// errPasswordMismatch: the two passwords typed at the terminal differ.
var errPasswordMismatch = errors.New("passwords do not match")

func passwdCmd(args []string, stdout, stderr io.Writer) error {
	return passwd(args, os.Stdin, stdout, stderr)
}

// passwd prints the bcrypt hash of a peer password for password_hash. The
// password is read from a terminal without echo (typed twice), or as one
// line from standard input (--password-stdin, or when stdin is not a terminal).
func passwd(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("smsfw passwd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fromStdin := fs.Bool("password-stdin", false, "read the password as one line from standard input")
	cost := fs.Int("cost", proxy.DefaultHashCost, "bcrypt cost (4-14; each step doubles the time of a bind)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: smsfw passwd [--password-stdin] [--cost N]\n\nPrints a bcrypt hash for a peer's password_hash.")
		fs.PrintDefaults()
	}
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	var pw []byte
	var err error
	if f, ok := stdin.(*os.File); ok && !*fromStdin && term.IsTerminal(int(f.Fd())) {
		pw, err = readTerminal(int(f.Fd()), stderr)
	} else {
		pw, err = readLine(stdin)
	}
	if err != nil {
		return err
	}
	h, err := proxy.HashPassword(pw, *cost)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, h)
	return nil
}

func readTerminal(fd int, prompt io.Writer) ([]byte, error) {
	fmt.Fprint(prompt, "Password: ")
	pw, err := term.ReadPassword(fd)
	fmt.Fprintln(prompt)
	if err != nil {
		return nil, err
	}
	fmt.Fprint(prompt, "Again: ")
	again, err := term.ReadPassword(fd)
	fmt.Fprintln(prompt)
	if err != nil {
		return nil, err
	}
	if string(pw) != string(again) {
		return nil, errPasswordMismatch
	}
	return pw, nil
}

// readLine reads the first line of r without its line ending.
func readLine(r io.Reader) ([]byte, error) {
	line, err := bufio.NewReader(io.LimitReader(r, 1024)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return []byte(strings.TrimRight(line, "\r\n")), nil
}
