package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/vpnwatchd/vpnwatchd/internal/demo"
	"github.com/vpnwatchd/vpnwatchd/internal/logging"
	"github.com/vpnwatchd/vpnwatchd/internal/probe"
)

// opts holds every flag and argument of every command: the command line is
// declared in one place (app) the way blackbox_exporter and snmp_exporter
// declare theirs, with kingpin and exporter-toolkit's kingpinflag.
type opts struct {
	configFile string
	logLevel   string
	logFormat  string
	logSet     bool // --log.level given by the user

	// run
	listen        []string
	webConfig     string
	systemdSocket bool
	lifecycle     bool

	// check, diagnose, probe mtu
	format  string
	timeout time.Duration

	// collect
	out   string
	count int
	every time.Duration

	// diagnose
	bundles  []string
	routerTZ string

	// alert test
	receiver string

	// probe mtu
	target                    string
	minP, maxP, retries       int
	probeTimeout              time.Duration
	path                      string
	tunnel, tunnelMTU, lanMTU int
	mss, lan, espEnc, espAuth string
	natt                      bool
	scenario, demoLog         string
	keepRunning               bool
	validate                  []string
	asService                 bool
	pprof                     bool
	exitCode                  int
	stdout, stderr            io.Writer
}

// terminated carries kingpin's wish to exit (after --help or --version)
// out of Parse without leaving the process: Main returns the code.
type terminated int

