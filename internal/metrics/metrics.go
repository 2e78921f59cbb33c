// Package metrics owns how vpnwatchd exports to Prometheus: the metric
// names, labels and help texts of what it watches, the registry with the
// process and build metrics, the daemon's own (reloads, cycles,
// syslog-triggered polls held back), the request and login counters of
// the AWS and RTX pollers, and /metrics itself (Handler). It owns no data:
// the series of the latest AWS and RTX observations and the active
// findings are rendered from the daemon's store of them (Latest) into a
// Body once per change, and the probe series are read from the daemon's
// probe runner at each scrape. Two other packages register counters of
// their own on the registry, because they own the events counted: alert
// (notifications sent, failed, silenced, queued; the state file) and the
// daemon's syslog receiver (messages by kind, dropped). Every name starts
// with vpnwatch_.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
)

// Namespace prefixes every vpnwatchd metric.
const Namespace = "vpnwatch"

// NewRegistry returns a registry with the Go runtime, process and
// vpnwatch_build_info collectors.
func NewRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		versioncollector.NewCollector(Namespace),
	)
	return r
}

// Daemon holds the metrics of the daemon itself: configuration reloads and
// poll cycles.
type Daemon struct {
	ConfigLastReloadSuccessful       prometheus.Gauge
	ConfigLastReloadSuccessTimestamp prometheus.Gauge
	CycleDuration                    prometheus.Histogram
	LastCycleTimestamp               prometheus.Gauge
	// TriggersDeferred counts syslog events that asked for a poll of a
	// router or AWS region inside its budget: merged into a later poll
	// (routers) or left to the follow-up and regular polls (regions).
	TriggersDeferred *prometheus.CounterVec
}

// NewDaemon creates the daemon metrics and registers them with r.
func NewDaemon(r prometheus.Registerer) *Daemon {
	d := &Daemon{
		ConfigLastReloadSuccessful: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "config_last_reload_successful",
			Help: "Whether the last configuration load (start-up, SIGHUP or /-/reload) succeeded.",
		}),
		ConfigLastReloadSuccessTimestamp: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "config_last_reload_success_timestamp_seconds",
			Help: "Time of the last successful configuration load.",
		}),
		CycleDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "cycle_duration_seconds",
			Help:    "Time taken by one poll cycle over every source.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}),
		LastCycleTimestamp: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "last_cycle_timestamp_seconds",
			Help: "Time the last complete poll cycle ended.",
		}),
		TriggersDeferred: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "syslog_triggered_polls_deferred_total",
			Help: "Syslog events that asked for a poll inside the budget (a router once per 10 s, an AWS region once per 30 s): merged into a later poll, not an extra one. A flood of them is a spoofed or very chatty source.",
		}, []string{"type", "source", "region", "router"}),
	}
	r.MustRegister(d.ConfigLastReloadSuccessful, d.ConfigLastReloadSuccessTimestamp, d.CycleDuration, d.LastCycleTimestamp, d.TriggersDeferred)
	return d
}
