package pipeline

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/internal/testutil"
)

// smsfw_filter_messages_total counts a long message once; its parts go to
// smsfw_filter_segments_total. Sessions count on their own shards; the
// metrics are the sums.
func TestMessagesCountedOnce(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	for i, segs := range []int{3, 1, 0} { // 0: a message whose parts are unknown counts as one
		var d filter.Detections
		if i > 0 {
			d = filter.Found("keyword", true)
		}
		m.count(uint8(i*100), &filter.Facts{Class: filter.ClassA2P, Segments: segs}, &d)
	}
	for _, tc := range []struct {
		name, label, value string
		want               float64
	}{
		{"smsfw_filter_messages_total", "class", filter.ClassA2P, 3},
		{"smsfw_filter_segments_total", "class", filter.ClassA2P, 5},
		{"smsfw_filter_messages_total", "class", filter.ClassMO, 0},
		{"smsfw_filter_findings_total", "finding", "keyword", 2},
	} {
		if got := testutil.Metric(t, reg, tc.name, tc.label, tc.value); got != tc.want {
			t.Errorf("%s{%s=%s} %v, want %v", tc.name, tc.label, tc.value, got, tc.want)
		}
	}
}