// app declares the command line.
func app(o *opts) *kingpin.Application {
	a := kingpin.New("vpnwatchd", "Watches AWS Site-to-Site VPN connections and the Yamaha RTX routers at their other end, "+
		"correlates both sides, names the problem and the fix.")
	a.Writer(o.stdout)
	a.ErrorWriter(o.stderr)
	a.UsageWriter(o.stdout)
	a.Terminate(func(code int) { panic(terminated(code)) })
	a.HelpFlag.Short('h')
	a.Version(version.Print("vpnwatchd"))
	a.Flag("config.file", "vpnwatchd configuration file.").Default(defaultConfigFile).PlaceHolder("FILE").StringVar(&o.configFile)
	// --config, the flag's name in earlier versions: units and scripts written
	// for it keep working.
	a.Flag("config", "").Hidden().PlaceHolder("FILE").StringVar(&o.configFile)
	a.Flag("log.level", "Only log messages with the given severity or above: "+logging.Levels()+" (default info; check: error, collect: warn).").
		Default("info").IsSetByUser(&o.logSet).StringVar(&o.logLevel)
	a.Flag("log.format", "Output format of log messages: logfmt or json.").Default(logging.FormatLogfmt).StringVar(&o.logFormat)

	run := a.Command("run", "Run the daemon.")
	web := kingpinflag.AddFlags(run, "")
	run.Flag("web.enable-lifecycle", "Allow reloading over HTTP (POST /-/reload); SIGHUP always reloads.").BoolVar(&o.lifecycle)
	run.Flag("web.enable-pprof", "Serve Go's runtime profiles under /debug/pprof/ (for a performance report; behind the web config's TLS and basic auth).").BoolVar(&o.pprof)
	run.Action(func(*kingpin.ParseContext) error {
		for _, l := range *web.WebListenAddresses {
			if l != "" { // no --web.listen-address: the configuration's listen
				o.listen = append(o.listen, l)
			}
		}
		o.webConfig, o.systemdSocket = *web.WebConfigFile, *web.WebSystemdSocket
		return nil
	})

	check := a.Command("check", "Poll every source once and report findings (Nagios exit codes: 0 OK, 1 warning, 2 critical, 3 unknown).")
	formatFlag(check, o)
	check.Flag("timeout", "Give up after this long.").Default("2m").DurationVar(&o.timeout)

	collect := a.Command("collect", "Write a support bundle (raw AWS and RTX outputs, secrets redacted).")
	collect.Flag("out", "Bundle directory to create (with --count above 1: DIR-1, DIR-2, …).").Required().PlaceHolder("DIR").StringVar(&o.out)
	collect.Flag("count", "Number of bundles to take.").Default("1").IntVar(&o.count)
	collect.Flag("every", "Time between bundles.").Default("1m").DurationVar(&o.every)

	diag := a.Command("diagnose", "Find problems offline in one or more support bundles (taken in time order).")
	formatFlag(diag, o)
	diag.Flag("router-timezone", "Time zone of the routers' clocks (e.g. Asia/Tokyo).").Default("Local").StringVar(&o.routerTZ)
	diag.Arg("bundle", "Bundle directories.").Required().StringsVar(&o.bundles)

	alertCmd := a.Command("alert", "Alert receivers.")
	test := alertCmd.Command("test", "Send a sample alert through every configured receiver and report each result.")
	test.Flag("receiver", "Send only to this receiver, e.g. slack[0].").PlaceHolder("NAME").StringVar(&o.receiver)

	probeCmd := a.Command("probe", "Path-MTU probes.")
	mtu := probeCmd.Command("mtu", "DF ping binary search for the path MTU to TARGET, with the RTX commands it calls for.")
	mtu.Arg("target", "IP address or host name: a VPC host through the tunnel, or a WAN target.").Required().StringVar(&o.target)
	mtu.Flag("min", "Smallest DF payload to try (default 1200, IPv6 1232).").PlaceHolder("BYTES").IntVar(&o.minP)
	mtu.Flag("max", "Largest DF payload to try (default 1472, IPv6 1452).").PlaceHolder("BYTES").IntVar(&o.maxP)
	mtu.Flag("retries", "Retries per size before silence counts as too big.").Default("2").IntVar(&o.retries)
	mtu.Flag("timeout", "How long to wait for each echo.").Default("1s").DurationVar(&o.probeTimeout)
	formatFlag(mtu, o)
	mtu.Flag("path", "What TARGET measures: tunnel (a VPC host through the VPN) or wan (outside the tunnel).").Default("tunnel").StringVar(&o.path)
	mtu.Flag("tunnel", "RTX tunnel number, for the commands.").PlaceHolder("N").IntVar(&o.tunnel)
	mtu.Flag("tunnel-mtu", "The RTX's current 'ip tunnel mtu'.").Default("1280").PlaceHolder("BYTES").IntVar(&o.tunnelMTU)
	mtu.Flag("mss-limit", "The RTX's current 'ip tunnel tcp mss limit': a number or auto.").PlaceHolder("BYTES|auto").StringVar(&o.mss)
	mtu.Flag("lan", "The RTX's WAN interface, for --path wan.").Default("lan2").PlaceHolder("INTERFACE").StringVar(&o.lan)
	mtu.Flag("lan-mtu", "Its current 'ip lanN mtu' (default 1500).").PlaceHolder("BYTES").IntVar(&o.lanMTU)
	mtu.Flag("esp-encryption", "ESP encryption of 'ipsec sa policy': "+strings.Join(probe.ESPEncryptions, ", ")+".").Default("aes-cbc").StringVar(&o.espEnc)
	mtu.Flag("esp-auth", "ESP authentication of 'ipsec sa policy': "+strings.Join(probe.ESPAuths, ", ")+".").Default("sha-hmac").StringVar(&o.espAuth)
	mtu.Flag("nat-traversal", "The tunnel uses NAT traversal.").BoolVar(&o.natt)

	demoCmd := a.Command("demo", "Replay the seed incident on built-in AWS and RTX simulators, with the real daemon.")
	demoCmd.Flag("scenario", "Scenario to play: "+strings.Join(demo.ScenarioNames(), ", ")+".").Default("seed").StringVar(&o.scenario)
	demoCmd.Flag("keep-running", "Keep the simulators and the daemon running after the scenario.").BoolVar(&o.keepRunning)
	demoCmd.Flag("log.file", "Write the daemon's log to this file (default: a temporary file).").PlaceHolder("FILE").StringVar(&o.demoLog)

	cfgCmd := a.Command("config", "Configuration files.")
	validate := cfgCmd.Command("validate", "Check configuration files: keys, values, and the secret and known_hosts files they name; every problem as FILE:LINE: KEY: MESSAGE.")
	validate.Arg("file", "Configuration files (default: --config.file).").StringsVar(&o.validate)
	validate.Flag("as-service", "Also warn about files the installed service (DynamicUser, ProtectHome, PrivateTmp) could not read though this command can; on by default when run by root outside the service.").
		Default(strconv.FormatBool(os.Geteuid() == 0 && os.Getenv("CREDENTIALS_DIRECTORY") == "")).BoolVar(&o.asService)

	a.Command("version", "Print the version.")
	return a
}

