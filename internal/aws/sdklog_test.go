package aws

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/vpnwatchd/vpnwatchd/internal/aws/ec2sim"
)

// The SDK's own warnings reach the daemon's structured log, not stderr.
// The server answers DescribeVpnConnections with a complete document and
// then hangs up before the promised length, so the SDK parses the answer
// and warns that it cannot drain the rest.
func TestSDKWarningsInStructuredLog(t *testing.T) {
	for k, v := range ec2sim.Env {
		t.Setenv(k, v)
	}
	const doc = `<?xml version="1.0" encoding="UTF-8"?>
<DescribeVpnConnectionsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r-1</requestId><vpnConnectionSet/></DescribeVpnConnectionsResponse>`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: text/xml;charset=UTF-8\r\nContent-Length: %d\r\n\r\n%s", len(doc)+100, doc)
		buf.Flush()
	}))
	defer srv.Close()
	core, logs := observer.New(zap.DebugLevel)
	p := newPoller(t, source(srv.URL, tokyo), Options{Logger: zap.New(core), MaxAttempts: 1})
	p.Poll(context.Background())
	var found bool
	for _, e := range logs.FilterField(zap.String("component", "aws-sdk")).All() {
		sources := 0
		for _, f := range e.Context {
			if f.Key == "source" {
				sources++
			}
		}
		if e.Level == zap.WarnLevel && strings.Contains(e.Message, "discard") && e.ContextMap()["source"] == "prod" && sources == 1 {
			found = true
		}
	}
	if !found {
		t.Errorf("no aws-sdk warning naming source=prod once in the log; got %v", logs.All())
	}
}
