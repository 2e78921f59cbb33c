package aws

import (
	"context"
	"fmt"
	"testing"

	"github.com/vpnwatchd/vpnwatchd/internal/aws/ec2sim"
)

// BenchmarkPollThousandConnections is one steady-state poll of 1,000 VPN
// connections (2,000 tunnels) in one region through ec2sim and the real SDK.
func BenchmarkPollThousandConnections(b *testing.B) {
	sim, url := ec2sim.Start(b, nil)
	sim.Update(tokyo, func(r *ec2sim.Region) {
		for i := range 1000 {
			cgw := fmt.Sprintf("cgw-%017x", i)
			r.CustomerGateways = append(r.CustomerGateways, &ec2sim.CustomerGateway{ID: cgw, IP: fmt.Sprintf("198.51.%d.%d", 100+i/250, i%250), BGPASN: "65000"})
			r.VPNConnections = append(r.VPNConnections, &ec2sim.VPNConnection{
				ID: fmt.Sprintf("vpn-%017x", i), CustomerGatewayID: cgw, VPNGatewayID: "vgw-1", Tags: map[string]string{"Name": fmt.Sprintf("site-%d", i)},
				Tunnels: []*ec2sim.Tunnel{
					{OutsideIP: fmt.Sprintf("203.0.%d.%d", i/125, 2*(i%125)), InsideCIDR: "169.254.10.0/30", Status: "UP", StatusMessage: "2 BGP ROUTES", AcceptedRoutes: 2},
					{OutsideIP: fmt.Sprintf("203.0.%d.%d", i/125, 2*(i%125)+1), InsideCIDR: "169.254.20.0/30", Status: "DOWN", StatusMessage: "IPSEC IS UP"},
				},
			})
		}
	})
	p, err := New(context.Background(), source(url, tokyo), Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	// Warm up until every tunnel's maintenance status is known (100 per poll).
	for range 21 {
		if s := p.Poll(ctx)[0]; s.Err != nil {
			b.Fatal(s.Err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		s := p.Poll(ctx)[0]
		if s.Err != nil || len(s.Connections) != 1000 {
			b.Fatalf("poll: %v, %d connections", s.Err, len(s.Connections))
		}
	}
}
