package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/vpnwatchd/vpnwatchd/internal/alert"
	"github.com/vpnwatchd/vpnwatchd/internal/aws/ec2sim"
	"github.com/vpnwatchd/vpnwatchd/internal/rtx/rtxsim"
)

// The three failures of the seed incident, as the detection-latency
// harness injects them into both simulators at once.
const (
	faultBGPDown    = "BGPDownIPsecUp" // BGP stops, IPsec stays up
	faultRekey      = "SARekeyFailed"  // the SAs run out with no successor
	faultTunnelDown = "TunnelDown"     // the tunnel loses its SAs at once
)

const (
	latencyRegion = "ap-northeast-1"
	latencyVPN    = "vpn-0a1b2c3d4e5f67890"
)

var latencyOutsideIPs = []string{"203.0.113.10", "203.0.113.20"}

// latencyEnv is one VPN with two tunnels on ec2sim and the RTX that
// terminates them on rtxsim, a daemon watching both and a webhook receiver
// that notes when each rule's first notification arrives.
type latencyEnv struct {
	sim    *ec2sim.Sim
	router *rtxsim.Router
	d      *Daemon

	srv *rtxsim.Server

	mu       sync.Mutex
	notified map[string]time.Time // rule → first firing notification
	got      chan string
	// sent is every notification the webhook got, as "STATUS rule stale".
	sent []string
}

// notifications returns what the webhook got so far.
func (e *latencyEnv) notifications() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.sent...)
}

type latencyOptions struct {
	poll    time.Duration
	hold    time.Duration // of TunnelDown and BGPDownIPsecUp
	syslog  bool
	rekeyIn time.Duration // tunnel 1's SAs last this long (0: an hour)
	// otherRegion is a second region of the source with nothing joined to
	// the router.
	otherRegion string
	// alerting is added to the alerting section (resolve_hold, …).
	alerting string
}

func startLatencyEnv(t testing.TB, o latencyOptions) *latencyEnv {
	t.Helper()
	e := &latencyEnv{notified: map[string]time.Time{}, got: make(chan string, 16)}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := time.Now()
		var p alert.WebhookPayload
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		e.mu.Lock()
		for _, a := range p.Alerts {
			if !a.Changed {
				continue // a grouped message repeats what its group still has
			}
			e.sent = append(e.sent, fmt.Sprintf("%s %s stale=%v", a.Status, a.Finding.Rule, a.Finding.Stale))
			if _, seen := e.notified[a.Finding.Rule]; !seen && a.Status == alert.StatusFiring {
				e.notified[a.Finding.Rule] = at
				select {
				case e.got <- a.Finding.Rule: // wakes wait
				default: // wakes are pending already
				}
			}
		}
		e.mu.Unlock()
	}))
	t.Cleanup(hook.Close)

	var url string
	e.sim, url = ec2sim.Start(t, nil)
	e.sim.Update(latencyRegion, func(r *ec2sim.Region) {
		r.CustomerGateways = append(r.CustomerGateways, &ec2sim.CustomerGateway{ID: "cgw-1", IP: "198.18.0.2", BGPASN: "65000"})
		v := &ec2sim.VPNConnection{ID: latencyVPN, CustomerGatewayID: "cgw-1", VPNGatewayID: "vgw-1"}
		for i, ip := range latencyOutsideIPs {
			v.Tunnels = append(v.Tunnels, &ec2sim.Tunnel{OutsideIP: ip, InsideCIDR: fmt.Sprintf("169.254.%d0.0/30", i+1), Status: "UP",
				StatusMessage: "1 BGP ROUTES", AcceptedRoutes: 1, Phase1LifetimeSeconds: 28800, Phase2LifetimeSeconds: 3600})
		}
		r.VPNConnections = append(r.VPNConnections, v)
	})
	e.router = rtxsim.New("RTX1210 Rev.14.01.42", rtxsim.SampleConfig{WAN: "198.18.0.2", OutsideIPs: latencyOutsideIPs, MSS: "auto", IPsecSALifetime: 3600, DPD: true}.Text(), nil)
	e.router.SetRekeyMargin(500 * time.Millisecond)
	for i, ip := range latencyOutsideIPs {
		life := time.Hour
		if i == 0 && o.rekeyIn > 0 {
			life = o.rekeyIn
		}
		e.router.AddTunnel(rtxsim.Tunnel{Number: i + 1, Gateway: i + 1, Remote: ip, Neighbor: fmt.Sprintf("169.254.%d0.1", i+1), RemoteAS: "64512",
			Routes: []string{"10.0.0.0/16"}, IPsecLifetime: life, ISAKMPLifetime: 8 * time.Hour})
	}
	srv, kh := rtxsim.Start(t, e.router, "monitor", "rtx-pass")
	e.srv = srv

	dir := t.TempDir()
	writeConfig(t, filepath.Join(dir, "rtx.password"), "rtx-pass\n")
	cfg := minimalConfig(dir, o.poll.String()) +
		fmt.Sprintf("aws:\n  - name: prod\n    regions: [%s]\n    endpoint: %s\n", strings.Trim(latencyRegion+", "+o.otherRegion, ", "), url) +
		fmt.Sprintf("routers:\n  - name: osaka\n    address: %s\n    user: monitor\n    password_file: rtx.password\n    known_hosts: %s\n", srv.Addr(), kh) +
		fmt.Sprintf("rules:\n  TunnelDown: {hold: %s}\n  BGPDownIPsecUp: {hold: %s}\n", o.hold, o.hold) +
		// group_wait 0: these tests measure how fast a finding is known.
		fmt.Sprintf("alerting:\n  group_wait: 0s\n  group_interval: 1s\n  webhook:\n    - url: %s/hook\n", hook.URL) + o.alerting
	if o.syslog {
		cfg += "syslog:\n  listen: 127.0.0.1:0\n"
	}
	cfgFile := filepath.Join(dir, "vpnwatchd.yaml")
	writeConfig(t, cfgFile, cfg)
	opts := Options{ConfigFile: cfgFile}
	if _, bench := t.(*testing.B); bench {
		opts.Logger = zap.NewNop()
	}
	e.d, _ = start(t, opts)
	if o.syslog {
		if err := e.router.SendSyslog(e.d.syslog.conn.LocalAddr().String()); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go e.router.Tick(ctx, 20*time.Millisecond)
	// The first cycle sees the healthy state.
	for deadline := time.Now().Add(20 * time.Second); !e.d.ready.Load(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the daemon's first poll cycle did not end")
		}
	}
	return e
}

