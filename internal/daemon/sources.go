package daemon

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/vpnwatchd/vpnwatchd/internal/aws"
	"github.com/vpnwatchd/vpnwatchd/internal/config"
	"github.com/vpnwatchd/vpnwatchd/internal/correlate"
	"github.com/vpnwatchd/vpnwatchd/internal/rtx"
)

// sources are the pollers built from one configuration.
type sources struct {
	aws []*aws.Poller
	rtx []*rtx.Poller
}

// close ends the routers' SSH sessions of pollers not in keep.
func (s *sources) closeExcept(keep *sources) {
	if s == nil {
		return
	}
	for _, p := range s.rtx {
		if keep == nil || indexFunc(keep.rtx, func(q *rtx.Poller) bool { return q == p }) < 0 {
			p.Close()
		}
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
			OnRequest: d.awsMetrics.CountRequest,
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
		s.rtx = append(s.rtx, rtx.NewPoller(r, rtx.Options{
			Logger:      d.log.With(zap.String("router", r.Name)),
			OnConnect:   d.rtxMetrics.CountConnect,
			OnOversize:  d.rtxMetrics.CountOversize,
			Now:         d.now,
			KeepOutputs: d.opts.RecordRTX,
		}))
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

// selection names the sources of a targeted poll (a syslog event); nil
// is every source.
type selection struct {
	routers map[string]bool
	regions map[string]bool // "source/region"
}

func (s *selection) router(name string) bool { return s == nil || s.routers[name] }
func (s *selection) region(src, region string) bool {
	return s == nil || s.regions[src+"/"+region]
}

// pollAll polls every source and records the results.
func (d *Daemon) pollAll(ctx context.Context) (ok, failed int) { return d.poll(ctx, nil) }

// InFlight lists the sources being polled now that started longer than
// after ago, with how long they have taken, sorted: `check` says what it is
// still waiting for.
func (d *Daemon) InFlight(after time.Duration) []string {
	var out []string
	d.inFlight.Range(func(k, v any) bool {
		if since := time.Since(v.(time.Time)); since >= after {
			out = append(out, fmt.Sprintf("%s (%s)", k, since.Round(time.Second)))
		}
		return true
	})
	slices.Sort(out)
	return out
}

// poll polls the selected sources and replaces their latest snapshots.
func (d *Daemon) poll(ctx context.Context, sel *selection) (ok, failed int) {
	srcs := d.sources
	if sel != nil && !d.latestMatches(srcs) {
		sel = nil // the sources changed (reload): poll them all
	}
	results := make([][]aws.Snapshot, len(srcs.aws))
	routers := make([]rtx.Snapshot, len(srcs.rtx))
	polled := make([]bool, len(srcs.rtx))
	var wg sync.WaitGroup
	for i, p := range srcs.aws {
		var regions []string
		for _, r := range p.Source().Regions {
			if sel.region(p.Source().Name, r) {
				regions = append(regions, r)
			}
		}
		if len(regions) > 0 {
			wg.Go(func() {
				name := "aws " + p.Source().Name
				d.inFlight.Store(name, time.Now())
				defer d.inFlight.Delete(name)
				results[i] = p.PollRegions(ctx, regions)
			})
		}
	}
	// Each router has its own timeouts: a hung router holds up only itself
	// and one of the slots.
	slots := make(chan struct{}, routersAtOnce)
	for i, p := range srcs.rtx {
		if !sel.router(p.Router().Name) {
			continue
		}
		polled[i] = true
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			name := "rtx " + p.Router().Name
			d.inFlight.Store(name, time.Now())
			defer d.inFlight.Delete(name)
			routers[i] = p.Poll(ctx)
		})
	}
	wg.Wait()
	for i, s := range routers {
		if !polled[i] {
			continue
		}
		if d.syslog != nil {
			routers[i].Syslog = d.syslog.events(s.Router)
		}
		d.rtxMetrics.Update(s)
		d.noteSource("rtx/"+s.Router, s.Err)
		if s.Err != nil {
			failed++
		} else {
			ok++
		}
		for _, t := range s.Tunnels {
			key := fmt.Sprintf("%s/%d", s.Router, t.Config.Number)
			if prev, ok := d.rekeys[key]; ok && t.Rekeys > prev {
				d.addEvent(fmt.Sprintf("rekey seen on RTX %s tunnel %d (new IPsec SAs)", s.Router, t.Config.Number))
			}
			d.rekeys[key] = t.Rekeys
		}
		for _, w := range s.Warnings {
			d.log.Debug("router output line not understood", zap.String("router", s.Router), zap.String("command", w.Command), zap.Int("line", w.Line))
		}
		for _, u := range s.Config.Unused {
			d.log.Debug("config line not used", zap.String("router", s.Router), zap.String("line", u))
		}
	}
	for _, snaps := range results {
		d.awsMetrics.Update(snaps)
		for _, s := range snaps {
			d.noteSource(fmt.Sprintf("aws/%s/%s", s.Source, s.Region), s.Err)
			if s.Err != nil {
				failed++
			} else {
				ok++
			}
		}
	}
	if sel == nil {
		d.latestRTX, d.latestAWS = routers, results
		return ok, failed
	}
	// A targeted poll replaces only what it polled; the slices are copied,
	// never changed in place.
	latestRTX := slices.Clone(d.latestRTX)
	for i := range routers {
		if polled[i] {
			latestRTX[i] = routers[i]
		}
	}
	latestAWS := slices.Clone(d.latestAWS)
	for i, snaps := range results {
		if len(snaps) == 0 {
			continue
		}
		merged := slices.Clone(latestAWS[i])
		for _, s := range snaps {
			if j := slices.IndexFunc(merged, func(m aws.Snapshot) bool { return m.Region == s.Region }); j >= 0 {
				merged[j] = s
			} else {
				merged = append(merged, s)
			}
		}
		latestAWS[i] = merged
	}
	d.latestRTX, d.latestAWS = latestRTX, latestAWS
	return ok, failed
}

