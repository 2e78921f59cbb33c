package ec2sim

import (
	"context"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
)

const logsScenarioYAML = `
regions:
  ap-northeast-1:
    customer_gateways: [{id: cgw-1, ip: 198.51.100.7, bgp_asn: "65000"}]
    vpn_connections:
      - id: vpn-0a1b2c3d4e5f67890
        customer_gateway_id: cgw-1
        vpn_gateway_id: vgw-1
        tunnels:
          - {outside_ip: 203.0.113.10, inside_cidr: 169.254.10.0/30, status: UP, status_message: 1 BGP ROUTES, log_group: "arn:aws:logs:ap-northeast-1:111122223333:log-group:/aws/vpn/x:*", bgp_log_group: "arn:aws:logs:ap-northeast-1:111122223333:log-group:/aws/vpn/x:*"}
events:
  - at: 10s
    region: ap-northeast-1
    log: {vpn: vpn-0a1b2c3d4e5f67890, outside_ip: 203.0.113.10, details: "AWS tunnel DPD timed out after 3 retransmits", phase1: Down, phase2: Down}
  - at: 20s
    region: ap-northeast-1
    log: {vpn: vpn-0a1b2c3d4e5f67890, outside_ip: 203.0.113.10, bgp: DOWN, details: "AWS-side peer sent a Hold Timer Expired notification to neighbor 169.254.10.2"}
  - at: 90s
    region: ap-northeast-1
    traffic: {vpn: vpn-0a1b2c3d4e5f67890, outside_ip: 203.0.113.10, in: 1500, out: 2500}
`

// A scenario's timeline also writes AWS's VPN log records and traffic
// datapoints, read back through the real SDK's CloudWatch Logs and
// CloudWatch clients, at the times the timeline says.
func TestScenarioLogsAndTraffic(t *testing.T) {
	start := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	now := start
	sim, url := Start(t, func() time.Time { return now })
	sc, err := ParseScenario([]byte(logsScenarioYAML))
	if err != nil {
		t.Fatal(err)
	}
	sim.Play(sc, start, func(err error) { t.Error(err) })
	cfg, err := awsconfig.LoadDefaultConfig(context.Background(), awsconfig.WithRegion("ap-northeast-1"), awsconfig.WithRetryMaxAttempts(1))
	if err != nil {
		t.Fatal(err)
	}
	logs := cloudwatchlogs.NewFromConfig(cfg, func(o *cloudwatchlogs.Options) { o.BaseEndpoint = awssdk.String(url) })
	cw := cloudwatch.NewFromConfig(cfg, func(o *cloudwatch.Options) { o.BaseEndpoint = awssdk.String(url) })
	ctx := context.Background()
	now = start.Add(2 * time.Minute)
	sim.Advance()
	out, err := logs.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupIdentifier: awssdk.String("arn:aws:logs:ap-northeast-1:111122223333:log-group:/aws/vpn/x"),
		StartTime: awssdk.Int64(start.UnixMilli()), EndTime: awssdk.Int64(now.UnixMilli())})
	if err != nil || len(out.Events) != 2 {
		t.Fatalf("FilterLogEvents: %v %+v", err, out)
	}
	ike, bgp := out.Events[0], out.Events[1]
	if awssdk.ToString(ike.LogStreamName) != "vpn-0a1b2c3d4e5f67890_203.0.113.10-IKE.log" || awssdk.ToInt64(ike.Timestamp) != start.Add(10*time.Second).UnixMilli() ||
		!strings.Contains(awssdk.ToString(ike.Message), `"ike_phase1_state":"Down"`) {
		t.Errorf("IKE record: %+v %s", ike, awssdk.ToString(ike.Message))
	}
	if awssdk.ToString(bgp.LogStreamName) != "vpn-0a1b2c3d4e5f67890_203.0.113.10-BGP.log" || !strings.Contains(awssdk.ToString(bgp.Message), `"type":"BGPStatus"`) ||
		!strings.Contains(awssdk.ToString(bgp.Message), `"resource_id":"vpn-0a1b2c3d4e5f67890_203.0.113.10"`) {
		t.Errorf("BGP record: %s", awssdk.ToString(bgp.Message))
	}
	q := func(name string) cwtypes.MetricDataQuery {
		return cwtypes.MetricDataQuery{Id: awssdk.String(strings.ToLower(name)), ReturnData: awssdk.Bool(true),
			MetricStat: &cwtypes.MetricStat{Period: awssdk.Int32(60), Stat: awssdk.String("Sum"), Metric: &cwtypes.Metric{Namespace: awssdk.String("AWS/VPN"), MetricName: awssdk.String(name),
				Dimensions: []cwtypes.Dimension{{Name: awssdk.String("VpnId"), Value: awssdk.String("vpn-0a1b2c3d4e5f67890")}, {Name: awssdk.String("TunnelIpAddress"), Value: awssdk.String("203.0.113.10")}}}}}
	}
	md, err := cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{StartTime: awssdk.Time(start), EndTime: awssdk.Time(now),
		MetricDataQueries: []cwtypes.MetricDataQuery{q("TunnelDataIn"), q("TunnelDataOut")}})
	if err != nil || len(md.MetricDataResults) != 2 {
		t.Fatalf("GetMetricData: %v %+v", err, md)
	}
	in, outR := md.MetricDataResults[0], md.MetricDataResults[1]
	if len(in.Values) != 1 || in.Values[0] != 1500 || outR.Values[0] != 2500 || !in.Timestamps[0].Equal(start.Add(time.Minute)) {
		t.Errorf("datapoints: in %+v out %+v", in, outR)
	}
	// A bgp status that is not UP or DOWN is refused, naming the field.
	if _, err := ParseScenario([]byte("events:\n  - at: 1s\n    region: r\n    log: {vpn: v, outside_ip: 1.2.3.4, bgp: sideways, details: x}\n")); err == nil || !strings.Contains(err.Error(), "events[0].log.bgp") {
		t.Errorf("bad bgp status: %v", err)
	}
}
