package daemon

import (
	"context"
	"fmt"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vpnwatchd/vpnwatchd/internal/metrics"
)

// handler serves /metrics, the health endpoints, /-/reload and the status
// page.
func (d *Daemon) handler() http.Handler {
	mux := http.NewServeMux()
	// The body of the latest data is built by the main loop; a scrape adds
	// what the registry gathers now.
	scrape := promhttp.InstrumentMetricHandler(d.metrics.reg, metrics.Handler(&d.metrics.body, d.metrics.reg))
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		scrape.ServeHTTP(w, r)
		d.mem.release() // a scrape's garbage is most of what it allocated
	})
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		if since, stuck := d.loopStuck(time.Now()); stuck {
			http.Error(w, fmt.Sprintf("Unhealthy: no poll cycle completed for %s (a hung reload or cycle)", since.Round(time.Second)), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "Healthy")
	})
	mux.HandleFunc("GET /-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !d.ready.Load() {
			http.Error(w, "Not ready: the first poll cycle has not completed", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "Ready")
	})
	reload := func(w http.ResponseWriter, r *http.Request) {
		if !d.opts.EnableLifecycle {
			http.Error(w, "Lifecycle API is not enabled: start vpnwatchd with --web.enable-lifecycle, or send SIGHUP (systemctl reload vpnwatchd)", http.StatusForbidden)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
		defer cancel()
		if err := d.Reload(ctx); err != nil {
			// Validation errors name file, line and key, never a secret's
			// value (secrets come from files whose content is not echoed).
			http.Error(w, "reload failed, still running the previous configuration:\n"+err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "Configuration reloaded")
	}
	mux.HandleFunc("POST /-/reload", reload)
	mux.HandleFunc("PUT /-/reload", reload)

	// Go's profiles, only on request (--web.enable-pprof): a profile costs
	// CPU while it runs and shows the daemon's internals to whoever can reach
	// the port (the web config's TLS and basic auth apply to it too).
	if d.opts.EnablePprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}

	// The status page replaces exporter-toolkit's landing page and links
	// the same endpoints.
	mux.HandleFunc("GET /{$}", d.statusPage)
	mux.HandleFunc("GET /api/v1/status", d.statusPage)
	return mux
}
