package main

import (
	"fmt"
	"io"

	"github.com/smsfw/smsfw/proxy"
)

func configCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) != 2 || args[0] != "check" {
		fmt.Fprintln(stderr, "usage: smsfw config check FILE")
		return errUsage
	}
	if _, err := proxy.LoadConfig(args[1]); err != nil {
		return err
	}
	fmt.Fprintln(stdout, args[1]+": ok")
	return nil
}
