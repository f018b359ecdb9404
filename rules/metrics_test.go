package rules

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func gaugeValue(t *testing.T, m *Metrics) float64 {
	t.Helper()
	return testutil.ToFloat64(m.lastOK)
}
