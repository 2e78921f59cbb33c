package aws

import (
	"context"
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/aws/ec2sim"
)

// The shipped IAM policy must allow every EC2 call the poller makes, and
// nothing that changes anything.
func TestIAMPolicyCoversEveryCall(t *testing.T) {
	data, err := os.ReadFile("../../deploy/aws/iam-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	var policy struct {
		Statement []struct {
			Effect string
			Action []string
		}
	}
	if err := json.Unmarshal(data, &policy); err != nil {
		t.Fatal(err)
	}
	var allowed []string
	for _, s := range policy.Statement {
		if s.Effect == "Allow" {
			allowed = append(allowed, s.Action...)
		}
	}
	api := reflect.TypeFor[ec2API]()
	calls := []string{"logs:FilterLogEvents"} // AWS's own tunnel logs (vpnlog.Reader)
	for i := range api.NumMethod() {
		calls = append(calls, "ec2:"+api.Method(i).Name)
	}
	for _, a := range calls {
		if !slices.Contains(allowed, a) {
			t.Errorf("deploy/aws/iam-policy.json does not allow %s, which the poller calls", a)
		}
	}
	if len(allowed) != len(calls) {
		t.Errorf("the policy allows %v; only the poller's %d calls are needed", allowed, len(calls))
	}
	// GetMetricData (billed) is in its own policy, for aws[].cloudwatch_metrics.
	cw, err := os.ReadFile("../../deploy/aws/iam-policy-cloudwatch.json")
	if err != nil {
		t.Fatal(err)
	}
	var cwPolicy struct{ Statement []struct{ Action []string } }
	if err := json.Unmarshal(cw, &cwPolicy); err != nil || len(cwPolicy.Statement) != 1 || !slices.Equal(cwPolicy.Statement[0].Action, []string{"cloudwatch:GetMetricData"}) {
		t.Errorf("deploy/aws/iam-policy-cloudwatch.json: %v %+v", err, cwPolicy)
	}
}

// The operations a poll really makes against ec2sim are all in the policy.
func TestIAMPolicyCoversObservedCalls(t *testing.T) {
	sim, url := ec2sim.Start(t, nil)
	sim.Update(tokyo, seedModel)
	const group = "arn:aws:logs:ap-northeast-1:123456789012:log-group:/aws/vpn/osaka"
	sim.Update(tokyo, func(r *ec2sim.Region) { r.VPNConnections[0].Tunnels[0].LogGroup = group })
	sim.AddLogEvent(group, "vpn-x_203.0.113.10-IKE.log", time.Now(), `{"details":"AWS tunnel DPD timed out after 3 retransmits"}`)
	var mu sync.Mutex
	ops := map[string]bool{}
	src := source(url, tokyo)
	src.CloudWatchMetrics = true
	p := newPoller(t, src, Options{OnRequest: func(_, _, op, _ string) { mu.Lock(); ops[op] = true; mu.Unlock() }})
	if s := p.Poll(context.Background())[0]; s.Err != nil {
		t.Fatal(s.Err)
	}
	data, _ := os.ReadFile("../../deploy/aws/iam-policy.json")
	cw, _ := os.ReadFile("../../deploy/aws/iam-policy-cloudwatch.json")
	if len(ops) != 5 {
		t.Errorf("a poll made %v; expected the three EC2 calls, FilterLogEvents and GetMetricData", ops)
	}
	for op := range ops {
		if !strings.Contains(string(data), `"ec2:`+op+`"`) && !strings.Contains(string(data), `"logs:`+op+`"`) && !strings.Contains(string(cw), `"cloudwatch:`+op+`"`) {
			t.Errorf("the poller called %s, which deploy/aws/iam-policy.json (or -cloudwatch.json) does not allow", op)
		}
	}
}
