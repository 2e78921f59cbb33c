package aws

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/vpnwatchd/vpnwatchd/internal/aws/ec2sim"
)

// With aws[].cloudwatch_metrics on, each tunnel gets its latest AWS/VPN
// TunnelDataIn/Out datapoints through the real SDK (CloudWatch speaks
// Smithy RPC v2 CBOR): one GetMetricData per 250 tunnels per poll; off, no
// call at all; throttled, the poll stands and the traffic backs off.
func TestTunnelTraffic(t *testing.T) {
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	sim, url := ec2sim.Start(t, clock)
	const vpns = 130 // 260 tunnels: two calls
	sim.Update(tokyo, func(r *ec2sim.Region) {
		r.CustomerGateways = []*ec2sim.CustomerGateway{{ID: "cgw-0123456789abcdef0", IP: "198.51.100.7", BGPASN: "65000"}}
		for i := range vpns {
			r.VPNConnections = append(r.VPNConnections, &ec2sim.VPNConnection{ID: fmt.Sprintf("vpn-%017x", i), CustomerGatewayID: "cgw-0123456789abcdef0", VPNGatewayID: "vgw-1",
				Tunnels: []*ec2sim.Tunnel{{OutsideIP: fmt.Sprintf("203.0.%d.%d", i/200, i%200+1), InsideCIDR: "169.254.10.0/30", Status: "UP", StatusMessage: "1 BGP ROUTES"},
					{OutsideIP: fmt.Sprintf("203.1.%d.%d", i/200, i%200+1), InsideCIDR: "169.254.20.0/30", Status: "UP", StatusMessage: "1 BGP ROUTES"}}})
		}
	})
	// Tunnel 1 of the first connection: two datapoints, the newest wins.
	sim.AddTunnelData(tokyo, "vpn-00000000000000000", "203.0.0.1", ec2sim.TunnelData{At: now.Add(-6 * time.Minute), In: 100, Out: 200})
	sim.AddTunnelData(tokyo, "vpn-00000000000000000", "203.0.0.1", ec2sim.TunnelData{At: now.Add(-5 * time.Minute), In: 1500, Out: 2500})
	// The last connection's second tunnel: in the second call.
	sim.AddTunnelData(tokyo, fmt.Sprintf("vpn-%017x", vpns-1), fmt.Sprintf("203.1.0.%d", vpns), ec2sim.TunnelData{At: now.Add(-4 * time.Minute), In: 7, Out: 8})
	// Too old for the window: not read.
	sim.AddTunnelData(tokyo, "vpn-00000000000000001", "203.0.0.2", ec2sim.TunnelData{At: now.Add(-time.Hour), In: 1, Out: 1})

	traffic := func(s Snapshot) map[string]TunnelTraffic {
		out := map[string]TunnelTraffic{}
		for _, c := range s.Connections {
			for _, tu := range c.Tunnels {
				if tu.Traffic != nil {
					out[tu.OutsideIP] = *tu.Traffic
				}
			}
		}
		return out
	}
	// Off by default: no call.
	if s := newPoller(t, source(url, tokyo), Options{Now: clock}).Poll(context.Background())[0]; s.Err != nil || len(traffic(s)) != 0 || sim.Requests("GetMetricData", "") != 0 {
		t.Fatalf("cloudwatch_metrics off: %v, %d calls", s.Err, sim.Requests("GetMetricData", ""))
	}
	src := source(url, tokyo)
	src.CloudWatchMetrics = true
	p := newPoller(t, src, Options{Now: clock, Logger: zaptest.NewLogger(t)})
	s := p.Poll(context.Background())[0]
	got := traffic(s)
	if s.Err != nil || len(got) != 2 || sim.Requests("GetMetricData", tokyo) != 2 {
		t.Fatalf("%v: %d calls, traffic %+v", s.Err, sim.Requests("GetMetricData", tokyo), got)
	}
	if tr := got["203.0.0.1"]; tr.In != 1500 || tr.Out != 2500 || !tr.At.Equal(now.Add(-5*time.Minute)) || tr.Period != time.Minute {
		t.Errorf("first tunnel: %+v", tr)
	}
	if tr := got[fmt.Sprintf("203.1.0.%d", vpns)]; tr.In != 7 || tr.Out != 8 {
		t.Errorf("last tunnel (second call): %+v", tr)
	}
	// Throttled past the SDK's retries: the poll stands, then no call until
	// the backoff has passed.
	sim.ThrottleMetrics(1000)
	now = now.Add(30 * time.Second)
	before := sim.Requests("GetMetricData", "")
	if s = p.Poll(context.Background())[0]; s.Err != nil || len(s.Connections) != vpns {
		t.Fatalf("throttled: %v", s.Err)
	}
	attempts := sim.Requests("GetMetricData", "") - before
	sim.ThrottleMetrics(0)
	now = now.Add(5 * time.Second)
	if p.Poll(context.Background()); sim.Requests("GetMetricData", "") != before+attempts {
		t.Errorf("inside the backoff: %d more calls", sim.Requests("GetMetricData", "")-before-attempts)
	}
}
