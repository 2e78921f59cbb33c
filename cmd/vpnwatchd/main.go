// Command vpnwatchd watches AWS Site-to-Site VPN connections and the Yamaha
// RTX routers at their other end. This file only parses the command line;
// the work is in internal/.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/prometheus/common/version"
	"go.uber.org/zap"

	"github.com/vpnwatchd/vpnwatchd/internal/config"
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

type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"run", "run the daemon", cmdRun},
		{"check", "poll every source once and report findings (Nagios exit codes)", cmdCheck},
		{"collect", "write a support bundle (raw AWS and RTX outputs, secrets redacted)", cmdCollect},
		{"diagnose", "find problems offline in one or more support bundles", cmdDiagnose},
		{"alert", "alert test: send a sample alert through every receiver", cmdAlert},
		{"probe", "probe mtu TARGET: DF ping binary search for the path MTU, with the RTX commands", cmdProbe},
		{"demo", "replay the seed incident on built-in AWS and RTX simulators", cmdDemo},
		{"config", "config validate FILE: check a configuration file", cmdConfig},
		{"version", "print the version", cmdVersion},
	}
}

func main() {
	os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
}

// Main runs the vpnwatchd command line and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	setVersionFallback()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "vpnwatchd: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: vpnwatchd COMMAND [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'vpnwatchd COMMAND --help' for a command's flags.")
}

// newFlagSet returns a flag set whose --help prints the command's usage to
// stdout and whose errors go to stderr.
func newFlagSet(name, synopsis string, stdout, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "Usage: vpnwatchd %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse handles --help (exit 0, usage on stdout) and flag errors (usage on
// stderr, exit 2).
func parse(fs *flag.FlagSet, args []string, stdout io.Writer) (int, bool) {
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" {
			fs.SetOutput(stdout)
			fs.Usage()
			return exitOK, false
		}
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage, false
	}
	return 0, true
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func cmdRun(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("run", "run [flags]", stdout, stderr)
	cfgFile := fs.String("config", defaultConfigFile, "configuration `file`")
	var listen stringList
	fs.Var(&listen, "web.listen-address", "`address` to serve metrics and the API on, repeatable (default: the config's listen, \":"+config.DefaultPort+"\")")
	webCfg := fs.String("web.config.file", "", "exporter-toolkit web configuration `file` for TLS and basic auth")
	lifecycle := fs.Bool("web.enable-lifecycle", false, "allow reloading over HTTP (POST /-/reload); SIGHUP always reloads")
	level := fs.String("log.level", "info", "log level: "+logging.Levels())
	format := fs.String("log.format", logging.FormatLogfmt, "log format: logfmt or json")
	if code, ok := parse(fs, args, stdout); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "vpnwatchd run: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	logger, err := logging.New(logging.Config{Level: *level, Format: *format}, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "vpnwatchd run: %v\n", err)
		return exitUsage
	}
	defer logger.Sync() //nolint:errcheck // stderr sync fails on terminals; nothing to do about it
	logger.Debug("garbage collector", zap.Int("gogc", daemon.TuneRuntime()))
	d, err := daemon.New(daemon.Options{
		ConfigFile:      *cfgFile,
		ListenAddresses: listen,
		WebConfigFile:   *webCfg,
		EnableLifecycle: *lifecycle,
		Logger:          logger,
	})
	if err != nil {
		fmt.Fprintf(stderr, "vpnwatchd run: %v\n", err)
		return exitError
	}
	if err := d.Run(context.Background()); err != nil {
		logger.Error("vpnwatchd failed", zap.Error(err))
		return exitError
	}
	return exitOK
}

func cmdDemo(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("demo", "demo [--scenario NAME] [--keep-running]", stdout, stderr)
	scenario := fs.String("scenario", "seed", "scenario: "+strings.Join(demo.ScenarioNames(), ", "))
	keep := fs.Bool("keep-running", false, "keep the simulators and the daemon running after the scenario")
	logFile := fs.String("log-file", "", "write the daemon's log to this `file` (default: a temporary file)")
	if code, ok := parse(fs, args, stdout); !ok {
		return code
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := demo.Run(ctx, demo.Options{Scenario: *scenario, KeepRunning: *keep, Out: stdout, LogFile: *logFile}); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(stderr, "vpnwatchd demo: %v\n", err)
		return exitError
	}
	return exitOK
}

func cmdConfig(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		w := stderr
		code := exitUsage
		if len(args) > 0 {
			w, code = stdout, exitOK
		}
		fmt.Fprintln(w, "Usage: vpnwatchd config validate FILE...\n\nChecks configuration files: keys, values, and that the secret and known_hosts files they name exist.\nPrints every problem as FILE:LINE: KEY: MESSAGE. Exits 0 when all are valid, 1 otherwise.")
		return code
	}
	if args[0] != "validate" {
		fmt.Fprintf(stderr, "vpnwatchd config: unknown subcommand %q (want validate)\n", args[0])
		return exitUsage
	}
	fs := newFlagSet("config validate", "config validate FILE...", stdout, stderr)
	if code, ok := parse(fs, args[1:], stdout); !ok {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "vpnwatchd config validate: name at least one configuration file")
		return exitUsage
	}
	code := exitOK
	for _, f := range fs.Args() {
		c, err := daemon.LoadConfig(f)
		if err != nil {
			fmt.Fprintln(stderr, err)
			code = exitError
			continue
		}
		for _, w := range c.Warnings {
			fmt.Fprintf(stderr, "%s: warning: %s\n", f, w)
		}
		fmt.Fprintf(stdout, "%s: OK (%s)\n", f, c.Summary())
	}
	return code
}

func cmdVersion(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("version", "version", stdout, stderr)
	if code, ok := parse(fs, args, stdout); !ok {
		return code
	}
	fmt.Fprintln(stdout, version.Print("vpnwatchd"))
	return exitOK
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
