// Package daemon wires vpnwatchd together: it loads the configuration, owns
// time and scheduling (poll cycles, reloads, the systemd watchdog), serves the
// HTTP endpoints and shuts everything down in order.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/exporter-toolkit/web"
	"go.uber.org/zap"

	"github.com/vpnwatchd/vpnwatchd/internal/alert"
	"github.com/vpnwatchd/vpnwatchd/internal/aws"
	"github.com/vpnwatchd/vpnwatchd/internal/config"
	"github.com/vpnwatchd/vpnwatchd/internal/correlate"
	"github.com/vpnwatchd/vpnwatchd/internal/gateway"
	"github.com/vpnwatchd/vpnwatchd/internal/logging"
	"github.com/vpnwatchd/vpnwatchd/internal/metrics"
	"github.com/vpnwatchd/vpnwatchd/internal/probe"
	"github.com/vpnwatchd/vpnwatchd/internal/rtx"
	"github.com/vpnwatchd/vpnwatchd/internal/status"
	"github.com/vpnwatchd/vpnwatchd/internal/strongswan"
)

// shutdownGrace bounds how long an in-flight poll cycle and open HTTP
// requests may take to finish after SIGTERM; systemd's default stop timeout
// is 90 s, the promise to operators is 10 s.
const shutdownGrace = 8 * time.Second

// Options are the daemon's command-line settings.
type Options struct {
	ConfigFile string
	// ListenAddresses overrides the configuration's listen key when not empty.
	ListenAddresses []string
	// WebConfigFile is exporter-toolkit's web configuration (TLS, basic auth).
	WebConfigFile string
	Logger        *zap.Logger
	// Notifier reports to the service manager; nil uses systemd's
	// NOTIFY_SOCKET (a no-op outside systemd).
	Notifier Notifier
	// Once prepares a daemon for one cycle (check, collect): no HTTP
	// listeners, findings reported without hold times.
	Once bool
	// OnFinding, when set, hears every finding that starts (firing true)
	// or ends, from the main loop.
	OnFinding func(firing bool, f correlate.Finding)
	// RecordAWS keeps the raw EC2 responses for support bundles.
	RecordAWS *aws.Recorders
	// RecordRTX keeps the routers' raw command outputs for RouterOutputs.
	RecordRTX bool
	// SystemdSocket serves HTTP on the sockets systemd passes
	// (--web.systemd-socket) instead of listening itself.
	SystemdSocket bool
	// EnableLifecycle serves POST/PUT /-/reload (--web.enable-lifecycle, as
	// Prometheus has it); SIGHUP always reloads.
	EnableLifecycle bool
	// EnablePprof serves Go's profiles under /debug/pprof/
	// (--web.enable-pprof).
	EnablePprof bool
}

// Daemon is a running vpnwatchd.
type Daemon struct {
	opts      Options
	log       *zap.Logger
	notify    Notifier
	now       func() time.Time
	cfg       atomic.Pointer[config.Config] // the running configuration
	listeners []net.Listener
	http      http.Handler
	mem       releaser
	reloadReq chan chan error

	// What the HTTP handlers and `check` read while the main loop runs.
	ready     atomic.Bool
	lastCycle atomic.Int64 // UnixNano of the last completed cycle, or of the start
	inFlight  sync.Map     // config.SourceID being polled → *polling
	// longestGranted is the longest poll budget granted (nanoseconds).
	longestGranted atomic.Int64
	page           atomic.Pointer[status.Status]
	events         *eventLog
	metrics        *exported

	// Parts with goroutines of their own, each with its own locking.
	probes   *probes
	alerts   *alert.Manager
	syslog   *syslogReceiver
	triggers *triggers

	// main is the main loop's own state; no other goroutine touches it.
	main loopState
}

// loopState is what the main loop keeps between cycles.
type loopState struct {
	sources   *sources
	latest    *latest // the latest data of every source
	evaluator *correlate.Evaluator
	state     correlate.State
	views     []correlate.TunnelView // the tunnels as the last evaluation joined them
	active    map[correlate.FindingID]correlate.Finding
	unchecked []string
	resolved  []resolvedFinding // recent, for the tunnels' timelines
	cycles    int
	holdEnd   time.Time       // when the earliest held condition is due
	probeCtx  context.Context // set while Run runs probes
	// regionTriggered: AWS region → the last poll a syslog event
	// triggered; followUps: → when to ask it again after one.
	regionTriggered map[config.SourceID]time.Time
	followUps       map[config.SourceID]time.Time
}

