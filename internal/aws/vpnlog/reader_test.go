package vpnlog

import (
	"context"
	"fmt"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"

	"github.com/vpnwatchd/vpnwatchd/internal/aws/ec2sim"
)

const group = "arn:aws:logs:ap-northeast-1:123456789012:log-group:/aws/vpn/osaka"

func logsClient(t *testing.T, url string) *cloudwatchlogs.Client {
	t.Helper()
	cfg, err := awsconfig.LoadDefaultConfig(context.Background(), awsconfig.WithRegion("ap-northeast-1"), awsconfig.WithRetryMaxAttempts(1))
	if err != nil {
		t.Fatal(err)
	}
	return cloudwatchlogs.NewFromConfig(cfg, func(o *cloudwatchlogs.Options) { o.BaseEndpoint = awssdk.String(url) })
}

// The real SDK against the simulator's CloudWatch Logs: one call per group
// and its pages (an empty page with a token included), late deliveries
// caught by the overlapping window, nothing twice, a bounded ring per
// tunnel, unreadable records kept.
func TestReaderAgainstSimulator(t *testing.T) {
	sim, url := ec2sim.Start(t, nil)
	c := logsClient(t, url)
	r := &Reader{Filter: c.FilterLogEvents, Keep: 5}
	t0 := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	stream := "vpn-0123456789abcdef0_203.0.113.10-IKE.log"
	for i := range 8 {
		sim.AddLogEvent(group, stream, t0.Add(time.Duration(i)*time.Second), fmt.Sprintf(`{"event_timestamp":%d,"details":"AWS tunnel is sending request (id=%d) for CREATE_CHILD_SA"}`, t0.Add(time.Duration(i)*time.Second).Unix(), i))
	}
	sim.AddLogEvent(group, stream, t0.Add(9*time.Second), `{"details": broken`)
	sim.SetLogPage(3, true)
	got, err := r.Read(context.Background(), group+":*", t0.Add(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 9 || r.Unreadable != 1 || got[0].Class != ClassRekeyRequest || got[0].OutsideIP != "203.0.113.10" {
		t.Fatalf("first read: %d events, %d unreadable: %+v", len(got), r.Unreadable, got)
	}
	if calls := sim.Requests("FilterLogEvents", ""); calls != 4 { // an empty page, then 9 events in pages of 3
		t.Errorf("%d calls for one group read", calls)
	}
	// A late delivery: an event stamped before the last read arrives now.
	sim.AddLogEvent(group, stream, t0.Add(5500*time.Millisecond), `{"details":"AWS tunnel DPD timed out after 3 retransmits"}`)
	sim.AddLogEvent(group, stream, t0.Add(20*time.Second), `{"details":"Peer is not responsive - Declaring peer dead"}`)
	got, err = r.Read(context.Background(), group, t0.Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Class != ClassDPDTimeout || got[1].Class != ClassPeerDead {
		t.Errorf("second read (late event and a new one, nothing twice): %+v", got)
	}
	recent := r.Recent("vpn-0123456789abcdef0", "203.0.113.10")
	if len(recent) != 5 || recent[4].Class != ClassPeerDead {
		t.Errorf("ring: %d events, last %+v", len(recent), recent[len(recent)-1])
	}
	// The late event sits where it happened, not where it arrived.
	for i := 1; i < len(recent); i++ {
		if recent[i].Time.Before(recent[i-1].Time) {
			t.Errorf("ring out of time order at %d: %v after %v", i, recent[i].Time, recent[i-1].Time)
		}
	}
}
