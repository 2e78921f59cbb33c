package aws

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/vpnwatchd/vpnwatchd/internal/aws/ec2sim"
)

// No credentials anywhere: one line that says what was tried and what to
// do, not the SDK's paragraph (which goes to the debug log).
func TestNoCredentialsIsOneClearLine(t *testing.T) {
	_, url := ec2sim.Start(t, nil)
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	p, err := New(context.Background(), source(url, tokyo), Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := p.Poll(context.Background())[0]
	var nc *NoCredentialsError
	if !errors.As(s.Err, &nc) || !errors.Is(s.Err, ErrAuth) {
		t.Fatalf("%v", s.Err)
	}
	msg := s.Err.Error()
	if !strings.Contains(msg, "no AWS credentials found") || !strings.Contains(msg, "AWS_ACCESS_KEY_ID") || strings.Contains(msg, "IMDS") || strings.Contains(msg, "\n") {
		t.Errorf("message: %s", msg)
	}
}