// resolvedFinding is a finding that ended, and when.
type resolvedFinding struct {
	finding correlate.Finding
	at      time.Time
}

// exported is what /metrics serves: the body of the latest data, which the
// main loop builds after every change of it, then the registry gathered at
// each scrape (process, counters, probes).
type exported struct {
	reg    *prometheus.Registry
	body   metrics.Body
	daemon *metrics.Daemon
	aws    *metrics.AWS
	rtx    *metrics.RTX
	gw     *metrics.Gateways
}

// New loads the configuration, prepares the state directory and binds the
// HTTP listeners, so that every start-up problem is reported before Run.
func New(opts Options) (*Daemon, error) {
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.Notifier == nil {
		opts.Notifier = systemdNotifier{}
	}
	d := &Daemon{
		opts:      opts,
		log:       opts.Logger,
		notify:    opts.Notifier,
		now:       time.Now,
		mem:       releaser{min: releaseMinBytes, gap: releaseGap},
		reloadReq: make(chan chan error),
		probes:    newProbes(opts.Logger),
		triggers:  newTriggers(),
		main: loopState{
			latest:          newLatest(),
			active:          map[correlate.FindingID]correlate.Finding{},
			regionTriggered: map[config.SourceID]time.Time{},
			followUps:       map[config.SourceID]time.Time{},
		},
	}
	d.events = &eventLog{now: d.now}
	reg := metrics.NewRegistry()
	d.metrics = &exported{reg: reg, daemon: metrics.NewDaemon(reg), aws: metrics.NewAWS(reg), rtx: metrics.NewRTX(reg), gw: metrics.NewGateways(reg)}
	metrics.NewProbes(reg, d.probes.snapshot)
	cfg, err := LoadConfig(opts.ConfigFile)
	if err != nil {
		return nil, err
	}
	for _, w := range cfg.Warnings {
		d.log.Warn("configuration", zap.String("warning", w))
	}
	d.main.evaluator = correlate.NewEvaluator(cfg.Rules)
	if err := ensureStateDir(cfg.Global.StateDir); err != nil {
		return nil, err
	}
	if d.main.sources, err = d.buildSources(context.Background(), cfg, nil); err != nil {
		return nil, err
	}
	if !opts.Once {
		rs, err := alert.Receivers(cfg.Alerting, "")
		if err != nil {
			return nil, err
		}
		if d.alerts, err = alert.NewManager(d.log, cfg.Global.StateDir, alert.LifecycleFrom(cfg.Alerting), rs, d.metrics.reg); err != nil {
			return nil, err
		}
		d.alerts.OnDelivery = func(receiver string, n int, err error) {
			if err != nil {
				d.events.add(fmt.Sprintf("notification to %s failed: %v", receiver, err))
			} else {
				d.events.add(fmt.Sprintf("%d notification(s) sent to %s", n, receiver))
			}
		}
		d.alerts.Configure(alert.LifecycleFrom(cfg.Alerting), alert.WindowsFrom(cfg.Alerting), rs)
		d.alerts.SetGrouping(alert.GroupingFrom(cfg.Alerting))
		// Findings firing before a restart are held by the correlator while
		// their sources say nothing, as if the daemon had not stopped.
		firing := d.alerts.FiringFindings()
		d.main.state = correlate.Resume(firing)
		for _, f := range firing {
			d.main.active[f.ID()] = f
		}
	}
	d.setConfig(cfg)
	if opts.WebConfigFile != "" {
		if err := web.Validate(opts.WebConfigFile); err != nil {
			return nil, fmt.Errorf("--web.config.file %s: %w", opts.WebConfigFile, err)
		}
	}
	d.http = d.handler()
	if opts.Once {
		d.main.evaluator.NoHolds = true
		return d, nil
	}
	var inherited sockets
	if !opts.Once {
		if inherited, err = inheritSockets(); err != nil {
			return nil, err
		}
	}
	switch {
	case inherited.syslog != nil:
		// vpnwatchd-syslog.socket: systemd opened UDP 514 for us.
		d.syslog = newSyslogReceiverOn(inherited.syslog, d.log, d.metrics.reg, d.triggerPoll)
		d.log.Info("syslog on the socket systemd passed", zap.String("addr", inherited.syslog.LocalAddr().String()))
	case cfg.Syslog.Listen != "":
		conn, err := net.ListenPacket("udp", cfg.Syslog.Listen)
		if err != nil {
			inherited.close()
			return nil, fmt.Errorf("syslog.listen %s: %w", cfg.Syslog.Listen, err)
		}
		d.syslog = newSyslogReceiverOn(conn, d.log, d.metrics.reg, d.triggerPoll)
	}
	if d.syslog != nil {
		d.syslog.setRouters(cfg.Routers)
	}
	if opts.SystemdSocket {
		// --web.systemd-socket: the listeners systemd passed (socket
		// activation), as exporter-toolkit's exporters take them.
		if len(inherited.http) == 0 {
			return nil, errors.New("--web.systemd-socket: systemd passed no stream socket (LISTEN_FDS)")
		}
		d.listeners = inherited.http
		return d, nil
	}
	for _, l := range inherited.http {
		l.Close() // not asked to serve on them
	}
	addrs := opts.ListenAddresses
	if len(addrs) == 0 {
		addrs = []string{cfg.Listen}
	}
	for _, a := range addrs {
		l, err := net.Listen("tcp", a)
		if err != nil {
			d.closeListeners()
			return nil, fmt.Errorf("listen on %s: %w", a, err)
		}
		d.listeners = append(d.listeners, l)
	}
	return d, nil
}

