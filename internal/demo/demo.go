// Package demo runs vpnwatchd's main job on built-in simulators: ec2sim for
// AWS and rtxsim for a Yamaha RTX1200, both on loopback, with the real
// daemon polling them over HTTP and SSH. Scenarios replay the seed incident
// and a few others in real time, with short SA lifetimes, a 1 s poll
// interval and hold times scaled down in the configuration: the same code
// paths as in production, only faster.
package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/vpnwatchd/vpnwatchd/internal/alert"
	"github.com/vpnwatchd/vpnwatchd/internal/aws/ec2sim"
	"github.com/vpnwatchd/vpnwatchd/internal/correlate"
	"github.com/vpnwatchd/vpnwatchd/internal/daemon"
	"github.com/vpnwatchd/vpnwatchd/internal/logging"
	"github.com/vpnwatchd/vpnwatchd/internal/rtx/rtxsim"
)

// Options are the demo's command-line settings.
type Options struct {
	Scenario    string
	KeepRunning bool
	Out         io.Writer
	// LogFile receives the daemon's own log (logfmt); the console shows the
	// story and the findings.
	LogFile string
}

const (
	region   = "ap-northeast-1"
	vpnID    = "vpn-0a1b2c3d4e5f67890"
	cgwID    = "cgw-0123456789abcdef0"
	oldWANIP = "198.51.100.7" // the office's old line (documentation range)
	newWANIP = "198.18.0.2"   // the new line
	user     = "monitor"
	password = "demo-rtx-password"
)

var outsideIPs = []string{"203.0.113.10", "203.0.113.20"}

// routerConfig is the AWS sample configuration for Yamaha RTX as the seed's
// operator had it, with the given WAN address and MSS limit.
func routerConfig(wan, mss string) string {
	return rtxsim.SampleConfig{WAN: wan, OutsideIPs: outsideIPs, MSS: mss, IPsecSALifetime: 3600, DPD: true}.Text()
}

// env is the running simulators and daemon.
type env struct {
	out     io.Writer
	start   time.Time
	sim     *ec2sim.Sim
	router  *rtxsim.Router
	rtxSrv  *rtxsim.Server
	metrics string

	mu    sync.Mutex
	fired []event
	// messages are what a receiver (the operator's phone: a webhook on
	// loopback) got, as it got them.
	messages []message
}

type message struct {
	at    time.Duration
	title string
}

// receive is the demo's webhook receiver: one grouped message per call.
func (e *env) receive(w http.ResponseWriter, r *http.Request) {
	var p alert.WebhookPayload
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&p); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	title := p.Title
	if title == "" && len(p.Alerts) > 0 {
		title = p.Alerts[0].Title
	}
	e.mu.Lock()
	e.messages = append(e.messages, message{e.elapsed(), title})
	n := len(e.messages)
	e.mu.Unlock()
	e.say("NOTIFICATION #%d to the operator's phone: %s", n, title)
}

type event struct {
	at      time.Duration
	firing  bool
	finding correlate.Finding
}

func (e *env) elapsed() time.Duration { return time.Since(e.start).Truncate(100 * time.Millisecond) }

func (e *env) say(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	fmt.Fprintf(e.out, "[+%5.1fs] %s\n", e.elapsed().Seconds(), fmt.Sprintf(format, args...))
}

// onFinding is the demo's console notifier.
func (e *env) onFinding(firing bool, f correlate.Finding) {
	e.mu.Lock()
	e.fired = append(e.fired, event{e.elapsed(), firing, f})
	e.mu.Unlock()
	if firing {
		e.say("FIRING %s %s — %s\n           %s\n           fix: %s", strings.ToUpper(f.Severity), f.Rule, f.Subject, f.Summary, f.Remediation)
	} else {
		e.say("resolved %s — %s", f.Rule, f.Subject)
	}
}

// logGroup is the demo VPN's log group: both tunnels send AWS's tunnel
// activity and BGP logs to it.
const logGroup = "arn:aws:logs:ap-northeast-1:111122223333:log-group:/aws/vpn/osaka-office:*"

