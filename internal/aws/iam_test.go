package aws

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"testing"
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
	for i := range api.NumMethod() {
		if a := "ec2:" + api.Method(i).Name; !slices.Contains(allowed, a) {
			t.Errorf("deploy/aws/iam-policy.json does not allow %s, which the poller calls", a)
		}
	}
	if len(allowed) != api.NumMethod() {
		t.Errorf("the policy allows %v; only the poller's %d calls are needed", allowed, api.NumMethod())
	}
}
