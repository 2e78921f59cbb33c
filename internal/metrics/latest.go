package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vpnwatchd/vpnwatchd/internal/aws"
	"github.com/vpnwatchd/vpnwatchd/internal/correlate"
	"github.com/vpnwatchd/vpnwatchd/internal/gateway"
	"github.com/vpnwatchd/vpnwatchd/internal/rtx"
)

// Latest is what the sources said last and what the last evaluation found,
// as their one owner (the daemon's store of the latest data) keeps it. The
// metrics package keeps no copy: the collector reads it while the /metrics
// body is built (Body.Build), which its owner does on its own goroutine.
type Latest interface {
	// EachAWS calls f for every AWS source and region, in a stable
	// order, with its latest snapshot and when it last succeeded.
	EachAWS(f func(s aws.Snapshot, lastSuccess time.Time, succeeded bool))
	// EachRTX does the same for the routers.
	EachRTX(f func(s rtx.Snapshot, lastSuccess time.Time, succeeded bool))
	// EachGateway does the same for the other customer gateways
	// (strongSwan), in gateway terms.
	EachGateway(f func(s gateway.Snapshot, lastSuccess time.Time, succeeded bool))
	// ActiveFindings are the last evaluation's findings.
	ActiveFindings() []correlate.Finding
}

// latestCollector renders a Latest: the vpnwatch_source_* series of AWS
// regions and routers, AWS connections and tunnels, RTX tunnels and BGP,
// and vpnwatch_finding_active.
type latestCollector struct{ l Latest }

// NewLatest returns the collector of l's series.
func NewLatest(l Latest) prometheus.Collector { return latestCollector{l} }

// Describe sends nothing: the series depend on what the sources returned,
// so the collector is unchecked.
func (latestCollector) Describe(chan<- *prometheus.Desc) {}

// Collect renders the latest data.
func (c latestCollector) Collect(ch chan<- prometheus.Metric) { c.collect(newSender(ch)) }

func (c latestCollector) collect(out *sender) {
	c.l.EachAWS(func(s aws.Snapshot, last time.Time, ok bool) { collectAWS(out, s, last, ok) })
	c.l.EachRTX(func(s rtx.Snapshot, last time.Time, ok bool) { collectRTX(out, s, last, ok) })
	c.l.EachGateway(func(s gateway.Snapshot, last time.Time, ok bool) { collectGateway(out, s, last, ok) })
	collectFindings(out, c.l.ActiveFindings())
}
