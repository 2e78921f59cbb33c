// Command vpnwatchd watches AWS Site-to-Site VPN connections and the Yamaha
// RTX routers at their other end. This file only parses the command line;
// the work is in internal/.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/prometheus/common/version"
	"go.uber.org/zap"

	"github.com/vpnwatchd/vpnwatchd/internal/daemon"
	"github.com/vpnwatchd/vpnwatchd/internal/demo"
	"github.com/vpnwatchd/vpnwatchd/internal/logging"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

const defaultConfigFile = "/etc/vpnwatchd/vpnwatchd.yaml"

func main() {
	os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
}

// Main runs the vpnwatchd command line and returns the exit code: 0 done,
// 1 failed, 2 usage error (check has its own codes).
func Main(args []string, stdout, stderr io.Writer) int {
	setVersionFallback()
	o := &opts{stdout: stdout, stderr: stderr}
	cmd, err := parseArgs(args, o)
	if err != nil {
		fmt.Fprintf(stderr, "vpnwatchd: %v\n", err)
		return exitUsage
	}
	switch cmd {
	case "":
		return o.exitCode // --help, --version, or nothing to do
	case "run":
		return cmdRun(o)
	case "check":
		return cmdCheck(o)
	case "collect":
		return cmdCollect(o)
	case "diagnose":
		return cmdDiagnose(o)
	case "alert test":
		return cmdAlertTest(o)
	case "probe mtu":
		return cmdProbe(o)
	case "demo":
		return cmdDemo(o)
	case "config validate":
		return cmdConfigValidate(o)
	case "version":
		fmt.Fprintln(stdout, version.Print("vpnwatchd"))
		return exitOK
	}
	fmt.Fprintf(stderr, "vpnwatchd: unknown subcommand %q\n", cmd)
	return exitUsage
}

func cmdRun(o *opts) int {
	logger, err := logging.New(logging.Config{Level: o.level("info"), Format: o.logFormat}, o.stderr)
	if err != nil {
		fmt.Fprintf(o.stderr, "vpnwatchd run: %v\n", err)
		return exitUsage
	}
	defer logger.Sync() //nolint:errcheck // stderr sync fails on terminals; nothing to do about it
	logger.Debug("garbage collector", zap.Int("gogc", daemon.TuneRuntime()))
	d, err := daemon.New(daemon.Options{
		ConfigFile:      o.configFile,
		ListenAddresses: o.listen,
		WebConfigFile:   o.webConfig,
		SystemdSocket:   o.systemdSocket,
		EnableLifecycle: o.lifecycle,
		EnablePprof:     o.pprof,
		Logger:          logger,
	})
	if err != nil {
		fmt.Fprintf(o.stderr, "vpnwatchd run: %v\n", err)
		return exitError
	}
	if err := d.Run(context.Background()); err != nil {
		logger.Error("vpnwatchd failed", zap.Error(err))
		return exitError
	}
	return exitOK
}

func cmdDemo(o *opts) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := demo.Run(ctx, demo.Options{Scenario: o.scenario, KeepRunning: o.keepRunning, Out: o.stdout, LogFile: o.demoLog}); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(o.stderr, "vpnwatchd demo: %v\n", err)
		return exitError
	}
	return exitOK
}

func cmdConfigValidate(o *opts) int {
	files := o.validate
	if len(files) == 0 {
		files = []string{o.configFile}
	}
	code := exitOK
	for _, f := range files {
		c, err := daemon.LoadConfig(f)
		if err != nil {
			fmt.Fprintln(o.stderr, err)
			code = exitError
			continue
		}
		for _, w := range c.Warnings {
			fmt.Fprintf(o.stderr, "%s: warning: %s\n", f, w)
		}
		if o.asService {
			for _, w := range c.ServiceWarnings() {
				fmt.Fprintf(o.stderr, "%s: warning: as the service: %s\n", f, w)
			}
		}
		fmt.Fprintf(o.stdout, "%s: OK (%s)\n", f, c.Summary())
	}
	return code
}

// setVersionFallback fills in the version when the binary was built without
// the Makefile's -ldflags (go run, go install): the module version and the
// VCS time from the Go build information.
func setVersionFallback() {
	if version.Version != "" {
		return
	}
	version.Version = "devel"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		version.Version = v
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.time" && version.BuildDate == "" {
			version.BuildDate = s.Value
		}
	}
}