// inject makes the failure happen on both sides and returns when it did.
// AWS's telemetry changes first: the router's log line, which triggers the
// poll, must find it changed (when AWS lags, the AWS side is seen at the
// next regular poll).
func (e *latencyEnv) inject(t testing.TB, fault string) time.Time {
	switch fault {
	case faultBGPDown:
		now := time.Now()
		if err := e.sim.SetTunnel(latencyRegion, latencyVPN, latencyOutsideIPs[0], "DOWN", "IPSEC IS UP", 0); err != nil {
			t.Fatal(err)
		}
		e.router.StickBGP(1, "Active")
		return now
	case faultTunnelDown:
		now := time.Now()
		if err := e.sim.SetTunnel(latencyRegion, latencyVPN, latencyOutsideIPs[0], "DOWN", "IPSEC IS DOWN", 0); err != nil {
			t.Fatal(err)
		}
		e.router.Disconnect(1)
		return now
	}
	t.Fatalf("unknown fault %q", fault)
	return time.Time{}
}

// wait returns when rule's first notification arrived.
func (e *latencyEnv) wait(t testing.TB, rule string, limit time.Duration) time.Time {
	t.Helper()
	deadline := time.After(limit)
	for {
		e.mu.Lock()
		at, ok := e.notified[rule]
		e.mu.Unlock()
		if ok {
			return at
		}
		select {
		case <-e.got:
		case <-deadline:
			t.Fatalf("no %s notification within %s", rule, limit)
		}
	}
}

// detect runs one failure and returns the time from the fault to the
// notification at the webhook.
func detect(t testing.TB, fault string, o latencyOptions) time.Duration {
	t.Helper()
	if fault == faultRekey {
		o.rekeyIn = 3 * time.Second
	}
	start := time.Now()
	e := startLatencyEnv(t, o)
	var at time.Time
	if fault == faultRekey {
		e.router.FailRekey(1)
		at = start.Add(o.rekeyIn) // the SAs were made when the router was
	} else {
		at = e.inject(t, fault)
	}
	return e.wait(t, fault, 2*o.poll+o.hold+20*time.Second).Sub(at)
}

// With syslog, each of the three failures reaches the webhook within a
// couple of seconds although the daemon polls only every 30 s: the
// router's log line triggers a poll of the router and of the AWS region of
// its VPN. (The bound is loose on purpose: it tells a triggered poll from
// a regular one, not how fast the machine is; BenchmarkDetectionLatency
// measures.)
func TestSyslogDetectsEachFailure(t *testing.T) {
	for _, fault := range []string{faultBGPDown, faultRekey, faultTunnelDown} {
		t.Run(fault, func(t *testing.T) {
			latency := detect(t, fault, latencyOptions{poll: 30 * time.Second, syslog: true})
			if latency > 15*time.Second {
				t.Errorf("%s notified %s after the fault: not triggered by syslog", fault, latency)
			}
			t.Logf("%s notified %s after the fault", fault, latency.Round(time.Millisecond))
		})
	}
}