// linkAWS makes AWS's telemetry follow the router, as the real AWS side
// does: UP with "N BGP ROUTES" when BGP is established over the tunnel,
// DOWN with "IPSEC IS UP" when only IPsec is, DOWN with "IPSEC IS DOWN"
// otherwise; and AWS logs what it sees of the tunnel (awsLogs).
func (e *env) linkAWS(ctx context.Context) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	l := &awsLogs{bgp: map[int]string{}}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		l.follow(e)
		for i, ip := range outsideIPs {
			n := i + 1
			status, msg, routes := "DOWN", "IPSEC IS DOWN", 0
			if e.router.Online(n) {
				msg = "IPSEC IS UP"
				if e.router.BGPState(n) == "Established" {
					status, msg, routes = "UP", "1 BGP ROUTES", 1
				}
			}
			e.sim.SetTunnel(region, vpnID, ip, status, msg, routes)
		}
	}
}

// Run runs a scenario and prints what happens.
func Run(ctx context.Context, o Options) error {
	if o.Out == nil {
		o.Out = os.Stdout
	}
	sc, ok := scenarios[o.Scenario]
	if !ok && o.Scenario != "strongswan" {
		return fmt.Errorf("unknown scenario %q (choose from: %s)", o.Scenario, strings.Join(ScenarioNames(), ", "))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The AWS SDK's credential chain must find the simulator's keys and
	// never ask an instance metadata service.
	for k, v := range ec2sim.Env {
		os.Setenv(k, v)
	}
	dir, err := os.MkdirTemp("", "vpnwatchd-demo-")
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer os.RemoveAll(dir)
	if o.Scenario == "strongswan" {
		return runStrongSwan(ctx, o, dir)
	}

	e := &env{out: o.Out, start: time.Now(), sim: ec2sim.New(nil)}
	simAddr, stopSim, err := serve(e.sim)
	if err != nil {
		return fmt.Errorf("demo: ec2sim: %w", err)
	}
	defer stopSim()

	e.router = rtxsim.New("RTX1200 Rev.10.01.65", routerConfig(sc.wan, sc.mss), nil)
	e.router.SetRekeyMargin(5 * time.Second)
	for i, ip := range outsideIPs {
		e.router.AddTunnel(rtxsim.Tunnel{Number: i + 1, Remote: ip, Neighbor: fmt.Sprintf("169.254.%d0.1", i+1), RemoteAS: "64512",
			Routes: []string{"10.0.0.0/16"}, IPsecLifetime: sc.lifetime, ISAKMPLifetime: 8 * time.Hour})
	}
	key, err := rtxsim.NewHostKey()
	if err != nil {
		return err
	}
	e.rtxSrv, err = rtxsim.Listen("127.0.0.1:0", e.router, key, user, password)
	if err != nil {
		return err
	}
	defer e.rtxSrv.Close()
	e.sim.Update(region, func(r *ec2sim.Region) {
		r.CustomerGateways = []*ec2sim.CustomerGateway{{ID: cgwID, IP: sc.wan, BGPASN: "65000", DeviceName: "rtx1200-osaka"}}
		r.VPNConnections = []*ec2sim.VPNConnection{{ID: vpnID, CustomerGatewayID: cgwID, VPNGatewayID: "vgw-0fedcba9876543210",
			Tags: map[string]string{"Name": "osaka-office"},
			Tunnels: []*ec2sim.Tunnel{
				{OutsideIP: outsideIPs[0], InsideCIDR: "169.254.10.0/30", Phase2LifetimeSeconds: 3600, Phase1LifetimeSeconds: 28800, LogGroup: logGroup, BGPLogGroup: logGroup},
				{OutsideIP: outsideIPs[1], InsideCIDR: "169.254.20.0/30", Phase2LifetimeSeconds: 3600, Phase1LifetimeSeconds: 28800, LogGroup: logGroup, BGPLogGroup: logGroup},
			}}}
	})
	go e.linkAWS(ctx)

	phone, stopPhone, err := serve(http.HandlerFunc(e.receive))
	if err != nil {
		return fmt.Errorf("demo: receiver: %w", err)
	}
	defer stopPhone()
	cfgFile, err := writeConfig(dir, "http://"+simAddr, e.rtxSrv.Addr(), key.PublicKey(), "http://"+phone+"/hook")
	if err != nil {
		return err
	}
	logFile, stop, err := e.runDaemon(o, dir, cfgFile)
	if err != nil {
		return err
	}
	defer stop()

	fmt.Fprintf(o.Out, "vpnwatchd demo — scenario %q: %s\n", o.Scenario, sc.title)
	fmt.Fprintf(o.Out, "  EC2 API simulator  http://%s   (real AWS SDK, region %s)\n", simAddr, region)
	fmt.Fprintf(o.Out, "  RTX1200 simulator  ssh %s@%s   (real SSH, password %s)\n", user, e.rtxSrv.Addr(), password)
	fmt.Fprintf(o.Out, "  vpnwatchd          %s/   (status page; metrics at %s/metrics; daemon log: %s)\n", e.metrics, e.metrics, logFile)
	fmt.Fprintf(o.Out, "  Time runs for real, with %s IPsec SA lifetimes, a 1 s poll interval and hold times of a few seconds.\n\n", sc.lifetime)

	for _, st := range sc.steps {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Until(e.start.Add(st.at))):
		}
		if st.say != "" {
			e.say("%s", st.say)
		}
		if st.do != nil {
			st.do(e)
		}
	}
	e.summary(sc)
	if o.KeepRunning {
		fmt.Fprintf(o.Out, "\n--keep-running: the simulators and vpnwatchd keep running; status page %s/, metrics %s/metrics. Ctrl-C to stop.\n", e.metrics, e.metrics)
		<-ctx.Done()
	}
	return nil
}