// Addrs returns the addresses the HTTP server listens on.
func (d *Daemon) Addrs() []net.Addr {
	out := make([]net.Addr, len(d.listeners))
	for i, l := range d.listeners {
		out[i] = l.Addr()
	}
	return out
}

func (d *Daemon) closeListeners() {
	for _, l := range d.listeners {
		l.Close()
	}
}

func (d *Daemon) setConfig(c *config.Config) {
	d.cfg.Store(c)
	d.metrics.daemon.ConfigLastReloadSuccessful.Set(1)
	d.metrics.daemon.ConfigLastReloadSuccessTimestamp.SetToCurrentTime()
}

// Run serves until ctx is cancelled or SIGINT/SIGTERM arrives, then finishes
// the poll cycle in flight, closes the HTTP server and returns nil. SIGHUP
// reloads the configuration.
func (d *Daemon) Run(ctx context.Context) error {
	var g run.Group

	// Signals: SIGINT/SIGTERM end the group; SIGHUP asks for a reload.
	// signal.Notify runs here, before any actor starts: run.SignalHandler
	// would call it in its own goroutine, and a SIGTERM that came after
	// /-/ready but before that goroutine ran killed the process outright.
	{
		term := make(chan os.Signal, 1)
		signal.Notify(term, os.Interrupt, syscall.SIGTERM)
		sctx, cancel := context.WithCancel(ctx)
		g.Add(func() error {
			select {
			case sig := <-term:
				return &run.SignalError{Signal: sig}
			case <-sctx.Done():
				return sctx.Err()
			}
		}, func(error) {
			signal.Stop(term)
			cancel()
		})
	}
	{
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		stop := make(chan struct{})
		g.Add(func() error {
			for {
				select {
				case <-hup:
					select {
					case d.reloadReq <- nil:
					case <-stop:
						return nil
					}
				case <-stop:
					return nil
				}
			}
		}, func(error) {
			signal.Stop(hup)
			close(stop)
		})
	}

	// HTTP: exporter-toolkit adds TLS and basic auth from --web.config.file.
	srv := &http.Server{Handler: d.http, ReadHeaderTimeout: 10 * time.Second, ErrorLog: zap.NewStdLog(d.log)}
	g.Add(func() error {
		flags := &web.FlagConfig{WebListenAddresses: &[]string{}, WebSystemdSocket: new(bool), WebConfigFile: &d.opts.WebConfigFile}
		err := web.ServeMultiple(d.listeners, srv, flags, logging.Slog(d.log))
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("http server: %w", err)
	}, func(error) {
		sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			srv.Close()
		}
	})

	// The main loop: poll cycles, reloads, watchdog. Probes run beside it
	// on their own intervals.
	loopCtx, stopLoop := context.WithCancel(context.Background())
	d.main.probeCtx = loopCtx
	d.probes.apply(loopCtx, d.cfg.Load().Probes)
	d.watch(loopCtx, d.main.sources)
	g.Add(func() error { return d.loop(loopCtx) }, func(error) { stopLoop(); d.probes.stop() })

	if d.syslog != nil {
		g.Add(d.syslog.run, func(error) { d.syslog.close() })
	}

	// Notifications: delivered from the persisted outbox, retried with
	// backoff; what is queued at shutdown is sent after the restart.
	alertCtx, stopAlerts := context.WithCancel(context.Background())
	g.Add(func() error { d.alerts.Run(alertCtx); return nil }, func(error) {
		fctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		d.alerts.Flush(fctx)
		cancel()
		stopAlerts()
	})

	addrs := make([]string, len(d.listeners))
	for i, l := range d.listeners {
		addrs[i] = l.Addr().String()
	}
	d.log.Info("vpnwatchd started", zap.Strings("listen", addrs), zap.String("config", d.opts.ConfigFile),
		zap.String("summary", d.cfg.Load().Summary()))
	d.notify.Notify("READY=1\nSTATUS=started, first poll cycle running")

	err := g.Run()
	d.notify.Notify("STOPPING=1")
	d.main.sources.closeExcept(nil, d.whenIdle)
	var sig *run.SignalError
	if errors.As(err, &sig) {
		d.log.Info("vpnwatchd stopping", zap.String("signal", sig.Signal.String()))
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// loop runs poll cycles at the configured interval and serves reload
// requests between them. It is the only goroutine that runs cycles. The
// watchdog is pinged beside it while the loop is not stuck by /-/healthy's
// rule (loopStuck): a cycle that waits its sources' budgets out is slow, not
// hung, and must not get the service killed; a loop that completes no cycle
// for stuckAfter stops the pings and systemd restarts the service.
func (d *Daemon) loop(ctx context.Context) error {
	d.lastCycle.Store(time.Now().UnixNano())
	if iv := watchdogInterval(); iv > 0 {
		d.notify.Notify("WATCHDOG=1")
		go func() {
			t := time.NewTicker(iv / 2)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case now := <-t.C:
					if _, stuck := d.loopStuck(now); !stuck {
						d.notify.Notify("WATCHDOG=1")
					}
				}
			}
		}()
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	targeted := stoppedTimer()
	defer targeted.Stop()
	armed := false // targeted is set to fire
	var lastTargeted time.Time
	// held fires when a held condition comes due: the correlator looks at
	// the latest data again then, not up to a poll interval later.
	held := stoppedTimer()
	defer held.Stop()
	var lastHeld time.Time
	// followUp fires when an AWS region polled for a syslog event is due to
	// be asked again. schedule sets both after anything that may move them.
	followUp := stoppedTimer()
	defer followUp.Stop()
	schedule := func() {
		if next, ok := earliest(d.main.followUps); ok {
			followUp.Reset(max(0, time.Until(next)))
		}
		if d.main.holdEnd.IsZero() {
			held.Stop()
			return
		}
		held.Reset(max(0, time.Until(d.main.holdEnd), time.Until(lastHeld.Add(minTriggerGap))))
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-d.triggers.wake:
			// A syslog event: poll its router (and its AWS regions) now, but
			// not more than once a second.
			if !armed {
				targeted.Reset(max(0, time.Until(lastTargeted.Add(minTriggerGap))))
				armed = true
			}
		case <-targeted.C:
			armed = false
			lastTargeted = time.Now()
			due, next := d.triggers.take(lastTargeted)
			d.triggeredCycle(ctx, due)
			if !next.IsZero() { // routers still inside their budget
				targeted.Reset(max(time.Until(next), minTriggerGap))
				armed = true
			}
			schedule()
		case <-held.C:
			lastHeld = time.Now()
			d.reevaluate()
			schedule()
		case <-followUp.C:
			d.followUpCycle(ctx, time.Now())
			schedule()
		case reply := <-d.reloadReq:
			err := d.reload()
			if reply != nil {
				reply <- err
			}
		case <-timer.C:
			d.cycle(ctx)
			// Jitter spreads instances with the same configuration (HA)
			// apart; it only shortens the interval, so that a change is
			// still seen within one poll interval.
			timer.Reset(jitter(d.cfg.Load().Global.PollInterval))
			schedule()
		}
	}
}

