package correlate

import (
	"fmt"
	"testing"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/aws"
	"github.com/vpnwatchd/vpnwatchd/internal/config"
	"github.com/vpnwatchd/vpnwatchd/internal/rtx"
	"github.com/vpnwatchd/vpnwatchd/internal/rtx/rtxsim"
)

// The test world: an RTX simulated by rtxsim (its console output parsed by
// the real parsers) and an AWS side whose telemetry follows the router, as
// AWS's does: UP with "N BGP ROUTES" when BGP is established, DOWN with
// "IPSEC IS UP" when only IPsec is, DOWN with "IPSEC IS DOWN" otherwise.

const vpnID = "vpn-0a1b2c3d4e5f67890"

func routerConfig(mss string, ipsecSA int, dpd bool) string {
	return rtxsim.SampleConfig{WAN: "198.18.0.2", OutsideIPs: []string{"203.0.113.10", "203.0.113.20"}, MSS: mss, IPsecSALifetime: ipsecSA, DPD: dpd}.Text()
}

var (
	healthyConfig = routerConfig("auto", 3600, true)
	// seedConfig is the AWS sample for RTX as the seed's operator had it:
	// `ip tunnel tcp mss limit 1379` and no `ip tunnel mtu` (1280).
	seedConfig = routerConfig("1379", 3600, true)
)

type world struct {
	t      testing.TB
	now    time.Time
	router *rtxsim.Router
	cgwIP  string
	// override, when set, replaces the telemetry AWS derives for a tunnel.
	override map[string]aws.Tunnel
	awsErr   error
	rtxErr   error
	// history is the router's SA history, applied to each snapshot the
	// router answers with, as the RTX poller does.
	history rtx.SAHistory
}

func newWorld(t testing.TB, cfg string) *world {
	w := &world{t: t, now: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC), cgwIP: "198.18.0.2", override: map[string]aws.Tunnel{}}
	w.router = rtxsim.New("RTX1200 Rev.10.01.65", cfg, func() time.Time { return w.now })
	w.router.AddTunnel(rtxsim.Tunnel{Number: 1, Remote: "203.0.113.10", Neighbor: "169.254.10.1", RemoteAS: "64512", Routes: []string{"10.0.0.0/16"}})
	w.router.AddTunnel(rtxsim.Tunnel{Number: 2, Remote: "203.0.113.20", Neighbor: "169.254.20.1", RemoteAS: "64512", Routes: []string{"10.0.0.0/16"}})
	return w
}

func (w *world) rtxSnapshot() rtx.Snapshot {
	out := rtx.Outputs{}
	for _, cmd := range []string{rtx.CmdConfig, rtx.CmdIPsecSA, rtx.CmdBGPNeighbor, rtx.CmdIPRoute, rtx.TunnelStatusCommand(1), rtx.TunnelStatusCommand(2)} {
		text, ok := w.router.Output(cmd)
		if !ok {
			w.t.Fatalf("rtxsim does not know %q", cmd)
		}
		out[cmd] = text
	}
	snap, missing, err := rtx.Build("osaka-rtx1200", out, time.UTC)
	if err != nil || len(missing) > 0 {
		w.t.Fatalf("build: %v %v", err, missing)
	}
	// As the poller does: what each established neighbor sent.
	asked := false
	for _, t := range snap.Tunnels {
		if t.BGP != nil && t.BGP.Established() {
			cmd := rtx.ReceivedRoutesCommand(t.BGP.Address)
			if out[cmd], asked = w.router.Output(cmd); !asked {
				delete(out, cmd) // the firmware does not know the command
			}
		}
	}
	if asked {
		if snap, _, err = rtx.Build("osaka-rtx1200", out, time.UTC); err != nil {
			w.t.Fatalf("build: %v", err)
		}
	}
	snap.TakenAt = w.now
	return snap
}

