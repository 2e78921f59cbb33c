package main

import (
	"context"
	"fmt"
	"github.com/vpnwatchd/vpnwatchd/internal/config"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/common/version"

	"github.com/vpnwatchd/vpnwatchd/internal/aws"
	"github.com/vpnwatchd/vpnwatchd/internal/bundle"
	"github.com/vpnwatchd/vpnwatchd/internal/correlate"
	"github.com/vpnwatchd/vpnwatchd/internal/daemon"
	"github.com/vpnwatchd/vpnwatchd/internal/logging"
	"github.com/vpnwatchd/vpnwatchd/internal/report"
)

// Nagios/Icinga plugin exit codes of `check`.
const (
	checkOK       = 0
	checkWarning  = 1
	checkCritical = 2
	checkUnknown  = 3
)

func printReport(w io.Writer, format string, r report.Report) error {
	if format == "json" {
		return report.JSON(w, r)
	}
	return report.Text(w, r)
}

func cmdCheck(o *opts) int {
	stdout, stderr := o.stdout, o.stderr
	// The logger and the waiting lines write to stderr from different
	// goroutines.
	stderr = &lockedWriter{w: stderr}
	logger, _ := logging.New(logging.Config{Level: o.level("error"), Format: o.logFormat}, stderr)
	d, err := daemon.New(daemon.Options{ConfigFile: o.configFile, Logger: logger, Once: true})
	if err != nil {
		fmt.Fprintf(stderr, "vpnwatchd check: %v\n", err)
		return checkUnknown
	}
	defer d.Close()
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	done, waited := make(chan struct{}), make(chan struct{})
	go func() { waitingLines(stderr, d, done); close(waited) }()
	res := d.RunOnce(ctx)
	close(done)
	<-waited
	if err := printReport(stdout, o.format, report.Report{Findings: res.Findings, Unchecked: res.Unchecked}); err != nil {
		fmt.Fprintf(stderr, "vpnwatchd check: %v\n", err)
		return checkUnknown
	}
	worst := -1
	for _, f := range res.Findings {
		worst = max(worst, correlate.SeverityRank(f.Severity))
	}
	switch {
	case worst == 2:
		return checkCritical
	case res.SourcesFailed > 0:
		return checkUnknown
	case worst == 1:
		return checkWarning
	}
	return checkOK
}

func cmdCollect(o *opts) int {
	stdout, stderr := o.stdout, o.stderr
	if o.count < 1 || o.every <= 0 {
		fmt.Fprintln(stderr, "vpnwatchd collect: --count must be 1 or more and --every positive")
		return exitUsage
	}
	dirs := []string{o.out}
	if o.count > 1 {
		dirs = nil
		for i := range o.count {
			dirs = append(dirs, fmt.Sprintf("%s-%d", o.out, i+1))
		}
	}
	for _, dir := range dirs {
		if err := bundle.CheckTarget(dir); err != nil {
			fmt.Fprintf(stderr, "vpnwatchd collect: --out: %v\n", err)
			return exitUsage
		}
	}
	logger, _ := logging.New(logging.Config{Level: o.level("warn"), Format: o.logFormat}, stderr)
	rec := &aws.Recorders{}
	d, err := daemon.New(daemon.Options{ConfigFile: o.configFile, Logger: logger, Once: true, RecordAWS: rec, RecordRTX: true})
	if err != nil {
		fmt.Fprintf(stderr, "vpnwatchd collect: %v\n", err)
		return exitError
	}
	defer d.Close()
	code := exitOK
	for i, dir := range dirs {
		if i > 0 {
			time.Sleep(o.every)
		}
		taken := time.Now().UTC()
		res := d.RunOnce(context.Background())
		b := bundle.Bundle{Meta: bundle.Meta{TakenAt: taken, Version: version.Version}, AWS: map[string]map[string]map[string][]byte{}, RTX: d.RouterOutputs(),
			StrongSwan: d.GatewayOutputs()}
		for _, a := range d.Config().AWS {
			if a.Logs {
				b.Meta.AWSLogs = append(b.Meta.AWSLogs, a.Name)
			}
		}
		for _, s := range res.AWS {
			if s.Err != nil {
				fmt.Fprintf(stderr, "vpnwatchd collect: %v\n", s.Err)
				code = exitError
				continue
			}
			if b.AWS[s.Source] == nil {
				b.AWS[s.Source] = map[string]map[string][]byte{}
			}
			b.AWS[s.Source][s.Region] = rec.For(s.Source).Files(s.Region)
		}
		for _, s := range res.Gateways { // the routers' and the other gateways'
			if s.Err != nil {
				fmt.Fprintf(stderr, "vpnwatchd collect: %v\n", s.Err)
				code = exitError
			}
		}
		if err := bundle.Write(dir, b); err != nil {
			fmt.Fprintf(stderr, "vpnwatchd collect: %v\n", err)
			return exitError
		}
		gws := ""
		if len(b.StrongSwan) > 0 {
			gws = fmt.Sprintf(", %d strongSwan gateways", len(b.StrongSwan))
		}
		fmt.Fprintf(stdout, "%s: %d AWS regions, %d routers%s, %d findings\n", dir, len(res.AWS), len(b.RTX), gws, len(res.Findings))
	}
	return code
}

