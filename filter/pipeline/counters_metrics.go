package pipeline

import (
	"sort"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smsfw/smsfw/filter/counters"
)

// ownedTable is a counter table and the detector it belongs to.
type ownedTable struct {
	owner string
	counters.Named
}

// counterTables lists the live counter tables (for metrics), by owner.
func (c *Chain) counterTables() []ownedTable {
	c.mu.Lock()
	defer c.mu.Unlock()
	owners := make([]string, 0, len(c.tables))
	for o := range c.tables {
		owners = append(owners, o)
	}
	sort.Strings(owners)
	var out []ownedTable
	for _, o := range owners {
		for _, t := range c.tables[o] {
			out = append(out, ownedTable{owner: o, Named: t})
		}
	}
	return out
}

// counterCollector reports the detectors' counter tables at scrape time
// (Stats takes each shard's lock once: cheap at scrape rates, nothing on
// the message path). A table replaced on reload (new window or budget)
// keeps its eviction count going: the old table's last count is carried.
type counterCollector struct {
	keys, bytes, maxBytes, evictions *prometheus.Desc

	mu     sync.Mutex
	tables func() []ownedTable
	seen   map[[2]string]*evictionCount
}

type evictionCount struct {
	table      counters.Table
	base, last uint64
}

func newCounterCollector() *counterCollector {
	labels := []string{"detector", "table"}
	return &counterCollector{
		keys: prometheus.NewDesc("smsfw_filter_counter_keys", "Keys held in a detector's counter table.", labels, nil),
		bytes: prometheus.NewDesc("smsfw_filter_counter_bytes",
			"Estimated memory of a detector's counter table (keys x estimated bytes per key).", labels, nil),
		maxBytes: prometheus.NewDesc("smsfw_filter_counter_max_bytes",
			"Estimated memory of a detector's counter table when full (its share of detectors.memory).", labels, nil),
		evictions: prometheus.NewDesc("smsfw_filter_counter_evictions_total",
			"Live keys evicted from a full counter table to make room (least recently used of a sample).", labels, nil),
		seen: map[[2]string]*evictionCount{},
	}
}

// set gives the collector its source of tables (the chain, once built).
func (cc *counterCollector) set(tables func() []ownedTable) {
	cc.mu.Lock()
	cc.tables = tables
	cc.mu.Unlock()
}

func (cc *counterCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- cc.keys
	ch <- cc.bytes
	ch <- cc.maxBytes
	ch <- cc.evictions
}

func (cc *counterCollector) Collect(ch chan<- prometheus.Metric) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.tables == nil {
		return
	}
	for _, t := range cc.tables() {
		st := t.Table.Stats()
		owner := string(t.owner)
		ch <- prometheus.MustNewConstMetric(cc.keys, prometheus.GaugeValue, float64(st.Len), owner, t.Name)
		ch <- prometheus.MustNewConstMetric(cc.bytes, prometheus.GaugeValue, float64(st.Bytes()), owner, t.Name)
		ch <- prometheus.MustNewConstMetric(cc.maxBytes, prometheus.GaugeValue, float64(st.MaxBytes()), owner, t.Name)
		k := [2]string{owner, t.Name}
		e := cc.seen[k]
		if e == nil {
			e = &evictionCount{table: t.Table}
			cc.seen[k] = e
		}
		if e.table != t.Table {
			e.table, e.base, e.last = t.Table, e.base+e.last, 0
		}
		e.last = st.Evictions
		ch <- prometheus.MustNewConstMetric(cc.evictions, prometheus.CounterValue, float64(e.base+e.last), owner, t.Name)
	}
}
