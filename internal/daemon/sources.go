package daemon

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/vpnwatchd/vpnwatchd/internal/aws"
	"github.com/vpnwatchd/vpnwatchd/internal/config"
	"github.com/vpnwatchd/vpnwatchd/internal/correlate"
	"github.com/vpnwatchd/vpnwatchd/internal/gateway"
	"github.com/vpnwatchd/vpnwatchd/internal/rtx"
	"github.com/vpnwatchd/vpnwatchd/internal/strongswan"
)

// sources are the pollers built from one configuration.
type sources struct {
	aws  []*aws.Poller
	rtx  []*rtx.Poller
	swan []*swanGateway
}

// swanGateway is a strongSwan gateway's source and the watch of its events.
type swanGateway struct {
	cfg config.StrongSwan
	src *strongswan.Source
	// stop ends the watch of its events; nil while none runs.
	stop context.CancelFunc
}

// closeExcept ends the routers' SSH sessions and the gateways' watches and
// connections of sources not in keep; a source whose abandoned poll still
// runs is closed when that poll returns (whenIdle).
func (s *sources) closeExcept(keep *sources, whenIdle func(config.SourceID, func())) {
	if s == nil {
		return
	}
	for _, p := range s.rtx {
		if keep == nil || indexFunc(keep.rtx, func(q *rtx.Poller) bool { return q == p }) < 0 {
			whenIdle(config.RouterSource(p.Router().Name), p.Close)
		}
	}
	for _, g := range s.swan {
		if keep == nil || indexFunc(keep.swan, func(q *swanGateway) bool { return q == g }) < 0 {
			if g.stop != nil {
				g.stop()
			}
			whenIdle(config.StrongSwanSource(g.cfg.Name), func() { g.src.Close() })
		}
	}
}

// watch starts watching the events of gateways not yet watched: a state
// change polls that gateway at once, as a router's syslog does.
func (d *Daemon) watch(ctx context.Context, s *sources) {
	for _, g := range s.swan {
		if g.stop != nil {
			continue
		}
		wctx, stop := context.WithCancel(ctx)
		g.stop = stop
		id := config.StrongSwanSource(g.cfg.Name)
		go g.src.Watch(wctx, func(conn string, upDown bool) {
			d.log.Debug("strongswan event", zap.Stringer("source", id), zap.String("connection", conn), zap.Bool("up_down", upDown))
			d.trigger(id, upDown)
		})
	}
}

// buildSources makes the pollers for cfg, reusing those of prev whose
// configuration did not change, so that a reload keeps their memory
// (vanished connections, throttling backoff, maintenance answers).
func (d *Daemon) buildSources(ctx context.Context, cfg *config.Config, prev *sources) (*sources, error) {
	s := &sources{}
	var errs []error
	for _, src := range cfg.AWS {
		if prev != nil {
			if i := indexFunc(prev.aws, func(p *aws.Poller) bool { return reflect.DeepEqual(p.Source(), src) }); i >= 0 {
				s.aws = append(s.aws, prev.aws[i])
				continue
			}
		}
		opts := aws.Options{
			Logger:    d.log, // the poller names its source on each line
			OnRequest: d.metrics.aws.CountRequest,
		}
		if d.opts.RecordAWS != nil {
			opts.HTTPClient = d.opts.RecordAWS.For(src.Name)
		}
		p, err := aws.New(ctx, src, opts)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.aws = append(s.aws, p)
	}
	for _, r := range cfg.Routers {
		if prev != nil {
			if i := indexFunc(prev.rtx, func(p *rtx.Poller) bool { return reflect.DeepEqual(p.Router(), r) }); i >= 0 {
				s.rtx = append(s.rtx, prev.rtx[i])
				continue
			}
		}
		opts := rtx.Options{
			Logger:        d.log.With(zap.String("router", r.Name)),
			OnConnect:     d.metrics.rtx.CountConnect,
			OnOversize:    d.metrics.rtx.CountOversize,
			OnUnsupported: d.metrics.rtx.CountUnsupported,
			Now:           d.now,
			KeepOutputs:   d.opts.RecordRTX,
		}
		if prev != nil {
			// Its settings changed: what is known of its SAs carries over.
			if i := indexFunc(prev.rtx, func(p *rtx.Poller) bool { return p.Router().Name == r.Name }); i >= 0 {
				opts.History = prev.rtx[i].History()
			}
		}
		s.rtx = append(s.rtx, rtx.NewPoller(r, opts))
	}
	for _, g := range cfg.StrongSwan {
		if prev != nil {
			if i := indexFunc(prev.swan, func(p *swanGateway) bool { return reflect.DeepEqual(p.cfg, g) }); i >= 0 {
				s.swan = append(s.swan, prev.swan[i])
				continue
			}
		}
		opts := strongswan.OptionsFor(g)
		opts.Logger, opts.Now = d.log.With(zap.String("gateway", g.Name)), d.now
		opts.OnConnect = func(result string) { d.metrics.gw.CountConnect(config.SourceStrongSwan, g.Name, result) }
		if prev != nil {
			if i := indexFunc(prev.swan, func(p *swanGateway) bool { return p.cfg.Name == g.Name }); i >= 0 {
				opts.History = prev.swan[i].src.History()
			}
		}
		s.swan = append(s.swan, &swanGateway{cfg: g, src: strongswan.New(opts)})
	}
	return s, errors.Join(errs...)
}

