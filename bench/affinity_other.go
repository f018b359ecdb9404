//go:build !linux

package bench

import "errors"

var errNoAffinity = errors.New("bench: CPU affinity needs Linux")

func allowedCPUs() ([]int, error)          { return nil, errNoAffinity }
func pinProcess(pid int, cpus []int) error { return errNoAffinity }
func procCPU(pid int) (uint64, error)      { return 0, errNoAffinity }

const clockTick = 100
