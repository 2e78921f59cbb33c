package daemon

import (
	"context"
	"reflect"
	"sort"
	"sync"

	"go.uber.org/zap"

	"github.com/vpnwatchd/vpnwatchd/internal/config"
	"github.com/vpnwatchd/vpnwatchd/internal/probe"
)

// probes runs the configured path-MTU probes, each on its own interval,
// apart from the poll cycle, and keeps their latest results.
type probes struct {
	log     *zap.Logger
	mu      sync.Mutex
	latest  map[string]probe.Observation
	running map[string]runningProbe
	wg      sync.WaitGroup
}

type runningProbe struct {
	cfg    config.Probe
	cancel context.CancelFunc
}

func newProbes(log *zap.Logger) *probes {
	return &probes{log: log, latest: map[string]probe.Observation{}, running: map[string]runningProbe{}}
}

// apply starts the probes of cfg and stops those it no longer has; probes
// whose settings did not change keep running.
func (p *probes) apply(ctx context.Context, cfg []config.Probe) {
	p.mu.Lock()
	defer p.mu.Unlock()
	want := map[string]config.Probe{}
	for _, c := range cfg {
		want[c.Name] = c
	}
	for name, r := range p.running {
		if c, ok := want[name]; !ok || !reflect.DeepEqual(c, r.cfg) {
			r.cancel()
			delete(p.running, name)
			delete(p.latest, name)
		}
	}
	for name, c := range want {
		if _, ok := p.running[name]; ok {
			continue
		}
		pctx, cancel := context.WithCancel(ctx)
		p.running[name] = runningProbe{cfg: c, cancel: cancel}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			probe.Run(pctx, c.Name, c.Target, c.Path, c.Interval, probe.Options{}, p.record)
		}()
	}
}

func (p *probes) record(o probe.Observation) {
	p.mu.Lock()
	prev, had := p.latest[o.Name]
	p.latest[o.Name] = o
	p.mu.Unlock()
	switch {
	case o.Err != nil && (!had || prev.Err == nil):
		p.log.Warn("probe failing", zap.String("probe", o.Name), zap.String("target", o.Target), zap.Error(o.Err))
	case o.Err == nil && (!had || prev.Err != nil || prev.Result.PathMTU != o.Result.PathMTU):
		p.log.Info("path MTU measured", zap.String("probe", o.Name), zap.String("target", o.Target), zap.Int("path_mtu", o.Result.PathMTU),
			zap.Int("probes", o.Result.Probes), zap.Bool("frag_needed_seen", o.Result.FragNeededSeen))
	}
}

// snapshot returns the latest results, ordered by name.
func (p *probes) snapshot() []probe.Observation {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]probe.Observation, 0, len(p.latest))
	for _, o := range p.latest {
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// stop ends every probe and waits for them.
func (p *probes) stop() {
	p.mu.Lock()
	for name, r := range p.running {
		r.cancel()
		delete(p.running, name)
	}
	p.mu.Unlock()
	p.wg.Wait()
}
