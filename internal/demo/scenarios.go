package demo

import (
	"maps"
	"slices"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/aws/ec2sim"
)

type step struct {
	at  time.Duration
	say string
	do  func(*env)
}

type scenario struct {
	title    string
	wan      string // the router's WAN address at the start
	mss      string
	lifetime time.Duration
	steps    []step
	moral    string
}

// ScenarioNames lists the scenarios, for --help.
func ScenarioNames() []string {
	return slices.Sorted(slices.Values(append(slices.Collect(maps.Keys(scenarios)), "strongswan")))
}

func bothTunnels(f func(n int)) {
	f(1)
	f(2)
}

var scenarios = map[string]scenario{
	"seed": {
		title: "the office moves its RTX1200 to a new line (the incident vpnwatchd exists for)",
		wan:   oldWANIP, mss: "1379", lifetime: 20 * time.Second,
		steps: []step{
			{0, "The office runs on its old line. The RTX has the AWS sample config: `ip tunnel tcp mss limit 1379`, no `ip tunnel mtu`.", nil},
			{7 * time.Second, "Relocation: the RTX moves to the new line and its WAN address becomes " + newWANIP + ". AWS still knows the customer gateway as " + oldWANIP + ".",
				func(e *env) {
					e.router.SetConfig(routerConfig(newWANIP, "1379"))
					bothTunnels(e.router.Disconnect)
				}},
			{15 * time.Second, "The operator creates a customer gateway for " + newWANIP + " and attaches it to the VPN. IPsec comes up; BGP does not.",
				func(e *env) {
					e.sim.Update(region, func(r *ec2sim.Region) { r.CustomerGateways[0].IP = newWANIP })
					bothTunnels(func(n int) { e.router.StickBGP(n, "Active"); e.router.Reconnect(n) })
				}},
			{33 * time.Second, "The operator recreates the VPN connection: BGP comes up, routes flow. Unknown to them, rekeys on this line will fail.",
				func(e *env) {
					bothTunnels(func(n int) {
						e.router.StickBGP(n, "")
						e.router.Disconnect(n)
						e.router.Reconnect(n)
						e.router.FailRekey(n)
					})
				}},
			{72 * time.Second, "", nil},
		},
		moral: "The seed's operator needed a day and `ping -f -l N` by hand to get here; vpnwatchd's own fixes are below.\n" +
			"The WAN side of the seed's fix (`ip lan2 mtu`, `ip lan2 tcp mss limit`) comes from measuring the real line: a `path: wan`\n" +
			"probe, or `vpnwatchd probe mtu --path wan TARGET` on the office network. This demo has no real line to measure, so it is not shown.",
	},
	"healthy": {
		title: "a healthy BGP VPN with IPsec rekeys every 15 s",
		wan:   newWANIP, mss: "auto", lifetime: 15 * time.Second,
		steps: []step{
			{0, "Both tunnels UP, BGP established, `ip tunnel tcp mss limit auto`. Rekeys happen every ~10 s; none may fire anything.", nil},
			{40 * time.Second, "", nil},
		},
	},
	"tunnel-down": {
		title: "one tunnel loses its SAs: redundancy lost",
		wan:   newWANIP, mss: "auto", lifetime: 20 * time.Second,
		steps: []step{
			{0, "Both tunnels UP. Tunnel 2's next rekey will fail.", func(e *env) { e.router.FailRekey(2) }},
			{40 * time.Second, "", nil},
		},
	},
	"throttled": {
		title: "AWS throttles the EC2 API (RequestLimitExceeded)",
		wan:   newWANIP, mss: "auto", lifetime: time.Hour,
		steps: []step{
			{0, "All healthy.", nil},
			{5 * time.Second, "Another tool exhausts the account's EC2 API rate: every call is throttled for a while.", func(e *env) { e.sim.ThrottleNext(1 << 30) }},
			{30 * time.Second, "The throttling ends; vpnwatchd's backoff lets it try again.", func(e *env) { e.sim.ThrottleNext(0) }},
			{60 * time.Second, "", nil},
		},
	},
	"aws-logs": {
		title: "AWS's own logs name the cause: a pre-shared key typo, and too many routes",
		wan:   newWANIP, mss: "auto", lifetime: time.Hour,
		steps: []step{
			{0, "All healthy; both tunnels send AWS's tunnel activity and BGP logs to CloudWatch Logs.", nil},
			{3 * time.Second, "Someone retypes tunnel 1's pre-shared key on the RTX with a typo: the tunnel drops and AWS logs, at every attempt, that the key does not match. " +
				"Meanwhile the office adds networks and advertises 95 routes: AWS warns that the limit is 100.",
				func(e *env) {
					e.router.Disconnect(1)
					now := time.Now()
					for i := range 2 {
						e.sim.LogTunnelActivity(region, vpnID, outsideIPs[0], now.Add(time.Duration(i+1)*time.Second), ec2sim.TunnelActivity{
							Details: "AWS tunnel detected a pre-shared key mismatch with cgw: " + newWANIP, Phase1: "Negotiating", Phase2: "Down", DPDEnabled: true})
					}
					e.sim.LogBGPStatus(region, vpnID, outsideIPs[1], now, "UP",
						"AWS-side peer is reporting a maximum prefix limit warning - received 95 prefixes from neighbor 169.254.20.2, limit is 100")
				}},
			{25 * time.Second, "", nil},
		},
		moral: "Without AWS's logs the RTX says only that tunnel 1 is down; AWS's side says why.",
	},
	"router-unreachable": {
		title: "the RTX stops answering SSH",
		wan:   newWANIP, mss: "auto", lifetime: time.Hour,
		steps: []step{
			{0, "All healthy.", nil},
			{5 * time.Second, "The router's SSH service goes away.", func(e *env) { e.rtxSrv.Close() }},
			{25 * time.Second, "", nil},
		},
	},
}
