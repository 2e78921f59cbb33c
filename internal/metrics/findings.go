package metrics

import (
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vpnwatchd/vpnwatchd/internal/correlate"
)

var famFindingActive = newGauge(Namespace+"_finding_active",
	"1 for each active finding (its hold time passed). Labels name the rule and the subject; absent when nothing is wrong.",
	"rule", "severity", "vpn_connection_id", "outside_ip", "router", "rtx_tunnel", "source", "region")

// Findings exports the active findings of the last evaluation.
type Findings struct {
	mu     sync.RWMutex
	active []correlate.Finding
}

// NewFindings creates the findings collector and registers it.
func NewFindings(r prometheus.Registerer) *Findings {
	f := &Findings{}
	r.MustRegister(f)
	return f
}

// Update replaces the active findings.
func (f *Findings) Update(active []correlate.Finding) {
	f.mu.Lock()
	f.active = active
	f.mu.Unlock()
}

// Describe sends nothing: the collector is unchecked.
func (f *Findings) Describe(chan<- *prometheus.Desc) {}

// Collect sends one series per active finding.
func (f *Findings) Collect(ch chan<- prometheus.Metric) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := newSender(ch)
	for _, x := range f.active {
		s := x.Subject
		tunnel := ""
		if s.RTXTunnel != 0 {
			tunnel = strconv.Itoa(s.RTXTunnel)
		}
		out.send(famFindingActive, 1, x.Rule, x.Severity, s.VPNConnectionID, s.OutsideIP, s.Router, tunnel, s.Source, s.Region)
	}
}
