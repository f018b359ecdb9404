package pipeline

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/smsfw/smsfw/filter"
)

// smsfw_filter_messages_total counts a long message once; its parts go to
// smsfw_filter_segments_total.
func TestMessagesCountedOnce(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	for _, segs := range []int{3, 1, 0} { // 0: a message whose parts are unknown counts as one
		m.count(&filter.Facts{Class: filter.ClassA2P, Segments: segs}, &filter.Detections{})
	}
	if got := promtest.ToFloat64(m.classes.WithLabelValues(filter.ClassA2P)); got != 3 {
		t.Errorf("smsfw_filter_messages_total{class=a2p} %v, want 3 messages", got)
	}
	if got := promtest.ToFloat64(m.segments[classIndex(filter.ClassA2P)]); got != 5 {
		t.Errorf("smsfw_filter_segments_total{class=a2p} %v, want 5 segments", got)
	}
}

// classIndex agrees with classNames, and an unknown class counts nowhere.
func TestClassIndex(t *testing.T) {
	for i, c := range classNames {
		if got := classIndex(c); got != i {
			t.Errorf("classIndex(%q) = %d, want %d", c, got, i)
		}
	}
	if got := classIndex(""); got != -1 {
		t.Errorf("classIndex(\"\") = %d, want -1", got)
	}
}
