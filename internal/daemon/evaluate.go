package daemon

import (
	"fmt"
	"strings"

	"go.uber.org/zap"

	"github.com/vpnwatchd/vpnwatchd/internal/config"
	"github.com/vpnwatchd/vpnwatchd/internal/correlate"
)

// LoadConfig loads the configuration and checks its rule overrides against
// the correlator's rules.
func LoadConfig(path string) (*config.Config, error) {
	return config.LoadChecked(path, correlate.RuleNames())
}

// Expected lists the sources a configuration asks for.
func Expected(c *config.Config) []correlate.SourceRef {
	var out []correlate.SourceRef
	for _, a := range c.AWS {
		for _, r := range a.Regions {
			out = append(out, correlate.SourceRef{Type: correlate.SourceAWS, Name: a.Name, Region: r})
		}
	}
	for _, r := range c.Routers {
		out = append(out, correlate.SourceRef{Type: correlate.SourceRTX, Name: r.Name})
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
	obs := correlate.Observations{RTX: d.latestRTX, Expected: Expected(c), PollInterval: c.Global.PollInterval, Joins: Joins(c), Probes: d.probes.snapshot(),
		StateDir: c.Global.StateDir}
	if d.alerts != nil {
		if err := d.alerts.StateError(); err != nil {
			obs.StateError = err.Error()
		}
	}
	for _, snaps := range d.latestAWS {
		obs.AWS = append(obs.AWS, snaps...)
	}
	return obs
}

// evaluate runs the correlator over the latest observations and logs the
// findings that start and end.
func (d *Daemon) evaluate(c *config.Config) []correlate.Finding {
	now := d.now()
	next, active, views := d.evaluator.EvaluateView(d.state, d.observations(c), now)
	d.state, d.views = next, views
	d.holdEnd, _ = d.evaluator.NextHoldEnd(next, now)
	current := map[string]correlate.Finding{}
	for _, f := range active {
		current[f.Fingerprint()] = f
		if _, was := d.active[f.Fingerprint()]; !was {
			d.log.Warn("finding", zap.String("rule", f.Rule), zap.String("severity", f.Severity),
				zap.String("subject", f.Subject.String()), zap.String("summary", f.Summary), zap.String("fix", f.Remediation))
			d.addEvent(fmt.Sprintf("%s %s firing: %s", strings.ToUpper(f.Severity), f.Rule, f.Subject))
			if d.opts.OnFinding != nil {
				d.opts.OnFinding(true, f)
			}
		}
	}
	for fp, f := range d.active {
		if _, still := current[fp]; !still {
			d.log.Info("finding resolved", zap.String("rule", f.Rule), zap.String("subject", f.Subject.String()))
			d.addEvent(fmt.Sprintf("%s resolved: %s", f.Rule, f.Subject))
			if d.opts.OnFinding != nil {
				d.opts.OnFinding(false, f)
			}
		}
	}
	d.active = current
	d.findingMetrics.Update(active)
	if d.alerts != nil {
		if err := d.alerts.Update(active, d.now()); err != nil {
			d.log.Error("notifications not queued", zap.Error(err))
		}
	}
	return active
}
