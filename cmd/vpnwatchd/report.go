package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
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

func validFormat(stderr io.Writer, cmd, format string) bool {
	if format != "text" && format != "json" {
		fmt.Fprintf(stderr, "vpnwatchd %s: --format %q: must be text or json\n", cmd, format)
		return false
	}
	return true
}

func cmdCheck(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("check", "check --config FILE [--format text|json]", stdout, stderr)
	cfgFile := fs.String("config", defaultConfigFile, "configuration `file`")
	format := fs.String("format", "text", "output format: text or json")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long")
	if code, ok := parse(fs, args, stdout); !ok {
		return code
	}
	if !validFormat(stderr, "check", *format) {
		return checkUnknown
	}
	logger, _ := logging.New(logging.Config{Level: "error", Format: logging.FormatLogfmt}, stderr)
	d, err := daemon.New(daemon.Options{ConfigFile: *cfgFile, Logger: logger, Once: true})
	if err != nil {
		fmt.Fprintf(stderr, "vpnwatchd check: %v\n", err)
		return checkUnknown
	}
	defer d.Close()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	done := make(chan struct{})
	go waitingLines(stderr, d, done)
	res := d.RunOnce(ctx)
	close(done)
	if err := printReport(stdout, *format, report.Report{Findings: res.Findings, Unchecked: res.Unchecked}); err != nil {
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

func cmdCollect(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("collect", "collect --config FILE --out DIR [--count N --every D]", stdout, stderr)
	cfgFile := fs.String("config", defaultConfigFile, "configuration `file`")
	out := fs.String("out", "", "bundle `directory` to create (with --count > 1, DIR-1, DIR-2, …)")
	count := fs.Int("count", 1, "number of bundles to take")
	every := fs.Duration("every", time.Minute, "time between bundles")
	if code, ok := parse(fs, args, stdout); !ok {
		return code
	}
	if *out == "" || *count < 1 || *every <= 0 {
		fmt.Fprintln(stderr, "vpnwatchd collect: --out DIR is required; --count must be 1 or more and --every positive")
		return exitUsage
	}
	logger, _ := logging.New(logging.Config{Level: "warn", Format: logging.FormatLogfmt}, stderr)
	rec := &aws.Recorders{}
	d, err := daemon.New(daemon.Options{ConfigFile: *cfgFile, Logger: logger, Once: true, RecordAWS: rec, RecordRTX: true})
	if err != nil {
		fmt.Fprintf(stderr, "vpnwatchd collect: %v\n", err)
		return exitError
	}
	defer d.Close()
	code := exitOK
	for i := range *count {
		if i > 0 {
			time.Sleep(*every)
		}
		dir := *out
		if *count > 1 {
			dir = fmt.Sprintf("%s-%d", *out, i+1)
		}
		taken := time.Now().UTC()
		res := d.RunOnce(context.Background())
		b := bundle.Bundle{Meta: bundle.Meta{TakenAt: taken, Version: version.Version}, AWS: map[string]map[string]map[string][]byte{}, RTX: d.RouterOutputs()}
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
		for _, s := range res.RTX {
			if s.Err != nil {
				fmt.Fprintf(stderr, "vpnwatchd collect: %v\n", s.Err)
				code = exitError
			}
		}
		if err := bundle.Write(dir, b); err != nil {
			fmt.Fprintf(stderr, "vpnwatchd collect: %v\n", err)
			return exitError
		}
		fmt.Fprintf(stdout, "%s: %d AWS regions, %d routers, %d findings\n", dir, len(res.AWS), len(b.RTX), len(res.Findings))
	}
	return code
}

func cmdDiagnose(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("diagnose", "diagnose [--format text|json] BUNDLE_DIR...", stdout, stderr)
	format := fs.String("format", "text", "output format: text or json")
	tz := fs.String("router-timezone", "Local", "time zone of the routers' clocks (e.g. Asia/Tokyo)")
	if code, ok := parse(fs, args, stdout); !ok {
		return code
	}
	if !validFormat(stderr, "diagnose", *format) {
		return exitUsage
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "vpnwatchd diagnose: name at least one bundle directory")
		return exitUsage
	}
	loc, err := time.LoadLocation(*tz)
	if err != nil {
		fmt.Fprintf(stderr, "vpnwatchd diagnose: --router-timezone: %v\n", err)
		return exitUsage
	}
	var bundles []bundle.Bundle
	for _, dir := range fs.Args() {
		b, err := bundle.Read(dir)
		if err != nil {
			fmt.Fprintf(stderr, "vpnwatchd diagnose: %v\n", err)
			return exitError
		}
		bundles = append(bundles, b)
	}
	// Time order: meta.json taken_at, else the argument order (stable sort).
	sort.SliceStable(bundles, func(i, j int) bool { return bundles[i].Meta.TakenAt.Before(bundles[j].Meta.TakenAt) })
	e := correlate.NewEvaluator(nil)
	e.NoHolds = true
	var st correlate.State
	var findings []correlate.Finding
	var unchecked []string
	var prev time.Time
	for _, b := range bundles {
		obs, unc, err := b.Observations(context.Background(), loc)
		if err != nil {
			fmt.Fprintf(stderr, "vpnwatchd diagnose: %v\n", err)
			return exitError
		}
		// Bundles without distinct times still evaluate in order.
		now := b.Meta.TakenAt
		if !now.After(prev) && !prev.IsZero() {
			now = prev.Add(time.Second)
		}
		prev = now
		st, findings = e.Evaluate(st, obs, now)
		unchecked = append(unc, st.Unchecked...)
	}
	if err := printReport(stdout, *format, report.Report{Findings: findings, Unchecked: unchecked}); err != nil {
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
	told := map[string]time.Time{}
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		for _, s := range d.InFlight(2 * time.Second) {
			name, _, _ := strings.Cut(s, " (")
			if time.Since(told[name]) >= 5*time.Second {
				told[name] = time.Now()
				fmt.Fprintf(w, "vpnwatchd check: still waiting for %s\n", s)
			}
		}
	}
}