// stuckAfter is how long the main loop may go without completing a cycle
// before /-/healthy says it is stuck: three poll intervals, at least two
// minutes, and longer than a cycle can wait for its slowest source (each
// source's poll is abandoned after its budget: runBounded).
func (d *Daemon) stuckAfter() time.Duration {
	cfg := d.cfg.Load()
	return max(3*cfg.Global.PollInterval, 2*time.Minute, d.longestBudget(cfg)+cfg.Global.PollInterval)
}

// loopStuck reports how long the main loop has gone without a cycle, when
// that is longer than stuckAfter.
func (d *Daemon) loopStuck(now time.Time) (time.Duration, bool) {
	since := now.Sub(time.Unix(0, d.lastCycle.Load()))
	return since, d.lastCycle.Load() != 0 && since > d.stuckAfter()
}

// stoppedTimer returns a timer that fires only once Reset.
func stoppedTimer() *time.Timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}

// Budgets of polls triggered by syslog. UDP syslog from a router's address
// is easy to spoof: a flood of "Tunnel Down" lines must not multiply SSH
// commands and EC2 calls. minTriggerGap spaces all triggered polls; a router
// is polled for its events at most once per routerTriggerGap (events inside
// it are merged into the next allowed poll, never lost).
const (
	minTriggerGap    = time.Second
	routerTriggerGap = 10 * time.Second
)

