package main

import (
	"context"
	"fmt"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/alert"
	"github.com/vpnwatchd/vpnwatchd/internal/daemon"
)

// cmdAlertTest sends a sample alert through each configured receiver
// (slack[0], email[0], alertmanager[0], webhook[0], …) and reports each
// result.
func cmdAlertTest(o *opts) int {
	stdout, stderr := o.stdout, o.stderr
	cfg, err := daemon.LoadConfig(o.configFile)
	if err != nil {
		fmt.Fprintf(stderr, "vpnwatchd alert test: %v\n", err)
		return exitError
	}
	rs, err := alert.Receivers(cfg.Alerting, "")
	if err != nil {
		fmt.Fprintf(stderr, "vpnwatchd alert test: %v\n", err)
		return exitError
	}
	sample := alert.Sample(time.Now())
	code, sent := exitOK, 0
	for _, r := range rs {
		if o.receiver != "" && r.Name != o.receiver {
			continue
		}
		sent++
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		msg := alert.SampleMessage(sample.StartsAt) // as direct receivers get them
		if r.Integration == "alertmanager" {
			msg = []alert.Alert{sample} // one alert per finding
		}
		_, err := r.Notifier.Notify(ctx, msg)
		cancel()
		if err != nil {
			fmt.Fprintf(stdout, "%-18s FAILED: %v\n", r.Name, err)
			code = exitError
			continue
		}
		fmt.Fprintf(stdout, "%-18s ok\n", r.Name)
	}
	if sent == 0 {
		fmt.Fprintf(stderr, "vpnwatchd alert test: no receiver %s in %s\n", map[bool]string{true: "configured", false: o.receiver}[o.receiver == ""], o.configFile)
		return exitError
	}
	return code
}
