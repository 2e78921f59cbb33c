package ec2sim

import (
	"context"
	"encoding/xml"
	"errors"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
)

func client(t *testing.T, url string) *ec2.Client {
	t.Helper()
	cfg, err := awsconfig.LoadDefaultConfig(context.Background(), awsconfig.WithRegion("ap-northeast-1"),
		awsconfig.WithRetryMaxAttempts(1))
	if err != nil {
		t.Fatal(err)
	}
	return ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = awssdk.String(url) })
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

const scenarioYAML = `
regions:
  ap-northeast-1:
    customer_gateways: [{id: cgw-1, ip: 198.51.100.7, bgp_asn: "65000"}]
    vpn_connections:
      - id: vpn-0a1b2c3d4e5f67890
        customer_gateway_id: cgw-1
        vpn_gateway_id: vgw-1
        tunnels:
          - {outside_ip: 203.0.113.10, inside_cidr: 169.254.10.0/30, status: UP, status_message: 2 BGP ROUTES, accepted_routes: 2}
          - {outside_ip: 203.0.113.20, inside_cidr: 169.254.20.0/30, status: UP, status_message: 2 BGP ROUTES, accepted_routes: 2}
events:
  - at: 30s
    region: ap-northeast-1
    tunnel: {vpn: vpn-0a1b2c3d4e5f67890, outside_ip: 203.0.113.10, status: DOWN, message: IPSEC IS UP, routes: 0}
  - at: 60s
    region: ap-northeast-1
    customer_gateway: {id: cgw-1, ip: 198.51.100.99}
  - at: 90s
    throttle: 1
`

func TestScenarioTimeline(t *testing.T) {
	start := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	now := start
	sim, url := Start(t, func() time.Time { return now })
	sc, err := ParseScenario([]byte(scenarioYAML))
	if err != nil {
		t.Fatal(err)
	}
	sim.Play(sc, start, func(err error) { t.Error(err) })
	c := client(t, url)
	ctx := context.Background()
	tunnel1 := func() types.VgwTelemetry {
		out, err := c.DescribeVpnConnections(ctx, &ec2.DescribeVpnConnectionsInput{})
		if err != nil {
			t.Fatal(err)
		}
		return out.VpnConnections[0].VgwTelemetry[0]
	}
	if tel := tunnel1(); tel.Status != "UP" {
		t.Errorf("at start: %s", tel.Status)
	}
	now = start.Add(31 * time.Second)
	tel := tunnel1()
	if tel.Status != "DOWN" || awssdk.ToString(tel.StatusMessage) != "IPSEC IS UP" || awssdk.ToInt32(tel.AcceptedRouteCount) != 0 {
		t.Errorf("at 31s: %s %q", tel.Status, awssdk.ToString(tel.StatusMessage))
	}
	if !awssdk.ToTime(tel.LastStatusChange).Equal(now) {
		t.Errorf("last status change = %v, want %v", awssdk.ToTime(tel.LastStatusChange), now)
	}
	now = start.Add(61 * time.Second)
	out, err := c.DescribeCustomerGateways(ctx, &ec2.DescribeCustomerGatewaysInput{CustomerGatewayIds: []string{"cgw-1"}})
	if err != nil || awssdk.ToString(out.CustomerGateways[0].IpAddress) != "198.51.100.99" {
		t.Errorf("customer gateway after relocation: %v %v", out, err)
	}
	now = start.Add(91 * time.Second)
	if _, err := c.DescribeVpnConnections(ctx, &ec2.DescribeVpnConnectionsInput{}); apiCode(err) != "RequestLimitExceeded" {
		t.Errorf("throttled call: %v", err)
	}
	if _, err := c.DescribeVpnConnections(ctx, &ec2.DescribeVpnConnectionsInput{}); err != nil {
		t.Errorf("call after the throttled one: %v", err)
	}
}