// serve serves h on a loopback port until stop.
func serve(h http.Handler) (addr string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return ln.Addr().String(), func() { srv.Close() }, nil
}

// runDaemon runs the real daemon on cfgFile with the console notifier,
// logging to o.LogFile (dir/vpnwatchd.log by default), until stop.
func (e *env) runDaemon(o Options, dir, cfgFile string) (logFile string, stop func(), err error) {
	logFile = o.LogFile
	if logFile == "" {
		logFile = filepath.Join(dir, "vpnwatchd.log")
	}
	lf, err := os.Create(logFile)
	if err != nil {
		return "", nil, fmt.Errorf("demo: log file: %w", err)
	}
	logger, _ := logging.New(logging.Config{Level: "info", Format: logging.FormatLogfmt}, lf)
	d, err := daemon.New(daemon.Options{ConfigFile: cfgFile, ListenAddresses: []string{"127.0.0.1:0"}, Logger: logger,
		OnFinding: e.onFinding, Notifier: quiet{}})
	if err != nil {
		lf.Close()
		return "", nil, fmt.Errorf("demo: %w", err)
	}
	e.metrics = "http://" + d.Addrs()[0].String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	return logFile, func() {
		cancel()
		<-done
		logger.Sync()
		lf.Close()
	}, nil
}

type quiet struct{}

func (quiet) Notify(string) {}

