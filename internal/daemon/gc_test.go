package daemon

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"strings"
	"testing"
	"time"
)

func TestTuneRuntime(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer func(rate int) { runtime.MemProfileRate = rate }(runtime.MemProfileRate)
	t.Setenv("GOGC", "") // set, even if empty: the user's choice is left alone
	debug.SetGCPercent(80)
	if got := TuneRuntime(); got != 80 {
		t.Errorf("with GOGC set: %d, want the runtime's 80 left alone", got)
	}
	// Without GOGC in the environment, DefaultGCPercent applies (t.Setenv
	// restores GOGC afterwards).
	os.Unsetenv("GOGC")
	if got := TuneRuntime(); got != DefaultGCPercent {
		t.Errorf("without GOGC: %d, want %d", got, DefaultGCPercent)
	}
	if cur := debug.SetGCPercent(100); cur != DefaultGCPercent {
		t.Errorf("runtime GC percent %d, want %d", cur, DefaultGCPercent)
	}
	if runtime.MemProfileRate != 0 {
		t.Errorf("heap profile sampling left on (rate %d)", runtime.MemProfileRate)
	}
}

// heapFree is the free heap the runtime has not returned to the OS.
func heapFree() uint64 {
	s := []rtmetrics.Sample{{Name: "/memory/classes/heap/free:bytes"}}
	rtmetrics.Read(s)
	return s[0].Value.Uint64()
}

var sink [][]byte

func TestReleaserReturnsWhatABurstLeftFree(t *testing.T) {
	burst := func() {
		for range 64 {
			sink = append(sink, make([]byte, 1<<20))
		}
		sink = nil
		runtime.GC() // the burst is garbage now, its pages free but held
	}
	r := releaser{min: 8 << 20, gap: 200 * time.Millisecond}
	burst()
	if free := heapFree(); free < 32<<20 {
		t.Skipf("the runtime already returned the burst (%d bytes free); nothing to test", free)
	}
	r.maybeRelease()
	if r.released.Load() != 1 {
		t.Fatal("no release after a 64 MiB burst")
	}
	if free := heapFree(); free >= 8<<20 {
		t.Errorf("%d bytes still free and held after the release", free)
	}
	// A second burst within the gap is released when the gap ends.
	burst()
	r.maybeRelease()
	if r.released.Load() != 1 {
		t.Error("released twice within the gap")
	}
	r.wait()
	if r.released.Load() != 2 {
		t.Error("the burst within the gap was never released")
	}
	// Too little free: no release.
	r.last = time.Time{}
	r.min = 1 << 40
	r.maybeRelease()
	if n := r.released.Load(); n != 2 {
		t.Errorf("released with less free than the minimum (%d releases)", n)
	}
}

// A burst that ends while a release runs is not lost: the running release
// looks once more.
func TestReleaserBurstDuringRelease(t *testing.T) {
	r := releaser{min: 0, gap: 0}
	r.running.Store(true) // a release in progress
	r.maybeRelease()
	if r.released.Load() != 0 || !r.again.Load() {
		t.Fatalf("while another runs: %d releases, again %v", r.released.Load(), r.again.Load())
	}
	r.running.Store(false)
	r.maybeRelease() // as the running one would go on: its own pass and the one asked for
	if n := r.released.Load(); n != 2 || r.again.Load() || r.running.Load() {
		t.Errorf("%d releases (want 2), again %v, running %v", n, r.again.Load(), r.running.Load())
	}
}

// A scrape of /metrics and a poll cycle each end with a release.
func TestScrapeAndCycleRelease(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "vpnwatchd.yaml")
	writeConfig(t, cfgFile, minimalConfig(dir, "30s"))
	d, err := New(Options{ConfigFile: cfgFile, ListenAddresses: []string{"127.0.0.1:0"}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	defer d.closeListeners()
	d.mem.min, d.mem.gap = 0, 0 // every burst counts
	waitReleases := func(what string, n int64) {
		t.Helper()
		d.mem.wait()
		if got := d.mem.released.Load(); got != n {
			t.Fatalf("after %s: %d releases, want %d", what, got, n)
		}
	}
	d.cycle(context.Background())
	waitReleases("a poll cycle", 1)
	rec := httptest.NewRecorder()
	d.handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "vpnwatch_cycle_duration_seconds") {
		t.Fatalf("/metrics: %d %.200s", rec.Code, rec.Body)
	}
	waitReleases("a scrape", 2)
}