// seen is what vpnwatchd gets from the router: its snapshot, or the error
// when the router does not answer.
func (w *world) seen(r rtx.Snapshot) rtx.Snapshot {
	if w.rtxErr != nil {
		return rtx.Snapshot{Router: "osaka-rtx1200", TakenAt: w.now, Err: w.rtxErr}
	}
	w.history.Apply(&r)
	return r
}

func (w *world) awsSnapshot(r rtx.Snapshot) aws.Snapshot {
	conn := aws.Connection{ID: vpnID, Name: "osaka-office", State: aws.StateAvailable, Routing: aws.RoutingBGP, Type: "ipsec.1",
		CustomerGatewayID: "cgw-0123456789abcdef0", CustomerGatewayIP: w.cgwIP, GatewayID: "vgw-0fedcba9876543210"}
	for i, ip := range []string{"203.0.113.10", "203.0.113.20"} {
		t := aws.Tunnel{OutsideIP: ip, InsideCIDR: fmt.Sprintf("169.254.%d0.0/30", i+1), Status: "DOWN", StatusMessage: "IPSEC IS DOWN",
			Phase1Lifetime: aws.DefaultPhase1Lifetime, Phase2Lifetime: aws.DefaultPhase2Lifetime, DPDTimeout: aws.DefaultDPDTimeout,
			DPDTimeoutAction: "clear", StartupAction: "add", Maintenance: &aws.Maintenance{CheckedAt: w.now}}
		if r.Err == nil { // AWS follows the router's real state, seen or not
			rt := r.Tunnels[i]
			switch {
			case rt.Status.Online() && rt.BGP != nil && rt.BGP.Established():
				t.Status, t.StatusMessage, t.AcceptedRoutes = "UP", "1 BGP ROUTES", 1
			case rt.Status.Online():
				t.StatusMessage = "IPSEC IS UP"
			}
		}
		if o, ok := w.override[ip]; ok {
			t.Status, t.StatusMessage, t.AcceptedRoutes = o.Status, o.StatusMessage, o.AcceptedRoutes
			if o.Maintenance != nil {
				t.Maintenance = o.Maintenance
			}
		}
		conn.Tunnels = append(conn.Tunnels, t)
	}
	s := aws.Snapshot{Source: "prod", Region: "ap-northeast-1", TakenAt: w.now, Connections: []aws.Connection{conn}}
	if w.awsErr != nil {
		s = aws.Snapshot{Source: "prod", Region: "ap-northeast-1", TakenAt: w.now, Err: w.awsErr}
	}
	return s
}

func (w *world) observations() Observations {
	r := w.rtxSnapshot()
	return Observations{AWS: []aws.Snapshot{w.awsSnapshot(r)}, RTX: []rtx.Snapshot{w.seen(r)}, PollInterval: 30 * time.Second,
		Expected: []SourceRef{{Type: "aws", Name: "prod", Region: "ap-northeast-1"}, {Type: "rtx", Name: "osaka-rtx1200"}},
		Joins:    map[string][]config.TunnelJoin{}}
}

// run evaluates every step from now until now+d, and returns the findings
// of the last evaluation.
func (w *world) run(e *Evaluator, st *State, d, step time.Duration) []Finding {
	var fs []Finding
	end := w.now.Add(d)
	for !w.now.After(end) {
		*st, fs = findingsOf(e.Evaluate(*st, w.observations(), w.now))
		w.now = w.now.Add(step)
	}
	w.now = end
	return fs
}

// findingsOf is Evaluate's state and findings, for tests that need no more.
func findingsOf(st State, r Result) (State, []Finding) { return st, r.Findings }

// byRule indexes findings by rule, each with its subjects.
func byRule(fs []Finding) map[string][]Finding {
	out := map[string][]Finding{}
	for _, f := range fs {
		out[f.Rule] = append(out[f.Rule], f)
	}
	return out
}

func rulesOf(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Rule+"("+f.Subject.String()+")")
	}
	return out
}
