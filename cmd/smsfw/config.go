package main

import (
	"fmt"
	"io"

	"github.com/smsfw/smsfw/internal/config"
)

const configUsage = `usage: smsfw config check FILE

Validates a configuration file: unknown keys, wrong types and bad values are
reported as file:line: message, every one of them; exit 1 when there is any.`

func configCmd(args []string, stdout, stderr io.Writer) error {
	if wantsHelp(args) {
		fmt.Fprintln(stdout, configUsage)
		return nil
	}
	if len(args) != 2 || args[0] != "check" {
		fmt.Fprintln(stderr, configUsage)
		return errUsage
	}
	if _, err := config.Load(args[1]); err != nil {
		return err
	}
	fmt.Fprintln(stdout, args[1]+": ok")
	return nil
}
