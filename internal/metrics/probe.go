package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vpnwatchd/vpnwatchd/internal/probe"
)

var (
	probeLabels         = []string{"probe", "target", "path"}
	famProbeUp          = newGauge(Namespace+"_probe_up", "1 if the last DF ping search reached its target.", probeLabels...)
	famProbePathMTU     = newGauge(Namespace+"_probe_path_mtu_bytes", "Path MTU the last search measured (largest DF payload + IP and ICMP headers).", probeLabels...)
	famProbeRTT         = newGauge(Namespace+"_probe_rtt_seconds", "Shortest echo round trip of the last search.", probeLabels...)
	famProbeFragNeeded  = newGauge(Namespace+"_probe_icmp_frag_needed_seen", "1 if the path answered oversize probes with ICMP fragmentation needed / packet too big; 0 also when nothing was too big (see vpnwatch_probe_black_hole).", probeLabels...)
	famProbeBlackHole   = newGauge(Namespace+"_probe_black_hole", "1 if packets larger than the path MTU were dropped without any ICMP error (path-MTU discovery cannot work); 0 if an ICMP error came back, this host's own MTU was the limit, or the largest size passed.", probeLabels...)
	famProbeProbes      = newGauge(Namespace+"_probe_probes", "Echo requests the last search sent.", probeLabels...)
	famProbeLastTimeSec = newGauge(Namespace+"_probe_last_run_timestamp_seconds", "When the last search ended.", probeLabels...)
)

// Probes exports the latest probe results. They are the daemon's (its
// probe runner keeps them, under its own lock); the collector reads them
// at each scrape.
type Probes struct {
	latest func() []probe.Observation
}

// NewProbes creates the probe collector over latest (sorted by name) and
// registers it.
func NewProbes(r prometheus.Registerer, latest func() []probe.Observation) *Probes {
	p := &Probes{latest: latest}
	r.MustRegister(p)
	return p
}

// Describe sends nothing: the collector is unchecked.
func (p *Probes) Describe(chan<- *prometheus.Desc) {}

// Collect renders the latest results.
func (p *Probes) Collect(ch chan<- prometheus.Metric) {
	out := newSender(ch)
	for _, o := range p.latest() {
		l := []string{o.Name, o.Target, o.Path}
		out.send(famProbeUp, boolValue(o.Err == nil), l...)
		out.send(famProbeLastTimeSec, float64(o.TakenAt.UnixNano())/1e9, l...)
		out.send(famProbeProbes, float64(o.Result.Probes), l...)
		if o.Err != nil {
			continue
		}
		out.send(famProbePathMTU, float64(o.Result.PathMTU), l...)
		out.send(famProbeRTT, o.Result.RTT.Seconds(), l...)
		out.send(famProbeFragNeeded, boolValue(o.Result.FragNeededSeen), l...)
		out.send(famProbeBlackHole, boolValue(o.Result.Limit == probe.LimitSilence), l...)
	}
}
