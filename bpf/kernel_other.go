//go:build !linux

package bpf

import (
	"errors"
	"net/netip"
	"time"
)

type kernel struct{}

func loadKernel(*Config, []uint16, []string) (*kernel, error) {
	return nil, errors.New("eBPF needs Linux")
}

func (*kernel) put(Ban, time.Time, bool) error { return nil }
func (*kernel) drops() map[netip.Prefix]uint64 { return nil }
func (*kernel) del(netip.Prefix) error         { return nil }
func (*kernel) packets() ([]uint64, error)     { return nil, nil }
func (*kernel) attachments() []Attachment      { return nil }
func (*kernel) close() error                   { return nil }
