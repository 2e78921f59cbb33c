package metrics

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/vpnwatchd/vpnwatchd/internal/aws"
	"github.com/vpnwatchd/vpnwatchd/internal/correlate"
	"github.com/vpnwatchd/vpnwatchd/internal/gateway"
	"github.com/vpnwatchd/vpnwatchd/internal/rtx"
	"github.com/vpnwatchd/vpnwatchd/internal/testenv"
)

var at = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

func seedSnapshot() aws.Snapshot {
	return aws.Snapshot{Source: "prod", Region: "ap-northeast-1", TakenAt: at, Took: 250 * time.Millisecond,
		Missing: []string{"vpn-0c1b2c3d4e5f67892"},
		Connections: []aws.Connection{{
			ID: "vpn-0a1b2c3d4e5f67890", Name: "osaka-office", State: "available", Routing: "bgp",
			CustomerGatewayID: "cgw-1", CustomerGatewayIP: "198.51.100.7", GatewayID: "vgw-1",
			Tunnels: []aws.Tunnel{
				{OutsideIP: "203.0.113.10", Status: "DOWN", StatusMessage: "IPSEC IS UP", LastStatusChange: at.Add(-time.Hour),
					Maintenance: &aws.Maintenance{}},
				{OutsideIP: "203.0.113.20", Status: "UP", StatusMessage: "2 BGP ROUTES", AcceptedRoutes: 2, LastStatusChange: at.Add(-2 * time.Hour),
					Maintenance: &aws.Maintenance{Pending: "replacement scheduled"},
					Traffic:     &aws.TunnelTraffic{In: 1500, Out: 2500, At: at.Add(-5 * time.Minute), Period: time.Minute}},
			},
		}},
	}
}

// latestAWS is a Latest of AWS snapshots, each kept with its last success
// as the daemon's store keeps them.
type latestAWS struct {
	snaps  []aws.Snapshot
	lastOK time.Time
	ok     bool
}

func (l *latestAWS) update(s aws.Snapshot) {
	l.snaps = []aws.Snapshot{s}
	if s.Err == nil {
		l.lastOK, l.ok = s.TakenAt, true
	}
}

func (l *latestAWS) EachAWS(f func(aws.Snapshot, time.Time, bool)) {
	for _, s := range l.snaps {
		f(s, l.lastOK, l.ok)
	}
}
func (l *latestAWS) EachRTX(func(rtx.Snapshot, time.Time, bool))         {}
func (l *latestAWS) EachGateway(func(gateway.Snapshot, time.Time, bool)) {}
func (l *latestAWS) ActiveFindings() []correlate.Finding                 { return nil }

