package daemon

import (
	"os"
	"runtime"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultGCPercent is the garbage collector's target vpnwatchd runs with
// unless GOGC is set: half Go's default. A poll cycle allocates far more
// than it keeps (EC2 answers, console output); at Go's 100 % the process
// holds up to twice its live heap, at 50 % less, for a little more CPU
// (make bench-scale; README, Sizing).
const DefaultGCPercent = 50

// TuneRuntime turns the heap profiler's sampling off (vpnwatchd serves no
// profiles; at 1,000 VPNs its records are 1.6 MiB) and applies
// DefaultGCPercent unless the environment sets GOGC. It returns the GC
// percentage in force (-1: collection off). Call it once, first thing.
func TuneRuntime() int {
	runtime.MemProfileRate = 0
	if _, ok := os.LookupEnv("GOGC"); ok {
		cur := debug.SetGCPercent(100) // read it: there is no getter
		debug.SetGCPercent(cur)
		return cur
	}
	debug.SetGCPercent(DefaultGCPercent)
	return DefaultGCPercent
}

// releaser hands memory a burst left free back to the operating system
// at once. A poll cycle and a scrape of /metrics each allocate tens of MB
// (EC2 answers, console output, one label set per series) and keep little
// of it; the runtime returns such pages only slowly, so for most of the 30
// seconds between cycles the process would hold memory it no longer uses.
// debug.FreeOSMemory (a full collection, then return of every free page)
// costs tens of milliseconds at 1,000 VPNs, so it runs only when enough is
// free and at most once per releaseGap (a burst within the gap is released
// when the gap ends).
type releaser struct {
	wg      sync.WaitGroup // releases started or scheduled
	running atomic.Bool
	pending atomic.Bool // a release is scheduled for the end of the gap
	again   atomic.Bool // a burst ended while a release was running
	last    time.Time   // of the last release; only the running caller reads or sets it
	// min is how much heap beyond the live objects (garbage not yet
	// collected, free pages not yet returned) makes a release worthwhile;
	// gap is the least time between two releases.
	min uint64
	gap time.Duration
	// released counts releases, for tests.
	released atomic.Int64
}

const (
	releaseGap      = 5 * time.Second
	releaseMinBytes = 4 << 20
)

// release starts maybeRelease in the background.
func (r *releaser) release() {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.maybeRelease()
	}()
}

// wait waits for the releases started or scheduled so far.
func (r *releaser) wait() { r.wg.Wait() }

// maybeRelease releases memory now when worthwhile; if a release is
// already running, that one looks again when it is done.
func (r *releaser) maybeRelease() {
	if !r.running.CompareAndSwap(false, true) {
		r.again.Store(true) // the running one looks once more when done
		return
	}
	for {
		r.releaseOnce()
		r.running.Store(false)
		if !r.again.Swap(false) || !r.running.CompareAndSwap(false, true) {
			return
		}
	}
}

func (r *releaser) releaseOnce() {
	if wait := r.gap - time.Since(r.last); wait > 0 {
		if r.pending.CompareAndSwap(false, true) {
			r.wg.Add(1)
			time.AfterFunc(wait, func() {
				defer r.wg.Done()
				r.pending.Store(false)
				r.maybeRelease()
			})
		}
		return
	}
	if heapExcess() < r.min {
		return
	}
	debug.FreeOSMemory()
	r.last = time.Now()
	r.released.Add(1)
}

// heapExcess is the heap the process holds beyond what the last collection
// found live: garbage not collected yet and free pages not returned yet.
func heapExcess() uint64 {
	s := []rtmetrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
		{Name: "/gc/heap/live:bytes"},
	}
	rtmetrics.Read(s)
	var held uint64
	for _, v := range s[:3] {
		held += v.Value.Uint64()
	}
	return held - min(held, s[3].Value.Uint64())
}