// triggers are the routers whose syslog asked for a poll: the syslog
// goroutine adds them, the main loop takes them.
type triggers struct {
	wake    chan struct{} // the main loop's signal that routers wait
	mu      sync.Mutex
	waiting map[string]bool      // gateways waiting for a triggered poll → whether AWS is asked too
	last    map[string]time.Time // router → its last triggered poll
}

func newTriggers() *triggers {
	return &triggers{wake: make(chan struct{}, 1), waiting: map[string]bool{}, last: map[string]time.Time{}}
}

// triggerPoll asks the main loop for a poll of router (its syslog).
func (d *Daemon) triggerPoll(router string) { d.trigger(config.RouterSource(router), true) }

// trigger asks the main loop for a poll of a customer gateway, and of the
// AWS regions joined to it when withAWS (a tunnel went up or down; a
// rekey is the gateway's own news); requests that come before the loop
// takes them are merged.
func (d *Daemon) trigger(gw config.SourceID, withAWS bool) {
	t := d.triggers
	t.mu.Lock()
	aws, waiting := t.waiting[gw.Name]
	if waiting || time.Since(t.last[gw.Name]) < routerTriggerGap {
		d.metrics.daemon.TriggersDeferred.WithLabelValues(gw.Type, "", "", gw.Name).Inc()
	}
	t.waiting[gw.Name] = aws || withAWS
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// take returns the waiting gateways whose budget allows a poll at now
// (each with whether AWS is asked too), and when the next of the others
// will be allowed (zero if none waits).
func (t *triggers) take(now time.Time) (due map[string]bool, next time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	due = map[string]bool{}
	for r := range t.waiting {
		at := t.last[r].Add(routerTriggerGap)
		if !at.After(now) {
			due[r] = t.waiting[r]
			t.last[r] = now
			delete(t.waiting, r)
		} else if next.IsZero() || at.Before(next) {
			next = at
		}
	}
	return due, next
}

// followUpCycle asks the AWS regions whose follow-up is due again: AWS
// updates its tunnel telemetry on its own schedule, often after the
// router's log line, and this sees it then rather than at the next poll.
func (d *Daemon) followUpCycle(ctx context.Context, now time.Time) {
	sel := &selection{regions: map[config.SourceID]bool{}}
	for id, at := range d.main.followUps {
		if !at.After(now) {
			sel.regions[id] = true
			delete(d.main.followUps, id)
		}
	}
	if len(sel.regions) == 0 {
		return
	}
	d.log.Debug("asking AWS again after a syslog event", zap.Stringers("aws_regions", sel.regionList()))
	d.runCycle(ctx, sel)
}

func earliest[K comparable](m map[K]time.Time) (time.Time, bool) {
	var next time.Time
	for _, t := range m {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	return next, !next.IsZero()
}

// triggeredCycle polls the gateways whose events asked for it (due:
// gateway → whether AWS is asked too) and the AWS regions joined to those
// that ask, then evaluates everything.
func (d *Daemon) triggeredCycle(ctx context.Context, due map[string]bool) {
	if len(due) == 0 {
		return
	}
	cfg := d.cfg.Load()
	now := time.Now()
	routers, withAWS := map[string]bool{}, map[string]bool{}
	for r, aws := range due {
		routers[r] = true
		if aws {
			withAWS[r] = true
		}
	}
	sel := d.triggered(cfg, routers, withAWS, now)
	for id := range sel.regions {
		d.main.followUps[id] = now.Add(awsFollowUp)
	}
	d.log.Info("gateway event (syslog or vici): polling now", zap.Strings("routers", slices.Sorted(maps.Keys(routers))), zap.Stringers("aws_regions", sel.regionList()))
	d.runCycle(ctx, sel)
}

// reevaluate runs the correlator again over the latest data, when a held
// condition comes due between polls.
func (d *Daemon) reevaluate() {
	cfg := d.cfg.Load()
	active := d.evaluate(cfg)
	d.buildStatus(cfg, active)
}

// cycle polls every source once. In-flight work may outlive a shutdown
// request by shutdownGrace, so that a cycle is never cut in half.
func (d *Daemon) cycle(ctx context.Context) { d.runCycle(ctx, nil) }

func (d *Daemon) runCycle(ctx context.Context, sel *selection) {
	work, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		time.AfterFunc(shutdownGrace, cancel)
	})
	defer stop()

	start := time.Now()
	cfg := d.cfg.Load()
	ok, failed := d.poll(work, sel)
	active := d.evaluate(cfg)
	d.buildStatus(cfg, active)
	d.main.cycles++
	took := time.Since(start)
	d.metrics.daemon.CycleDuration.Observe(took.Seconds())
	d.metrics.daemon.LastCycleTimestamp.SetToCurrentTime()
	d.lastCycle.Store(time.Now().UnixNano())
	if !d.ready.Swap(true) {
		d.log.Info("first poll cycle complete; ready", zap.Duration("took", took))
	}
	d.log.Debug("poll cycle complete", zap.Int("cycle", d.main.cycles), zap.Duration("took", took), zap.Int("sources_ok", ok), zap.Int("sources_failed", failed))
	d.mem.release()
	d.notify.Notify(fmt.Sprintf("STATUS=cycle %d done in %s; %d/%d sources ok; %d findings; %s", d.main.cycles, took.Round(time.Millisecond), ok, ok+failed, len(active), cfg.Summary()))
}