func TestAWSCollector(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := NewAWS(reg)
	l := &latestAWS{}
	collector := NewLatest(l)
	reg.MustRegister(collector)
	l.update(seedSnapshot())
	a.CountRequest("prod", "ap-northeast-1", "DescribeVpnConnections", "RequestLimitExceeded")
	a.CountRequest("prod", "ap-northeast-1", "DescribeVpnConnections", "OK")
	want := `
# HELP vpnwatch_aws_tunnel_up 1 if AWS reports the tunnel UP (for BGP VPNs: IPsec up and BGP established).
# TYPE vpnwatch_aws_tunnel_up gauge
vpnwatch_aws_tunnel_up{outside_ip="203.0.113.10",region="ap-northeast-1",source="prod",vpn_connection_id="vpn-0a1b2c3d4e5f67890",vpn_name="osaka-office"} 0
vpnwatch_aws_tunnel_up{outside_ip="203.0.113.20",region="ap-northeast-1",source="prod",vpn_connection_id="vpn-0a1b2c3d4e5f67890",vpn_name="osaka-office"} 1
# HELP vpnwatch_aws_tunnel_ipsec_up 1 if IPsec is up according to the AWS status message (IPSEC IS UP, N BGP ROUTES).
# TYPE vpnwatch_aws_tunnel_ipsec_up gauge
vpnwatch_aws_tunnel_ipsec_up{outside_ip="203.0.113.10",region="ap-northeast-1",source="prod",vpn_connection_id="vpn-0a1b2c3d4e5f67890",vpn_name="osaka-office"} 1
vpnwatch_aws_tunnel_ipsec_up{outside_ip="203.0.113.20",region="ap-northeast-1",source="prod",vpn_connection_id="vpn-0a1b2c3d4e5f67890",vpn_name="osaka-office"} 1
# HELP vpnwatch_aws_tunnel_accepted_routes Routes AWS accepted from the customer gateway over this tunnel.
# TYPE vpnwatch_aws_tunnel_accepted_routes gauge
vpnwatch_aws_tunnel_accepted_routes{outside_ip="203.0.113.10",region="ap-northeast-1",source="prod",vpn_connection_id="vpn-0a1b2c3d4e5f67890",vpn_name="osaka-office"} 0
vpnwatch_aws_tunnel_accepted_routes{outside_ip="203.0.113.20",region="ap-northeast-1",source="prod",vpn_connection_id="vpn-0a1b2c3d4e5f67890",vpn_name="osaka-office"} 2
# HELP vpnwatch_aws_tunnel_maintenance_pending 1 if AWS has a tunnel endpoint replacement pending; absent until asked.
# TYPE vpnwatch_aws_tunnel_maintenance_pending gauge
vpnwatch_aws_tunnel_maintenance_pending{outside_ip="203.0.113.10",region="ap-northeast-1",source="prod",vpn_connection_id="vpn-0a1b2c3d4e5f67890",vpn_name="osaka-office"} 0
vpnwatch_aws_tunnel_maintenance_pending{outside_ip="203.0.113.20",region="ap-northeast-1",source="prod",vpn_connection_id="vpn-0a1b2c3d4e5f67890",vpn_name="osaka-office"} 1
# HELP vpnwatch_aws_vpn_connection_available 1 if the VPN connection's state is available; 0 when pending, deleting, deleted, vanished, or configured but not returned by AWS.
# TYPE vpnwatch_aws_vpn_connection_available gauge
vpnwatch_aws_vpn_connection_available{region="ap-northeast-1",source="prod",vpn_connection_id="vpn-0a1b2c3d4e5f67890",vpn_name="osaka-office"} 1
vpnwatch_aws_vpn_connection_available{region="ap-northeast-1",source="prod",vpn_connection_id="vpn-0c1b2c3d4e5f67892",vpn_name=""} 0
# HELP vpnwatch_source_up Whether the last poll of this source (AWS source and region, router, probe) succeeded.
# TYPE vpnwatch_source_up gauge
vpnwatch_source_up{region="ap-northeast-1",router="",source="prod",type="aws"} 1
# HELP vpnwatch_aws_api_requests_total EC2 API requests by operation and result code (OK or the AWS error code), retries included.
# TYPE vpnwatch_aws_api_requests_total counter
vpnwatch_aws_api_requests_total{code="OK",operation="DescribeVpnConnections",region="ap-northeast-1",source="prod"} 1
vpnwatch_aws_api_requests_total{code="RequestLimitExceeded",operation="DescribeVpnConnections",region="ap-northeast-1",source="prod"} 1
`
	names := []string{"vpnwatch_aws_tunnel_up", "vpnwatch_aws_tunnel_ipsec_up", "vpnwatch_aws_tunnel_accepted_routes",
		"vpnwatch_aws_tunnel_maintenance_pending", "vpnwatch_aws_vpn_connection_available", "vpnwatch_source_up", "vpnwatch_aws_api_requests_total"}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}

	// A failed poll: the source is down and no tunnel state is exported as
	// if it were current; the last success time stays.
	failed := aws.Snapshot{Source: "prod", Region: "ap-northeast-1", TakenAt: at.Add(time.Minute), Err: errors.New("timeout")}
	l.update(failed)
	if n := testutil.CollectAndCount(collector, "vpnwatch_aws_tunnel_up"); n != 0 {
		t.Errorf("%d tunnel series exported from a failed poll", n)
	}
	want = `
# HELP vpnwatch_source_last_success_timestamp_seconds Time of the last successful poll of this source; absent before the first.
# TYPE vpnwatch_source_last_success_timestamp_seconds gauge
vpnwatch_source_last_success_timestamp_seconds{region="ap-northeast-1",router="",source="prod",type="aws"} 1.7955972e+09
# HELP vpnwatch_source_up Whether the last poll of this source (AWS source and region, router, probe) succeeded.
# TYPE vpnwatch_source_up gauge
vpnwatch_source_up{region="ap-northeast-1",router="",source="prod",type="aws"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "vpnwatch_source_up", "vpnwatch_source_last_success_timestamp_seconds"); err != nil {
		t.Error(err)
	}
}

// TestPromtoolAcceptsAWSMetrics runs the real promtool over the collector's
// output (naming, units, help texts).
func TestPromtoolAcceptsAWSMetrics(t *testing.T) {
	promtool := testenv.Binary(t, "promtool")
	reg := prometheus.NewRegistry()
	a := NewAWS(reg)
	l := &latestAWS{}
	reg.MustRegister(NewLatest(l))
	l.update(seedSnapshot())
	a.CountRequest("prod", "ap-northeast-1", "DescribeVpnConnections", "OK")
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// A tunnel's traffic as AWS counts it is exported when AWS published it,
// absent otherwise (never 0 for "unknown").
func TestAWSTrafficSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	l := &latestAWS{}
	reg.MustRegister(NewLatest(l))
	l.update(seedSnapshot())
	want := `
# HELP vpnwatch_aws_tunnel_data_in_bytes Bytes AWS received from the customer gateway over the tunnel (after decryption) in the latest 1-minute period it published (AWS/VPN TunnelDataIn, Sum); minutes late; with aws[].cloudwatch_metrics.
# TYPE vpnwatch_aws_tunnel_data_in_bytes gauge
vpnwatch_aws_tunnel_data_in_bytes{outside_ip="203.0.113.20",region="ap-northeast-1",source="prod",vpn_connection_id="vpn-0a1b2c3d4e5f67890",vpn_name="osaka-office"} 1500
# HELP vpnwatch_aws_tunnel_data_out_bytes Bytes AWS sent to the customer gateway over the tunnel (before encryption) in the latest 1-minute period it published (AWS/VPN TunnelDataOut, Sum); with aws[].cloudwatch_metrics.
# TYPE vpnwatch_aws_tunnel_data_out_bytes gauge
vpnwatch_aws_tunnel_data_out_bytes{outside_ip="203.0.113.20",region="ap-northeast-1",source="prod",vpn_connection_id="vpn-0a1b2c3d4e5f67890",vpn_name="osaka-office"} 2500
# HELP vpnwatch_aws_tunnel_data_timestamp_seconds When the period of vpnwatch_aws_tunnel_data_{in,out}_bytes ends.
# TYPE vpnwatch_aws_tunnel_data_timestamp_seconds gauge
vpnwatch_aws_tunnel_data_timestamp_seconds{outside_ip="203.0.113.20",region="ap-northeast-1",source="prod",vpn_connection_id="vpn-0a1b2c3d4e5f67890",vpn_name="osaka-office"} 1.79559696e+09
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "vpnwatch_aws_tunnel_data_in_bytes", "vpnwatch_aws_tunnel_data_out_bytes", "vpnwatch_aws_tunnel_data_timestamp_seconds"); err != nil {
		t.Error(err)
	}
}