func indexFunc[T any](s []T, f func(T) bool) int {
	for i, v := range s {
		if f(v) {
			return i
		}
	}
	return -1
}

// routersAtOnce bounds the routers polled at the same time, so that the
// outputs being read and parsed at once stay a bounded amount of memory.
const routersAtOnce = 50

// selection names the sources of a targeted poll (a syslog or vici
// event); nil is every source.
type selection struct {
	routers map[string]bool          // customer gateways by name (routers and others share names)
	regions map[config.SourceID]bool // AWS regions
}

func (s *selection) router(name string) bool { return s == nil || s.routers[name] }
func (s *selection) region(id config.SourceID) bool {
	return s == nil || s.regions[id]
}

// regionList is the selected regions, sorted, for the log.
func (s *selection) regionList() []config.SourceID {
	return slices.SortedFunc(maps.Keys(s.regions), compareSources)
}

// pollAll polls every source and records the results.
func (d *Daemon) pollAll(ctx context.Context) (ok, failed int) { return d.poll(ctx, nil) }

// Polling is a source being polled now, and for how long.
type Polling struct {
	Source config.SourceID // an AWS source without a region: all its regions are polled at once
	For    time.Duration
}

func (p Polling) String() string { return fmt.Sprintf("%s (%s)", p.Source, p.For.Round(time.Second)) }

// InFlight lists the sources being polled now that started longer than
// after ago, sorted: `check` says what it is still waiting for.
func (d *Daemon) InFlight(after time.Duration) []Polling {
	var out []Polling
	d.inFlight.Range(func(k, v any) bool {
		if since := time.Since(v.(*polling).start); since >= after {
			out = append(out, Polling{Source: k.(config.SourceID), For: since})
		}
		return true
	})
	slices.SortFunc(out, func(a, b Polling) int { return compareSources(a.Source, b.Source) })
	return out
}