func TestErrorsLikeAWS(t *testing.T) {
	sim, url := Start(t, nil)
	sim.Update("ap-northeast-1", func(r *Region) {})
	c := client(t, url)
	ctx := context.Background()
	_, err := c.DescribeVpnConnections(ctx, &ec2.DescribeVpnConnectionsInput{VpnConnectionIds: []string{"vpn-0000000000000000a"}})
	if apiCode(err) != "InvalidVpnConnectionID.NotFound" {
		t.Errorf("unknown id: %v", err)
	}
	_, err = c.DescribeVpnConnections(ctx, &ec2.DescribeVpnConnectionsInput{Filters: []types.Filter{{Name: awssdk.String("colour"), Values: []string{"red"}}}})
	if apiCode(err) != "InvalidParameterValue" || !strings.Contains(err.Error(), "The filter 'colour' is invalid") {
		t.Errorf("bad filter: %v", err)
	}
	_, err = c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	if apiCode(err) != "InvalidAction" {
		t.Errorf("unsupported action: %v", err)
	}
	_, err = c.GetVpnTunnelReplacementStatus(ctx, &ec2.GetVpnTunnelReplacementStatusInput{VpnConnectionId: awssdk.String("vpn-0000000000000000a"), VpnTunnelOutsideIpAddress: awssdk.String("203.0.113.1")})
	if apiCode(err) != "InvalidVpnConnectionID.NotFound" {
		t.Errorf("replacement status of an unknown connection: %v", err)
	}
}

func TestParseScenarioErrors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown key", "regions: {}\nevnts: []\n", "field evnts not found"},
		{"bad at", "events:\n  - at: soon\n    throttle: 1\n", `events[0].at: "soon" is not a duration`},
		{"two changes", "events:\n  - at: 1s\n    throttle: 1\n    latency: 1s\n", "events[0]: set exactly one"},
		{"no region", "events:\n  - at: 1s\n    tunnel: {vpn: vpn-1, outside_ip: 203.0.113.1, status: DOWN}\n", "events[0]: region is required"},
	} {
		if _, err := ParseScenario([]byte(tc.yaml)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// The generic customer gateway configuration comes with every available
// connection, as from AWS, and reads as AWS's document does.
func TestCustomerGatewayConfiguration(t *testing.T) {
	sim, url := Start(t, nil)
	sc, err := ParseScenario([]byte(scenarioYAML))
	if err != nil {
		t.Fatal(err)
	}
	sim.Play(sc, time.Now(), func(err error) { t.Error(err) })
	out, err := client(t, url).DescribeVpnConnections(context.Background(), &ec2.DescribeVpnConnectionsInput{})
	if err != nil {
		t.Fatal(err)
	}
	doc := awssdk.ToString(out.VpnConnections[0].CustomerGatewayConfiguration)
	var parsed struct {
		ID      string `xml:"id,attr"`
		Tunnels []struct {
			CGWOutside string `xml:"customer_gateway>tunnel_outside_address>ip_address"`
			CGWInside  string `xml:"customer_gateway>tunnel_inside_address>ip_address"`
			VGWOutside string `xml:"vpn_gateway>tunnel_outside_address>ip_address"`
			VGWInside  string `xml:"vpn_gateway>tunnel_inside_address>ip_address"`
			PSK        string `xml:"ike>pre_shared_key"`
			MSS        int    `xml:"ipsec>tcp_mss_adjustment"`
		} `xml:"ipsec_tunnel"`
	}
	if err := xml.Unmarshal([]byte(doc), &parsed); err != nil {
		t.Fatalf("configuration document: %v\n%s", err, doc)
	}
	if parsed.ID != "vpn-0a1b2c3d4e5f67890" || len(parsed.Tunnels) != 2 {
		t.Fatalf("document: %+v", parsed)
	}
	tun := parsed.Tunnels[0]
	if tun.CGWOutside != "198.51.100.7" || tun.VGWOutside != "203.0.113.10" || tun.VGWInside != "169.254.10.1" || tun.CGWInside != "169.254.10.2" ||
		tun.MSS != 1379 || !strings.HasPrefix(tun.PSK, "ec2simPSK") {
		t.Errorf("tunnel 1 of the document: %+v", tun)
	}
}