// writeConfig writes the demo's vpnwatchd.yaml, password file and
// known_hosts into dir.
func writeConfig(dir, endpoint, rtxAddr string, hostKey ssh.PublicKey, hook string) (string, error) {
	kh := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(kh, []byte(knownhosts.Line([]string{knownhosts.Normalize(rtxAddr)}, hostKey)+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rtx.password"), []byte(password+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	cfg := fmt.Sprintf(`global:
  poll_interval: 1s
  state_dir: %s
aws:
  - name: demo
    regions: [%s]
    endpoint: %s
    vpn_connection_ids: [%s]
    timeout: 5s
routers:
  - name: osaka-rtx1200
    address: %s
    user: %s
    password_file: rtx.password
    known_hosts: known_hosts
    timeout: 5s
rules:
  BGPDownIPsecUp: {hold: 3s}
  SideMismatch: {hold: 3s}
  ConnectionDown: {hold: 2s}
  TunnelDown: {hold: 2s}
  CustomerGatewayAddressMismatch: {hold: 2s}
  NoRoutes: {hold: 5s}
  SourceStale: {hold: 2s}
  TunnelNotJoined: {hold: 5s}
alerting:
  # Alertmanager's grouping, at the demo's speed (defaults: 30s and 5m).
  group_wait: 2s
  group_interval: 5s
  resolve_hold: 2s
  webhook:
    - url: %s
`, filepath.Join(dir, "state"), region, endpoint, vpnID, rtxAddr, user, hook)
	path := filepath.Join(dir, "vpnwatchd.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	return path, nil
}

// summary prints what was detected, when, and the fixes.
func (e *env) summary(sc scenario) {
	e.mu.Lock()
	defer e.mu.Unlock()
	fmt.Fprintf(e.out, "\n=== Summary: %s (simulated time runs at wall-clock speed; SA lifetimes and holds are shortened) ===\n", e.elapsed())
	first := map[string]event{}
	var order []string
	for _, ev := range e.fired {
		k := ev.finding.Rule
		if _, seen := first[k]; !seen && ev.firing {
			first[k] = ev
			order = append(order, k)
		}
	}
	if len(order) == 0 {
		fmt.Fprintln(e.out, "No findings: vpnwatchd saw nothing wrong.")
	}
	sort.SliceStable(order, func(i, j int) bool { return first[order[i]].at < first[order[j]].at })
	for _, k := range order {
		ev := first[k]
		fmt.Fprintf(e.out, "  +%5.1fs  %-8s %-32s %s\n", ev.at.Seconds(), ev.finding.Severity, k, ev.finding.Subject)
	}
	fmt.Fprintf(e.out, "\nThe operator's phone got %d notification(s), one per change of the incident, root cause first:\n", len(e.messages))
	for _, m := range e.messages {
		fmt.Fprintf(e.out, "  +%5.1fs  %s\n", m.at.Seconds(), m.title)
	}
	if sc.moral != "" {
		fmt.Fprintf(e.out, "\n%s\n", sc.moral)
	}
	var fixes []string
	for _, k := range order {
		fixes = append(fixes, fmt.Sprintf("  %s: %s", k, first[k].finding.Remediation))
	}
	if len(fixes) > 0 {
		fmt.Fprintf(e.out, "\nThe fixes vpnwatchd gave:\n%s\n", strings.Join(fixes, "\n"))
	}
}

// awsLogs writes AWS's log records of what happens to the tunnels, in
// AWS's documented words (AWS Site-to-Site VPN User Guide, "Contents of
// Site-to-Site VPN logs"): a rekey is a CREATE_CHILD_SA request and its
// response, a rekey that fails is a request with no answer, a tunnel lost
// is a DPD timeout, and BGP logs its state changes.
type awsLogs struct {
	seen int            // router happenings already logged
	bgp  map[int]string // tunnel → BGP state last logged
	id   int            // IKE message ids
}

func (l *awsLogs) follow(e *env) {
	for _, h := range e.router.Happenings(l.seen) {
		l.seen++
		ip := outsideIPs[h.Tunnel-1]
		act := func(details, phase2 string) {
			e.sim.LogTunnelActivity(region, vpnID, ip, h.At, ec2sim.TunnelActivity{Details: details, Phase1: "Established", Phase2: phase2, DPDEnabled: true})
		}
		switch h.What {
		case rtxsim.Rekeyed:
			l.id++
			act(fmt.Sprintf("AWS tunnel processed request (id=%d) for CREATE_CHILD_SA", l.id), "Rekeying")
			act(fmt.Sprintf("AWS tunnel is sending response (id=%d) for CREATE_CHILD_SA", l.id), "Established")
		case rtxsim.RekeyFailed:
			l.id++
			act(fmt.Sprintf("AWS tunnel is sending request (id=%d) for CREATE_CHILD_SA", l.id), "Rekeying")
		case rtxsim.TunnelDown:
			e.sim.LogTunnelActivity(region, vpnID, ip, h.At, ec2sim.TunnelActivity{Details: "AWS tunnel DPD timed out after 3 retransmits", Phase1: "Down", Phase2: "Down", DPDEnabled: true})
		}
	}
	for i, ip := range outsideIPs {
		n := i + 1
		state := e.router.BGPState(n)
		if prev, ok := l.bgp[n]; ok && prev != state {
			status := "DOWN"
			if state == "Established" {
				status = "UP"
			}
			e.sim.LogBGPStatus(region, vpnID, ip, time.Now(), status,
				fmt.Sprintf("AWS-side peer BGP session state has changed from %s to %s with neighbor 169.254.%d0.2", prev, state, n))
		}
		l.bgp[n] = state
	}
}