// poll polls the selected sources, and any not polled since they were
// configured, and records their snapshots. Each source's poll is bounded
// (runBounded): one that overruns is recorded as failing and the cycle goes
// on without it.
func (d *Daemon) poll(ctx context.Context, sel *selection) (ok, failed int) {
	srcs, latest := d.main.sources, d.main.latest
	awsResults := make([][]aws.Snapshot, len(srcs.aws))
	rtxResults := make([]*rtx.Snapshot, len(srcs.rtx))
	swanResults := make([]*gateway.Snapshot, len(srcs.swan))
	var wg sync.WaitGroup
	for i, p := range srcs.aws {
		var regions []string
		for _, r := range p.Source().Regions {
			if id := config.AWSRegion(p.Source().Name, r); sel.region(id) || !latest.has(id) {
				regions = append(regions, r)
			}
		}
		if len(regions) == 0 {
			continue
		}
		id := config.SourceID{Type: config.SourceAWS, Name: p.Source().Name}
		overran := func(err error) []aws.Snapshot {
			out := make([]aws.Snapshot, len(regions))
			for j, r := range regions {
				out[j] = aws.Snapshot{Source: p.Source().Name, Region: r, TakenAt: d.now(), Err: fmt.Errorf("aws %s %s: %w", p.Source().Name, r, err)}
			}
			return out
		}
		if err := d.overrunning(id); err != nil {
			awsResults[i] = overran(err)
			continue
		}
		wg.Go(func() {
			snaps, err := runBounded(ctx, d, id, d.budget(p.Source().Timeout, 16*aws.Rounds(len(regions))), func(ctx context.Context) []aws.Snapshot {
				return p.PollRegions(ctx, regions)
			})
			if err != nil {
				snaps = overran(err)
			}
			awsResults[i] = snaps
		})
	}
	// Each router has its own timeouts and budget: a hung router holds up
	// only itself and one of the slots, for its budget at most.
	slots := make(chan struct{}, routersAtOnce)
	for i, p := range srcs.rtx {
		name := p.Router().Name
		id := config.RouterSource(name)
		if !sel.router(name) && latest.has(id) {
			continue
		}
		if err := d.overrunning(id); err != nil {
			rtxResults[i] = &rtx.Snapshot{Router: name, TakenAt: d.now(), Err: fmt.Errorf("rtx %s: %w", name, err)}
			continue
		}
		budget := d.budget(p.Router().Timeout, 2+p.Commands()) // the login and the console's set-up too
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			s, err := runBounded(ctx, d, id, budget, p.Poll)
			if err != nil {
				s = rtx.Snapshot{Router: name, TakenAt: d.now(), Err: fmt.Errorf("rtx %s: %w", name, err)}
			}
			rtxResults[i] = &s
		})
	}
	for i, g := range srcs.swan {
		id := config.StrongSwanSource(g.cfg.Name)
		if !sel.router(g.cfg.Name) && latest.has(id) {
			continue
		}
		overran := func(err error) *gateway.Snapshot {
			return &gateway.Snapshot{Source: id, TakenAt: d.now(), Dialect: strongswan.Dialect(), Err: fmt.Errorf("strongswan %s: %w", g.cfg.Name, err)}
		}
		if err := d.overrunning(id); err != nil {
			swanResults[i] = overran(err)
			continue
		}
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			s, err := runBounded(ctx, d, id, d.budget(g.cfg.Timeout, 8), g.src.Poll)
			if err != nil {
				swanResults[i] = overran(err)
				return
			}
			swanResults[i] = &s
		})
	}
	wg.Wait()
	count := func(err error) {
		if err != nil {
			failed++
		} else {
			ok++
		}
	}
	for _, s := range rtxResults {
		if s == nil {
			continue
		}
		if d.syslog != nil {
			s.Syslog = d.syslog.events(s.Router)
		}
		d.noteSource(config.RouterSource(s.Router), latest.recordRTX(*s, cmp.Or(s.TakenAt, d.now())), s.Err)
		count(s.Err)
		for _, t := range s.Tunnels {
			if t.Rekeyed {
				d.events.add(fmt.Sprintf("rekey seen on RTX %s tunnel %d (new IPsec SAs)", s.Router, t.Config.Number))
			}
		}
		for _, w := range s.Warnings {
			d.log.Debug("router output line not understood", zap.String("router", s.Router), zap.String("command", w.Command), zap.Int("line", w.Line))
		}
		for _, u := range s.Config.Unused {
			d.log.Debug("config line not used", zap.String("router", s.Router), zap.String("line", u))
		}
	}
	for _, s := range swanResults {
		if s == nil {
			continue
		}
		d.noteSource(s.Source, latest.recordGateway(gatewayPoll{Snapshot: *s}, cmp.Or(s.TakenAt, d.now())), s.Err)
		count(s.Err)
		for _, t := range s.Tunnels {
			if t.Rekeyed {
				d.events.add(fmt.Sprintf("rekey seen on strongSwan %s connection %s (new child SAs)", s.Source.Name, t.Name))
			}
		}
		for _, w := range s.Warnings {
			d.log.Debug("gateway output not understood", zap.Stringer("source", s.Source), zap.String("command", w.Command), zap.String("text", w.Text))
		}
	}
	for _, snaps := range awsResults {
		for _, s := range snaps {
			d.noteSource(config.AWSRegion(s.Source, s.Region), latest.recordAWS(s, cmp.Or(s.TakenAt, d.now())), s.Err)
			count(s.Err)
		}
	}
	return ok, failed
}

// triggered returns what gateway events ask to poll: those gateways
// (routers), and the AWS regions of the VPN connections the correlator
// joins to the tunnels of withAWS, unless asked less than awsTriggerGap
// ago for an earlier event.
func (d *Daemon) triggered(c *config.Config, routers, withAWS map[string]bool, now time.Time) *selection {
	sel := &selection{routers: routers, regions: map[config.SourceID]bool{}}
	if len(withAWS) == 0 {
		return sel
	}
	for _, id := range correlate.JoinedRegions(d.observations(c), d.now(), withAWS) {
		if now.Sub(d.main.regionTriggered[id]) >= awsTriggerGap {
			sel.regions[id] = true
			d.main.regionTriggered[id] = now
		} else {
			d.metrics.daemon.TriggersDeferred.WithLabelValues(config.SourceAWS, id.Name, id.Region, "").Inc()
		}
	}
	return sel
}

// awsTriggerGap is the least time between two polls of an AWS region that
// syslog events trigger: a flapping (or spoofed) router must not spend the
// account's EC2 request budget. The follow-up poll and the regular polls
// still see the region.
const awsTriggerGap = 30 * time.Second

// awsFollowUp is when a region polled for a syslog event is asked once
// more, for telemetry AWS had not updated yet.
const awsFollowUp = 10 * time.Second

// noteSource logs when a source starts failing, changes its error or
// recovers, not at every poll.
func (d *Daemon) noteSource(id config.SourceID, h health, err error) {
	switch h {
	case healthFailing:
		d.log.Warn("source failing", zap.Stringer("source", id), zap.Error(err))
		d.events.add(fmt.Sprintf("source %s failing: %v", id, err))
	case healthRecovered:
		d.log.Info("source recovered", zap.Stringer("source", id))
		d.events.add(fmt.Sprintf("source %s recovered", id))
	case healthUp:
		d.log.Info("source up", zap.Stringer("source", id))
	}
}
