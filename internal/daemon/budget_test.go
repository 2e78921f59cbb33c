package daemon

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// A spoofed flood of "Tunnel Down" lines from a router's address (UDP is
// easy to forge) costs at most one triggered poll of the router per 10 s and
// one of its AWS region per 30 s; the rest is counted, not polled.
func TestSpoofedSyslogFloodIsBudgeted(t *testing.T) {
	e := startLatencyEnv(t, latencyOptions{poll: time.Hour, syslog: true})
	c, err := net.Dial("udp", e.d.syslog.conn.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sshBefore, ec2Before := len(e.srv.Commands()), e.sim.Requests("DescribeVpnConnections", "")
	for i := range 300 {
		c.Write([]byte("<190>IP Tunnel[1] Down"))
		if i%50 == 0 {
			time.Sleep(500 * time.Millisecond) // spread over 3 s
		}
	}
	time.Sleep(2 * time.Second)
	ssh, ec2 := len(e.srv.Commands())-sshBefore, e.sim.Requests("DescribeVpnConnections", "")-ec2Before
	// One poll of the router is at most: show ipsec sa, show status bgp
	// neighbor, received-routes × 2, show ip route, show status tunnel × 2.
	if ssh > 8 {
		t.Errorf("%d SSH commands for a 3 s flood, want one poll's worth (≤ 8)", ssh)
	}
	if ec2 > 1 {
		t.Errorf("%d EC2 calls for a 3 s flood, want ≤ 1", ec2)
	}
	deferred := testutil.ToFloat64(e.d.metrics.daemon.TriggersDeferred.WithLabelValues("rtx", "", "", "osaka"))
	if deferred < 250 {
		t.Errorf("deferred triggers not counted: %v", deferred)
	}
	t.Logf("300 spoofed lines: %d SSH commands, %d EC2 calls, %v triggers deferred", ssh, ec2, deferred)
	if !strings.Contains(strings.Join(e.srv.Commands(), "|"), "show ipsec sa") {
		t.Error("the router was never polled")
	}
}
