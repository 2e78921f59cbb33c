package daemon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/config"
)

// A source's poll is bounded twice: each step of it (a login, an SSH
// request, a command, an API call) by the source's own timeout, inside the
// source; and the whole poll here, by a budget, so that one source can never
// hold the cycle or the other sources, whatever its peer does and whatever
// step its own code forgot to bound. A poll that overruns its budget is
// abandoned: the cycle records the source as failing (so it turns stale, never
// healthy), goes on, and does not poll that source again until the abandoned
// poll has returned.

// pollBudget is how long one source's whole poll may take when it makes
// steps calls one after the other, each bounded by timeout: four timeouts,
// and more for a source with many steps (a router with many tunnels, an AWS
// source whose regions wait for one another) — each step may take a quarter
// of its timeout on average. It does not grow with the poll interval: a hung
// source must not keep a long-interval daemon from its first cycle.
func pollBudget(timeout time.Duration, steps int) time.Duration {
	return max(4*timeout, time.Duration(steps)*timeout/4)
}

// budget is pollBudget, remembered when it is the longest granted so far
// (stuckAfter allows for it).
func (d *Daemon) budget(timeout time.Duration, steps int) time.Duration {
	b := pollBudget(timeout, steps)
	for {
		old := d.longestGranted.Load()
		if int64(b) <= old || d.longestGranted.CompareAndSwap(old, int64(b)) {
			return b
		}
	}
}

// longestBudget is the longest any source's poll may take under cfg (or
// was granted: routers with many tunnels get more), its abandonment
// included.
func (d *Daemon) longestBudget(cfg *config.Config) time.Duration {
	var timeout time.Duration
	for _, a := range cfg.AWS {
		timeout = max(timeout, a.Timeout)
	}
	for _, r := range cfg.Routers {
		timeout = max(timeout, r.Timeout)
	}
	for _, g := range cfg.StrongSwan {
		timeout = max(timeout, g.Timeout)
	}
	return max(pollBudget(timeout, 1), time.Duration(d.longestGranted.Load())) + abandonGrace
}

// abandonGrace is how long a poll whose budget ran out (its context ended)
// is still waited for before it is abandoned: a source that honours its
// context returns well within it.
const abandonGrace = 2 * time.Second

// ErrPollOverran is the error of a source whose poll went past its budget
// and was abandoned, or whose abandoned poll has not returned yet.
var ErrPollOverran = errors.New("poll overran its budget")

// polling is a source's poll under way.
type polling struct {
	start time.Time
	done  chan struct{} // closed when the poll has returned
}

// runBounded runs poll for the source id with a context that ends after
// budget, and returns its result. When poll has not returned abandonGrace
// after that, it is abandoned and runBounded returns ErrPollOverran: the poll
// goes on alone, id stays in flight until it returns, and its result is
// dropped.
func runBounded[T any](ctx context.Context, d *Daemon, id config.SourceID, budget time.Duration, poll func(context.Context) T) (T, error) {
	p := &polling{start: time.Now(), done: make(chan struct{})}
	d.inFlight.Store(id, p)
	pctx, cancel := context.WithTimeout(ctx, budget)
	result := make(chan T, 1)
	go func() {
		defer cancel()
		r := poll(pctx)
		// Out of flight before the result is handed over: the next cycle
		// must not find a poll that has returned still running.
		d.inFlight.CompareAndDelete(id, p)
		close(p.done)
		result <- r
	}()
	select {
	case r := <-result:
		return r, nil
	case <-pctx.Done():
	}
	grace := time.NewTimer(abandonGrace)
	defer grace.Stop()
	select {
	case r := <-result:
		return r, nil
	case <-grace.C:
		var zero T
		return zero, fmt.Errorf("%w: no result within %s (four times the source's timeout, more for a source with many steps) nor %s after it was cancelled; abandoned, not polled again until it returns",
			ErrPollOverran, budget, abandonGrace)
	}
}

// overrunning returns the error to record for id when a poll of it that was
// abandoned earlier is still running.
func (d *Daemon) overrunning(id config.SourceID) error {
	v, ok := d.inFlight.Load(id)
	if !ok {
		return nil
	}
	return fmt.Errorf("%w: the poll started %s ago was abandoned and has not returned; not polled again until it does",
		ErrPollOverran, time.Since(v.(*polling).start).Round(time.Second))
}

// whenIdle calls f once no poll of id is running: at once, or when an
// abandoned poll returns (a source is closed only when nothing uses it).
func (d *Daemon) whenIdle(id config.SourceID, f func()) {
	v, ok := d.inFlight.Load(id)
	if !ok {
		f()
		return
	}
	go func() {
		<-v.(*polling).done
		f()
	}()
}
