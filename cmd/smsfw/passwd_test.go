package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/smsfw/smsfw/internal/config"
	"github.com/smsfw/smsfw/proxy"
)

func TestPasswd(t *testing.T) {
	cases := []struct {
		name  string
		args  []string
		stdin string
		pw    string
		err   error
	}{
		{"stdin line", []string{"--cost", "4"}, "acmepw\n", "acmepw", nil},
		{"password-stdin crlf", []string{"--password-stdin", "--cost", "4"}, "s3cret\r\nignored\n", "s3cret", nil},
		{"no newline", []string{"--cost", "4"}, "abc", "abc", nil},
		{"empty", []string{"--cost", "4"}, "\n", "", proxy.ErrPasswordEmpty},
		{"too long", []string{"--cost", "4"}, "123456789\n", "", proxy.ErrPasswordTooLong},
		{"bad cost", []string{"--cost", "40"}, "abc\n", "", proxy.ErrHashCost},
		{"stray argument", []string{"abc"}, "", "", errUsage},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := passwd(c.args, strings.NewReader(c.stdin), &out, &errOut)
			if !errors.Is(err, c.err) {
				t.Fatalf("err %v, want %v (stderr %q)", err, c.err, errOut.String())
			}
			if err != nil {
				if out.Len() != 0 {
					t.Fatalf("printed %q on error", out.String())
				}
				return
			}
			h := strings.TrimSuffix(out.String(), "\n")
			if strings.Contains(h, "\n") || bcrypt.CompareHashAndPassword([]byte(h), []byte(c.pw)) != nil {
				t.Fatalf("hash %q does not verify %q", h, c.pw)
			}
			// The hash is accepted by the config loader.
			cfg := "upstreams: {smsc: {address: \"127.0.0.1:1\"}}\npeers:\n  - system_id: acme\n    password_hash: \"" + h + "\"\n"
			if _, err := config.Parse("t.yaml", []byte(cfg)); err != nil {
				t.Fatal(err)
			}
		})
	}
}
