package daemon

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"go.uber.org/zap"
)

// handler serves /metrics, the health endpoints, /-/reload and the landing
// page.
func (d *Daemon) handler() (http.Handler, error) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.InstrumentMetricHandler(d.reg,
		promhttp.HandlerFor(d.reg, promhttp.HandlerOpts{ErrorLog: zap.NewStdLog(d.log), Registry: d.reg})))
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) {
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
		ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
		defer cancel()
		if err := d.Reload(ctx); err != nil {
			http.Error(w, "reload failed, still running the previous configuration:\n"+err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "Configuration reloaded")
	}
	mux.HandleFunc("POST /-/reload", reload)
	mux.HandleFunc("PUT /-/reload", reload)

	landing, err := web.NewLandingPage(web.LandingConfig{
		Name:        "vpnwatchd",
		Description: "Watches AWS Site-to-Site VPN tunnels and the Yamaha RTX routers at their other end",
		Version:     version.Info(),
		Profiling:   "false", // no /debug/pprof handlers are served
		Links: []web.LandingLinks{
			{Address: "/metrics", Text: "Metrics", Description: "Prometheus metrics"},
			{Address: "/-/healthy", Text: "Health", Description: "200 while the process runs"},
			{Address: "/-/ready", Text: "Readiness", Description: "200 once the first poll cycle has completed"},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("landing page: %w", err)
	}
	mux.Handle("GET /{$}", landing)
	return mux, nil
}
