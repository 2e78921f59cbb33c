package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

type testCollector func(out *sender)

func (c testCollector) Describe(chan<- *prometheus.Desc)    {}
func (c testCollector) Collect(ch chan<- prometheus.Metric) { c(newSender(ch)) }

var (
	famTestGauge   = newGauge("test_gauge", "A gauge.", "router", "tunnel", "direction")
	famTestCounter = newFamily(prometheus.CounterValue, "test_total", "A counter.", "router", "tunnel")
)

func TestSenderSharesSortedLabelPairs(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(testCollector(func(out *sender) {
		out.send(famTestGauge, 1, "r1", "1", "send")
		out.send(famTestGauge, 2, "r1", "2", "recv")
		out.send(famTestCounter, 3, "r1", "1")
		out.send(famTestGauge, 4, "r\xff2", "1", "send") // not UTF-8
	}))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) != 2 || mfs[0].GetName() != "test_gauge" || mfs[1].GetName() != "test_total" {
		t.Fatalf("families %v", mfs)
	}
	g, c := mfs[0].GetMetric(), mfs[1].GetMetric()
	if len(g) != 3 || len(c) != 1 || c[0].GetCounter().GetValue() != 3 || mfs[1].GetType().String() != "COUNTER" {
		t.Fatalf("series: %v / %v", g, c)
	}
	var names []string
	for _, lp := range g[0].GetLabel() {
		names = append(names, lp.GetName()+"="+lp.GetValue())
	}
	if got := strings.Join(names, ","); got != "direction=recv,router=r1,tunnel=2" {
		t.Errorf("first series labels %s, want sorted by name", got)
	}
	// router="r1" is one pair for all three series of r1.
	r1 := g[0].GetLabel()[1]
	if g[1].GetLabel()[1] != r1 || c[0].GetLabel()[0] != r1 {
		t.Error(`router="r1" is not shared between series`)
	}
	if v := g[2].GetLabel()[1].GetValue(); v != "r\uFFFD2" {
		t.Errorf("a label value that is not UTF-8 came out as %q", v)
	}
}

func TestSenderWrongLabelCountIsAScrapeError(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(testCollector(func(out *sender) { out.send(famTestGauge, 1, "r1") }))
	if _, err := reg.Gather(); err == nil || !strings.Contains(err.Error(), `"router" "tunnel" "direction"`) {
		t.Errorf("Gather: %v, want an error naming the labels", err)
	}
}
