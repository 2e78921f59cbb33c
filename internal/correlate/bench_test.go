package correlate

import (
	"fmt"
	"testing"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/aws"
	"github.com/vpnwatchd/vpnwatchd/internal/rtx"
)

// BenchmarkEvaluate2000Tunnels is one evaluation over 1,000 VPN connections
// (2,000 AWS tunnels) joined to 500 routers with 4 tunnels each, with the
// state carried from the previous cycle.
func BenchmarkEvaluate2000Tunnels(b *testing.B) {
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	var obs Observations
	obs.PollInterval = 30 * time.Second
	snap := aws.Snapshot{Source: "prod", Region: "ap-northeast-1", TakenAt: now}
	routers := map[int]*rtx.Snapshot{}
	for i := range 1000 {
		conn := aws.Connection{ID: fmt.Sprintf("vpn-%017x", i), State: aws.StateAvailable, Routing: aws.RoutingBGP, CustomerGatewayIP: fmt.Sprintf("198.18.%d.%d", i/250, i%250)}
		for j := range 2 {
			ip := fmt.Sprintf("203.%d.%d.%d", j, i/250, i%250)
			conn.Tunnels = append(conn.Tunnels, aws.Tunnel{OutsideIP: ip, InsideCIDR: "169.254.10.0/30", Status: "UP", StatusMessage: "1 BGP ROUTES", AcceptedRoutes: 1,
				Phase1Lifetime: aws.DefaultPhase1Lifetime, Phase2Lifetime: aws.DefaultPhase2Lifetime})
			r := i / 2 // two connections per router
			if routers[r] == nil {
				routers[r] = &rtx.Snapshot{Router: fmt.Sprintf("r%03d", r), TakenAt: now}
				obs.Expected = append(obs.Expected, SourceRef{Type: "rtx", Name: routers[r].Router})
			}
			n := len(routers[r].Tunnels) + 1
			routers[r].Tunnels = append(routers[r].Tunnels, rtx.Tunnel{
				Config: &rtx.TunnelConfig{Number: n, Gateway: n, RemoteAddress: ip, LocalAddress: conn.CustomerGatewayIP, MTU: 1280, MSSAuto: true, MSSConfigured: true,
					IPsecSALifetime: time.Hour, ISAKMPLifetime: 8 * time.Hour, Keepalive: rtx.Keepalive{Enabled: true, Configured: true, Type: "dpd", Interval: 10, Retries: 3}, InsideRemote: "169.254.10.1"},
				Status:          rtx.TunnelStatus{Number: n, Status: "Online"},
				SAs:             []rtx.SA{{ID: 2 * n, Kind: rtx.SAKindESP, Mode: "tun", Tunnel: n, Direction: "send", Remaining: 30 * time.Minute}, {ID: 2*n + 1, Kind: rtx.SAKindESP, Mode: "tun", Tunnel: n, Direction: "recv", Remaining: 30 * time.Minute}},
				BGP:             &rtx.BGPNeighbor{Address: "169.254.10.1", State: "Established", ReceivedPrefixes: 1},
				InstalledRoutes: 1,
			})
		}
		snap.Connections = append(snap.Connections, conn)
	}
	obs.AWS = []aws.Snapshot{snap}
	obs.Expected = append(obs.Expected, SourceRef{Type: "aws", Name: "prod", Region: "ap-northeast-1"})
	// The daemon maps each router's poll into gateway terms once, when it
	// arrives, not at every evaluation.
	for i := range len(routers) {
		obs.Gateways = append(obs.Gateways, routers[i].Gateway())
	}
	e := NewEvaluator(nil)
	st, fs := findingsOf(e.Evaluate(State{}, obs, now))
	if len(fs) != 0 {
		b.Fatalf("healthy estate has findings: %v", rulesOf(fs)[:min(5, len(fs))])
	}
	b.ReportAllocs()
	for b.Loop() {
		st, _ = findingsOf(e.Evaluate(st, obs, now))
	}
}
