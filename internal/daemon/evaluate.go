package daemon

import (
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/vpnwatchd/vpnwatchd/internal/config"
	"github.com/vpnwatchd/vpnwatchd/internal/correlate"
)

// LoadConfig loads the configuration and checks its rule overrides against
// the correlator's rules.
func LoadConfig(path string) (*config.Config, error) {
	return config.LoadChecked(path, correlate.RuleNames())
}

// Expected lists the polled sources a configuration asks for (probes
// report on their own).
func Expected(c *config.Config) []correlate.SourceRef {
	var out []correlate.SourceRef
	for _, id := range c.Sources() {
		if id.Type != config.SourceProbe {
			out = append(out, id)
		}
	}
	return out
}

// Joins returns the explicit tunnel joins of a configuration by router.
func Joins(c *config.Config) map[string][]config.TunnelJoin {
	out := map[string][]config.TunnelJoin{}
	for _, r := range c.Routers {
		if len(r.Tunnels) > 0 {
			out[r.Name] = r.Tunnels
		}
	}
	return out
}

// observations gathers the latest snapshots of every source.
func (d *Daemon) observations(c *config.Config) correlate.Observations {
	obs := correlate.Observations{Expected: Expected(c), PollInterval: c.Global.PollInterval, Joins: Joins(c), Probes: d.probes.snapshot(),
		StateDir: c.Global.StateDir}
	// Gateways come mapped once per poll (an RTX's too), not again at
	// every evaluation.
	obs.AWS, obs.Gateways = d.main.latest.snapshots(c)
	if d.alerts != nil {
		if err := d.alerts.StateError(); err != nil {
			obs.StateError = err.Error()
		}
	}
	return obs
}

// evaluate runs the correlator over the latest observations, logs the
// findings that start and end, and rebuilds the /metrics body.
func (d *Daemon) evaluate(c *config.Config) []correlate.Finding {
	now := d.now()
	m := &d.main
	next, result, views := m.evaluator.EvaluateView(m.state, d.observations(c), now)
	active := result.Findings
	m.state, m.views, m.unchecked = next, views, result.Unchecked
	m.holdEnd, _ = m.evaluator.NextHoldEnd(next, now)
	current := map[correlate.FindingID]correlate.Finding{}
	for _, f := range active {
		current[f.ID()] = f
		if _, was := m.active[f.ID()]; !was {
			d.log.Warn("finding", zap.String("rule", f.Rule), zap.String("severity", f.Severity),
				zap.String("subject", f.Subject.String()), zap.String("summary", f.Summary), zap.String("fix", f.Remediation))
			d.events.add(fmt.Sprintf("%s %s firing: %s", strings.ToUpper(f.Severity), f.Rule, f.Subject))
			if d.opts.OnFinding != nil {
				d.opts.OnFinding(true, f)
			}
		}
	}
	for id, f := range m.active {
		if _, still := current[id]; !still {
			d.log.Info("finding resolved", zap.String("rule", f.Rule), zap.String("subject", f.Subject.String()))
			m.resolved = append(m.resolved, resolvedFinding{f, now})
			d.events.add(fmt.Sprintf("%s resolved: %s", f.Rule, f.Subject))
			if d.opts.OnFinding != nil {
				d.opts.OnFinding(false, f)
			}
		}
	}
	m.active = current
	// Resolved findings stay in the timelines for a day, 500 at most.
	i := 0
	for i < len(m.resolved) && (now.Sub(m.resolved[i].at) > 24*time.Hour || len(m.resolved)-i > eventsKept) {
		i++
	}
	m.resolved = m.resolved[i:]
	m.latest.findings = active
	d.buildMetrics()
	if d.alerts != nil {
		if err := d.alerts.Update(active, d.now()); err != nil {
			d.log.Error("notifications not queued", zap.Error(err))
		}
		// A group's message waiting for group_wait or group_interval is
		// sent when due: evaluate again then.
		if due, ok := d.alerts.NextDue(); ok && (m.holdEnd.IsZero() || due.Before(m.holdEnd)) {
			m.holdEnd = due
		}
	}
	return active
}

// buildMetrics renders the /metrics body of the latest data, once per
// change of it rather than at every scrape.
func (d *Daemon) buildMetrics() {
	if err := d.metrics.body.Build(d.main.latest); err != nil {
		d.log.Error("metrics not rendered; /metrics fails until the next cycle", zap.Error(err))
	}
}
