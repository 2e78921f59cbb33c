package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/alert"
	"github.com/vpnwatchd/vpnwatchd/internal/daemon"
)

func cmdAlert(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "test" {
		w, code := stderr, exitUsage
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			w, code = stdout, exitOK
		}
		fmt.Fprintln(w, "Usage: vpnwatchd alert test --config FILE [--receiver NAME]\n\nSends a sample alert through each configured receiver (slack[0], email[0], alertmanager[0], webhook[0], …) and reports each result.")
		return code
	}
	fs := newFlagSet("alert test", "alert test --config FILE [--receiver NAME]", stdout, stderr)
	cfgFile := fs.String("config", defaultConfigFile, "configuration `file`")
	only := fs.String("receiver", "", "send only to this receiver, e.g. slack[0]")
	if code, ok := parse(fs, args[1:], stdout); !ok {
		return code
	}
	cfg, err := daemon.LoadConfig(*cfgFile)
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
		if *only != "" && r.Name != *only {
			continue
		}
		sent++
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := r.Notifier.Notify(ctx, []alert.Alert{sample})
		cancel()
		if err != nil {
			fmt.Fprintf(stdout, "%-18s FAILED: %v\n", r.Name, err)
			code = exitError
			continue
		}
		fmt.Fprintf(stdout, "%-18s ok\n", r.Name)
	}
	if sent == 0 {
		fmt.Fprintf(stderr, "vpnwatchd alert test: no receiver %s in %s\n", map[bool]string{true: "configured", false: *only}[*only == ""], *cfgFile)
		return exitError
	}
	return code
}
