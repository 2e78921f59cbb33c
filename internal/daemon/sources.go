package daemon

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"

	"go.uber.org/zap"

	"github.com/vpnwatchd/vpnwatchd/internal/aws"
	"github.com/vpnwatchd/vpnwatchd/internal/config"
)

// sources are the pollers built from one configuration.
type sources struct {
	aws []*aws.Poller
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
		p, err := aws.New(ctx, src, aws.Options{
			Logger:    d.log.With(zap.String("source", src.Name)),
			OnRequest: d.awsMetrics.CountRequest,
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.aws = append(s.aws, p)
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

// pollAll polls every source at once and records the results.
func (d *Daemon) pollAll(ctx context.Context) (ok, failed int) {
	srcs := d.sources
	results := make([][]aws.Snapshot, len(srcs.aws))
	var wg sync.WaitGroup
	for i, p := range srcs.aws {
		wg.Go(func() { results[i] = p.Poll(ctx) })
	}
	wg.Wait()
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
	d.latestAWS = results
	return ok, failed
}

// noteSource logs when a source starts failing, changes its error or
// recovers, not at every poll.
func (d *Daemon) noteSource(key string, err error) {
	prev, seen := d.sourceErr[key]
	switch {
	case err != nil && (!seen || prev != err.Error()):
		d.log.Warn("source failing", zap.String("source", key), zap.Error(err))
		d.sourceErr[key] = err.Error()
	case err == nil && seen && prev != "":
		d.log.Info("source recovered", zap.String("source", key))
		d.sourceErr[key] = ""
	case err == nil && !seen:
		d.log.Info("source up", zap.String("source", key))
		d.sourceErr[key] = ""
	}
}
