package bpf

// The program is built with clang into shield_bpfel.o and its Go bindings
// shield_bpfel.go, both committed: `go build` needs no clang. `make
// generate` (or `go generate ./bpf/`) rebuilds them; CI checks they are
// fresh when clang is there.
//
//go:generate go tool bpf2go -tags linux -type ban_key -type ban -type settings -type reason shield shield.c -- -I/usr/include/x86_64-linux-gnu