// A held condition fires when its hold ends, not at the next poll: with a
// 30 s interval and a 3 s hold, TunnelDown reaches the webhook after about
// 3 s (the syslog-triggered poll sees it at once).
func TestHoldEndsBetweenPolls(t *testing.T) {
	latency := detect(t, faultTunnelDown, latencyOptions{poll: 30 * time.Second, hold: 3 * time.Second, syslog: true})
	if latency < 3*time.Second {
		t.Errorf("notified %s after the fault: the 3s hold was not applied", latency)
	}
	if latency > 15*time.Second {
		t.Errorf("notified %s after the fault: the hold's end waited for the next poll", latency)
	}
}

// When AWS updates its telemetry after the router's log line, the region
// is asked again awsFollowUp later: the finding comes then, not at the next
// 30 s poll.
func TestAWSAskedAgainAfterSyslogEvent(t *testing.T) {
	e := startLatencyEnv(t, latencyOptions{poll: 30 * time.Second, syslog: true})
	fault := time.Now()
	e.router.Disconnect(1) // logs "IP Tunnel[1] Down"; AWS still says UP
	time.Sleep(time.Second)
	if err := e.sim.SetTunnel(latencyRegion, latencyVPN, latencyOutsideIPs[0], "DOWN", "IPSEC IS DOWN", 0); err != nil {
		t.Fatal(err)
	}
	latency := e.wait(t, faultTunnelDown, 40*time.Second).Sub(fault)
	if latency < awsFollowUp || latency > awsFollowUp+5*time.Second {
		t.Errorf("TunnelDown notified %s after the router's log line, want about %s (the follow-up poll)", latency, awsFollowUp)
	}
}

// A syslog event polls its router and the AWS region joined to it; the
// other regions of the source are not asked.
func TestSyslogPollsOnlyJoinedRegion(t *testing.T) {
	const other = "us-east-1"
	e := startLatencyEnv(t, latencyOptions{poll: 30 * time.Second, syslog: true, otherRegion: other})
	joined, unjoined := e.sim.Requests("DescribeVpnConnections", latencyRegion), e.sim.Requests("DescribeVpnConnections", other)
	if joined != 1 || unjoined != 1 {
		t.Fatalf("first cycle: %d and %d DescribeVpnConnections, want one per region", joined, unjoined)
	}
	e.inject(t, faultTunnelDown)
	e.wait(t, faultTunnelDown, 15*time.Second)
	if got := e.sim.Requests("DescribeVpnConnections", latencyRegion) - joined; got != 1 {
		t.Errorf("DescribeVpnConnections in %s after the event: %d, want 1 (the triggered poll)", latencyRegion, got)
	}
	if got := e.sim.Requests("DescribeVpnConnections", other) - unjoined; got != 0 {
		t.Errorf("DescribeVpnConnections in %s after the event: %d, want 0 (nothing there is joined to the router)", other, got)
	}
}

// BenchmarkDetectionLatency times each seed failure from its injection in
// the simulators to the notification at a webhook, with polling only
// (5 s interval) and with syslog (30 s interval), both with 2 s holds on
// TunnelDown and BGPDownIPsecUp (SARekeyFailed has none). Polling must
// stay within interval + hold + 1 s.
//
//	go test -run='^$' -bench=DetectionLatency -benchtime=3x ./internal/daemon
func BenchmarkDetectionLatency(b *testing.B) {
	const hold = 2 * time.Second
	for _, fault := range []string{faultBGPDown, faultRekey, faultTunnelDown} {
		for _, mode := range []struct {
			name   string
			syslog bool
			poll   time.Duration
		}{{"syslog", true, 30 * time.Second}, {"polling-5s", false, 5 * time.Second}} {
			b.Run(fault+"/"+mode.name, func(b *testing.B) {
				h := hold
				if fault == faultRekey {
					h = 0
				}
				var total, worst time.Duration
				n := 0
				for b.Loop() {
					l := detect(b, fault, latencyOptions{poll: mode.poll, hold: hold, syslog: mode.syslog})
					total += l
					worst = max(worst, l)
					n++
				}
				b.ReportMetric(float64(total.Milliseconds())/float64(n), "ms-to-notification")
				b.ReportMetric(float64(worst.Milliseconds()), "worst-ms")
				if bound := mode.poll + h + time.Second; !mode.syslog && worst > bound {
					b.Errorf("worst %s exceeds poll interval + hold + 1 s = %s", worst, bound)
				}
			})
		}
	}
}