func formatFlag(c *kingpin.CmdClause, o *opts) {
	c.Flag("format", "Output format: text or json.").Default("text").StringVar(&o.format)
}

// parseArgs parses the command line; the command is "" when kingpin has
// already answered (--help, --version) with o.exitCode.
func parseArgs(args []string, o *opts) (cmd string, err error) {
	a := app(o)
	defer func() {
		if r := recover(); r != nil {
			code, ok := r.(terminated)
			if !ok {
				panic(r)
			}
			cmd, err, o.exitCode = "", nil, int(code)
		}
	}()
	if len(args) == 0 {
		a.Usage(nil)
		o.exitCode = exitUsage
		return "", nil
	}
	cmd, err = a.Parse(args)
	if err != nil {
		return "", usageError(err)
	}
	return cmd, o.check(cmd)
}

// check refuses values a flag does not take, naming the flag and what it
// takes (kingpin's enums do not say which flag they were).
func (o *opts) check(cmd string) error {
	type choice struct {
		flag, value string
		allowed     []string
	}
	checks := []choice{
		{"--log.level", o.logLevel, strings.Split(logging.Levels(), ", ")},
		{"--log.format", o.logFormat, []string{logging.FormatLogfmt, "json"}},
	}
	switch cmd {
	case "check", "diagnose":
		checks = append(checks, choice{"--format", o.format, []string{"text", "json"}})
	case "probe mtu":
		checks = append(checks, choice{"--format", o.format, []string{"text", "json"}}, choice{"--path", o.path, []string{"tunnel", "wan"}},
			choice{"--esp-encryption", o.espEnc, probe.ESPEncryptions}, choice{"--esp-auth", o.espAuth, probe.ESPAuths})
	case "demo":
		checks = append(checks, choice{"--scenario", o.scenario, demo.ScenarioNames()})
	}
	for _, c := range checks {
		if !slices.Contains(c.allowed, c.value) {
			return fmt.Errorf("%s %q: one of %s", c.flag, c.value, strings.Join(c.allowed, ", "))
		}
	}
	return nil
}

// usageError rewords kingpin's parse errors the way exporters' users read
// them: "unknown subcommand X", "unknown flag --x".
func usageError(err error) error {
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "expected command but got "):
		return fmt.Errorf("unknown subcommand %s (see vpnwatchd --help)", strings.TrimPrefix(msg, "expected command but got "))
	case strings.HasPrefix(msg, "unknown long flag "), strings.HasPrefix(msg, "unknown short flag "):
		return fmt.Errorf("unknown flag %s (see --help)", strings.Trim(msg[strings.LastIndex(msg, " ")+1:], "'"))
	case strings.HasPrefix(msg, "unexpected "):
		return fmt.Errorf("%s (see --help)", msg)
	}
	return errors.New(msg)
}

// logLevel is the level for a command: what the user gave, else the
// command's own default.
func (o *opts) level(def string) string {
	if o.logSet {
		return o.logLevel
	}
	return def
}