// reload loads the configuration file again. An invalid file leaves the
// running configuration in place.
func (d *Daemon) reload() error {
	d.notify.Notify(fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d", monotonicUsec()))
	defer d.notify.Notify("READY=1")
	old := d.cfg.Load()
	c, err := LoadConfig(d.opts.ConfigFile)
	if err == nil {
		err = ensureStateDir(c.Global.StateDir)
	}
	var srcs *sources
	if err == nil {
		srcs, err = d.buildSources(context.Background(), c, d.main.sources)
	}
	var receivers []alert.Receiver
	if err == nil {
		receivers, err = alert.Receivers(c.Alerting, "")
	}
	if err != nil {
		d.metrics.daemon.ConfigLastReloadSuccessful.Set(0)
		d.log.Error("configuration reload failed; keeping the running configuration", zap.Error(err))
		d.notify.Notify("STATUS=configuration reload failed; running with the previous configuration")
		return err
	}
	for _, w := range c.Warnings {
		d.log.Warn("configuration", zap.String("warning", w))
	}
	if len(d.opts.ListenAddresses) == 0 && c.Listen != old.Listen {
		d.log.Warn("listen changed; restart vpnwatchd to apply it", zap.String("running", old.Listen), zap.String("new", c.Listen))
	}
	if c.Syslog.Listen != old.Syslog.Listen {
		// The receiver's socket is opened once, at start (or passed by
		// systemd): a reload cannot move it.
		running := "off"
		if d.syslog != nil {
			running = d.syslog.addr()
		}
		msg := fmt.Sprintf("syslog.listen changed from %q to %q: not applied; restart vpnwatchd to apply it (syslog now: %s)", old.Syslog.Listen, c.Syslog.Listen, running)
		d.log.Warn("syslog.listen changed; restart vpnwatchd to apply it", zap.String("running", running), zap.String("new", c.Syslog.Listen))
		d.events.add(msg)
		d.notify.Notify("STATUS=" + msg)
	}
	d.main.sources.closeExcept(srcs, d.whenIdle)
	d.main.sources = srcs
	d.main.latest.retain(c)
	if d.syslog != nil {
		d.syslog.setRouters(c.Routers)
	}
	d.main.evaluator = correlate.NewEvaluator(c.Rules)
	d.main.evaluator.NoHolds = d.opts.Once
	if d.alerts != nil {
		d.alerts.Configure(alert.LifecycleFrom(c.Alerting), alert.WindowsFrom(c.Alerting), receivers)
		d.alerts.SetGrouping(alert.GroupingFrom(c.Alerting))
	}
	if d.main.probeCtx != nil {
		d.probes.apply(d.main.probeCtx, c.Probes)
		d.watch(d.main.probeCtx, srcs)
	}
	d.buildMetrics()
	d.setConfig(c)
	d.log.Info("configuration reloaded", zap.String("summary", c.Summary()))
	return nil
}

// Result is what one cycle found.
type Result struct {
	Findings      []correlate.Finding
	Unchecked     []string
	SourcesFailed int
	AWS           []aws.Snapshot
	// Gateways are every customer gateway's poll in gateway terms (the
	// routers' too).
	Gateways []gateway.Snapshot
}

// RunOnce polls every source once and evaluates, for check and collect.
// The daemon must have been made with Options.Once.
func (d *Daemon) RunOnce(ctx context.Context) Result {
	var wg sync.WaitGroup
	for _, p := range d.cfg.Load().Probes {
		wg.Go(func() {
			r, err := probe.Search(ctx, p.Target, probe.Options{})
			d.probes.record(probe.Observation{Name: p.Name, Target: p.Target, Path: p.Path, TakenAt: time.Now(), Result: r, Err: err})
		})
	}
	_, failed := d.pollAll(ctx)
	wg.Wait()
	cfg := d.cfg.Load()
	active := d.evaluate(cfg)
	r := Result{Findings: active, Unchecked: d.main.unchecked, SourcesFailed: failed}
	r.AWS, r.Gateways = d.main.latest.snapshots(cfg)
	return r
}

// RouterOutputs returns the raw command outputs of each router's last poll.
func (d *Daemon) RouterOutputs() map[string]rtx.Outputs {
	out := map[string]rtx.Outputs{}
	for _, p := range d.main.sources.rtx {
		if o := p.LastOutputs(); o != nil {
			out[p.Router().Name] = o
		}
	}
	return out
}

// GatewayOutputs returns the raw answers of each strongSwan gateway's last
// poll.
func (d *Daemon) GatewayOutputs() map[string]strongswan.Outputs {
	out := map[string]strongswan.Outputs{}
	for _, g := range d.main.sources.swan {
		if o := g.src.LastOutputs(); o != nil {
			out[g.cfg.Name] = o
		}
	}
	return out
}

// Close ends the routers' SSH sessions of a daemon that was not Run.
func (d *Daemon) Close() { d.main.sources.closeExcept(nil, d.whenIdle) }

// Reload asks the main loop to reload the configuration and waits for the
// result.
func (d *Daemon) Reload(ctx context.Context) error {
	reply := make(chan error, 1)
	select {
	case d.reloadReq <- reply:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Config returns the running configuration.
func (d *Daemon) Config() *config.Config { return d.cfg.Load() }

// ensureStateDir creates the state directory if needed and checks that it
// is writable now rather than at the first alert.
func ensureStateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("state directory %s: %w (set global.state_dir, or use StateDirectory=vpnwatchd under systemd)", dir, err)
	}
	f, err := os.CreateTemp(dir, ".vpnwatchd-write-test-*")
	if err != nil {
		return fmt.Errorf("state directory %s is not writable: %w (set global.state_dir, or use StateDirectory=vpnwatchd under systemd)", dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}
