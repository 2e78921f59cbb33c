package probe

import (
	"context"
	"math/rand/v2"
	"time"
)

// Observation is the latest result of one configured probe.
type Observation struct {
	Name    string
	Target  string
	Path    string // "tunnel" or "wan"
	TakenAt time.Time
	Result  Result
	Err     error
}

// Run searches target every interval until ctx ends, starting after a
// random part of the interval so that probes do not run in lockstep with
// each other or with the polls, and reports each observation.
func Run(ctx context.Context, name, target, path string, interval time.Duration, o Options, report func(Observation)) {
	wait := time.Duration(rand.Int64N(int64(min(interval, 10*time.Second))))
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		r, err := Search(ctx, target, o)
		if ctx.Err() != nil {
			return
		}
		report(Observation{Name: name, Target: target, Path: path, TakenAt: time.Now(), Result: r, Err: err})
		wait = interval
	}
}