// latestMatches reports whether the latest snapshots are of srcs, index by
// index, so that a targeted poll can replace some of them.
func (d *Daemon) latestMatches(srcs *sources) bool {
	if len(d.latestRTX) != len(srcs.rtx) || len(d.latestAWS) != len(srcs.aws) {
		return false
	}
	for i, p := range srcs.rtx {
		if d.latestRTX[i].Router != p.Router().Name {
			return false
		}
	}
	for i, p := range srcs.aws {
		if len(d.latestAWS[i]) != len(p.Source().Regions) || len(d.latestAWS[i]) > 0 && d.latestAWS[i][0].Source != p.Source().Name {
			return false
		}
	}
	return true
}

// triggered returns what a syslog event of routers asks to poll: those
// routers, and the AWS regions of the VPN connections the correlator joins
// to their tunnels, unless asked less than awsTriggerGap ago for an
// earlier event.
func (d *Daemon) triggered(c *config.Config, routers map[string]bool, now time.Time) *selection {
	sel := &selection{routers: routers, regions: map[string]bool{}}
	for _, ref := range correlate.JoinedRegions(d.observations(c), d.now(), routers) {
		key := ref.Name + "/" + ref.Region
		if now.Sub(d.regionTriggered[key]) >= awsTriggerGap {
			sel.regions[key] = true
			d.regionTriggered[key] = now
		} else {
			d.metrics.TriggersDeferred.WithLabelValues(correlate.SourceAWS, ref.Name, ref.Region, "").Inc()
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
func (d *Daemon) noteSource(key string, err error) {
	prev, seen := d.sourceErr[key]
	if err == nil {
		d.lastOK[key] = d.now()
	}
	switch {
	case err != nil && (!seen || prev != err.Error()):
		d.log.Warn("source failing", zap.String("source", key), zap.Error(err))
		d.addEvent(fmt.Sprintf("source %s failing: %v", key, err))
		d.sourceErr[key] = err.Error()
	case err == nil && seen && prev != "":
		d.log.Info("source recovered", zap.String("source", key))
		d.addEvent("source " + key + " recovered")
		d.sourceErr[key] = ""
	case err == nil && !seen:
		d.log.Info("source up", zap.String("source", key))
		d.sourceErr[key] = ""
	}
}