func cmdDiagnose(o *opts) int {
	stdout, stderr := o.stdout, o.stderr
	loc, err := time.LoadLocation(o.routerTZ)
	if err != nil {
		fmt.Fprintf(stderr, "vpnwatchd diagnose: --router-timezone: %v\n", err)
		return exitUsage
	}
	// Printable: an error may name a file of a bundle, and the bundle is
	// someone else's.
	bundles, err := bundle.ReadAll(o.bundles)
	if err != nil {
		fmt.Fprintf(stderr, "vpnwatchd diagnose: %s\n", correlate.Printable(err.Error()))
		return exitError
	}
	// Time order: meta.json taken_at, else the argument order (stable sort).
	sort.SliceStable(bundles, func(i, j int) bool { return bundles[i].Meta.TakenAt.Before(bundles[j].Meta.TakenAt) })
	e := correlate.NewEvaluator(nil)
	e.NoHolds = true
	var st correlate.State
	var findings []correlate.Finding
	var unchecked []string
	var timelines []correlate.TunnelView
	var prev time.Time
	history := &bundle.SAHistory{}
	for _, b := range bundles {
		obs, unc, err := b.Observations(context.Background(), loc)
		if err != nil {
			fmt.Fprintf(stderr, "vpnwatchd diagnose: %s\n", correlate.Printable(err.Error()))
			return exitError
		}
		history.Apply(&obs)
		// Bundles without distinct times still evaluate in order.
		now := b.Meta.TakenAt
		if !now.After(prev) && !prev.IsZero() {
			now = prev.Add(time.Second)
		}
		prev = now
		var r correlate.Result
		st, r, timelines = e.EvaluateView(st, obs, now)
		findings, unchecked = r.Findings, append(unc, r.Unchecked...)
	}
	if err := printReport(stdout, o.format, report.Report{Findings: findings, Unchecked: unchecked, Timelines: timelines}); err != nil {
		fmt.Fprintf(stderr, "vpnwatchd diagnose: %v\n", err)
		return exitError
	}
	return exitOK
}

// waitingLines tells, on stderr, which sources `check` is still waiting for
// once they take longer than 2 s (a router that does not answer holds the
// check up to its timeout): one line per source, again every 5 s.
func waitingLines(w io.Writer, d *daemon.Daemon, done <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	told := map[config.SourceID]time.Time{}
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		for _, s := range d.InFlight(2 * time.Second) {
			if time.Since(told[s.Source]) >= 5*time.Second {
				told[s.Source] = time.Now()
				fmt.Fprintf(w, "vpnwatchd check: still waiting for %s\n", s)
			}
		}
	}
}

// lockedWriter serialises writes from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
