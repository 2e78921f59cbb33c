package metrics

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
)

// family is one metric of the collectors over the sources: its descriptor,
// type and variable label names.
type family struct {
	desc   *prometheus.Desc
	name   string
	help   string
	typ    prometheus.ValueType
	labels []string
	names  []*string // labels as the exposition wants them, one pointer each
	order  []int     // label positions sorted by name (the exposition's order)
}

func newFamily(typ prometheus.ValueType, name, help string, labels ...string) *family {
	f := &family{desc: prometheus.NewDesc(name, help, labels, nil), name: name, help: help, typ: typ, labels: labels}
	for i := range labels {
		f.order = append(f.order, i)
		f.names = append(f.names, proto.String(labels[i]))
	}
	sort.SliceStable(f.order, func(a, b int) bool { return labels[f.order[a]] < labels[f.order[b]] })
	return f
}

func newGauge(name, help string, labels ...string) *family {
	return newFamily(prometheus.GaugeValue, name, help, labels...)
}

// sender sends the series of one scrape. Each label pair (router="r000")
// is made once per scrape and shared by every series that carries it:
// at 1,000 VPNs and 200 routers a scrape has 40,000 series, and a pair per
// label per series (prometheus.MustNewConstMetric) was half of its memory.
// Pairs are immutable once made, as client_golang requires of a Metric's
// labels.
//
// A sender made by newTextSender writes the series as exposition text
// instead (Body.Build): the same collectors, without a channel send, a
// dto.Metric and the text encoder per series.
type sender struct {
	ch    chan<- prometheus.Metric
	pairs map[pairKey]*dto.LabelPair
	text  *textSink
}

type pairKey struct{ name, value string }

func newSender(ch chan<- prometheus.Metric) *sender {
	return &sender{ch: ch, pairs: map[pairKey]*dto.LabelPair{}}
}

// send sends one series; values are in the family's label order.
func (s *sender) send(f *family, v float64, values ...string) {
	if s.text != nil {
		s.text.write(f, v, values)
		return
	}
	if len(values) != len(f.labels) {
		// A programming error, reported on the scrape like client_golang's
		// own inconsistent-cardinality error, not a crash of the daemon.
		s.ch <- prometheus.NewInvalidMetric(f.desc, fmt.Errorf("%d label values %q for the labels %q", len(values), values, f.labels))
		return
	}
	ls := make([]*dto.LabelPair, len(values))
	for i, j := range f.order {
		k := pairKey{f.labels[j], values[j]}
		p := s.pairs[k]
		if p == nil {
			value := values[j]
			if !utf8.ValidString(value) {
				value = strings.ToValidUTF8(value, "\uFFFD") // a router's bytes, not UTF-8
			}
			p = &dto.LabelPair{Name: f.names[j], Value: &value}
			s.pairs[k] = p
		}
		ls[i] = p
	}
	s.ch <- &series{f: f, labels: ls, value: v}
}

// series is one sample with its shared label pairs.
type series struct {
	f      *family
	labels []*dto.LabelPair
	value  float64
}

func (s *series) Desc() *prometheus.Desc { return s.f.desc }

func (s *series) Write(m *dto.Metric) error {
	m.Label = s.labels
	if s.f.typ == prometheus.CounterValue {
		m.Counter = &dto.Counter{Value: &s.value}
	} else {
		m.Gauge = &dto.Gauge{Value: &s.value}
	}
	return nil
}
