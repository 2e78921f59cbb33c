package aws

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/aws/ec2sim"
	"github.com/vpnwatchd/vpnwatchd/internal/config"
)

const (
	tokyo    = "ap-northeast-1"
	virginia = "us-east-1"
	vpnBGP   = "vpn-0a1b2c3d4e5f67890"
	vpnOther = "vpn-0b1b2c3d4e5f67891"
)

type requestLog struct {
	mu    sync.Mutex
	calls []string // "region Operation code"
}

func (l *requestLog) record(_, region, op, code string) {
	l.mu.Lock()
	l.calls = append(l.calls, region+" "+op+" "+code)
	l.mu.Unlock()
}

func (l *requestLog) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.calls {
		if c == s {
			n++
		}
	}
	return n
}

func source(endpoint string, regions ...string) config.AWSSource {
	return config.AWSSource{Name: "prod", Regions: regions, Endpoint: endpoint,
		Timeout: 5 * time.Second, MaintenanceInterval: time.Hour, Logs: true} // the configuration's defaults
}

func newPoller(t *testing.T, src config.AWSSource, opts Options) *Poller {
	t.Helper()
	p, err := New(context.Background(), src, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func readSample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// seedModel is the seed incident after the relocation: BGP VPN, tunnel 1
// DOWN with "IPSEC IS UP" and no routes, tunnel 2 UP with 2 BGP routes.
func seedModel(r *ec2sim.Region) {
	r.CustomerGateways = []*ec2sim.CustomerGateway{{ID: "cgw-0123456789abcdef0", IP: "198.51.100.7", BGPASN: "65000"}}
	r.VPNConnections = []*ec2sim.VPNConnection{{
		ID: vpnBGP, CustomerGatewayID: "cgw-0123456789abcdef0", VPNGatewayID: "vgw-0fedcba9876543210",
		Tags: map[string]string{"Name": "osaka-office", "Site": "osaka"},
		Tunnels: []*ec2sim.Tunnel{
			{OutsideIP: "203.0.113.10", InsideCIDR: "169.254.10.0/30", Status: "DOWN", StatusMessage: "IPSEC IS UP"},
			{OutsideIP: "203.0.113.20", InsideCIDR: "169.254.20.0/30", Status: "UP", StatusMessage: "2 BGP ROUTES", AcceptedRoutes: 2,
				Phase1LifetimeSeconds: 3600, Phase2LifetimeSeconds: 1200},
		},
	}}
}

// TestSampleResponses feeds the captured EC2 responses in testdata through
// the real SDK and checks every field the snapshot carries.
func TestSampleResponses(t *testing.T) {
	sim, url := ec2sim.Start(t, nil)
	sim.ServeRaw("DescribeVpnConnections", 200, readSample(t, "describe-vpn-connections.bgp-ipsec-up.xml"))
	sim.ServeRaw("DescribeCustomerGateways", 200, readSample(t, "describe-customer-gateways.xml"))
	sim.ServeRaw("GetVpnTunnelReplacementStatus", 200, readSample(t, "get-vpn-tunnel-replacement-status.xml"))
	src := source(url, tokyo)
	src.VPNConnectionIDs = []string{vpnBGP}
	snaps := newPoller(t, src, Options{}).Poll(context.Background())
	if len(snaps) != 1 || snaps[0].Err != nil {
		t.Fatalf("snapshots: %+v", snaps)
	}
	s := snaps[0]
	if s.Source != "prod" || s.Region != tokyo || s.TakenAt.IsZero() || len(s.Missing) != 0 || len(s.Connections) != 1 {
		t.Fatalf("snapshot header: %+v", s)
	}
	c := s.Connections[0]
	want := Connection{ID: vpnBGP, Name: "office-tokyo-rtx", State: "available", Routing: RoutingBGP, Type: "ipsec.1", Category: "VPN",
		CustomerGatewayID: "cgw-0123456789abcdef0", CustomerGatewayIP: "192.0.2.45", CustomerGatewayASN: "65000",
		GatewayID: "vgw-0fedcba9876543210"}
	got := c
	got.Tunnels, got.Tags = nil, nil
	if !equalConn(got, want) {
		t.Errorf("connection:\n got %+v\nwant %+v", got, want)
	}
	if c.Tags["vpnwatch"] != "enabled" || len(c.Tags) != 2 {
		t.Errorf("tags = %v", c.Tags)
	}
	if len(c.Tunnels) != 2 {
		t.Fatalf("tunnels = %+v", c.Tunnels)
	}
	t1, t2 := c.Tunnels[0], c.Tunnels[1]
	checks := []struct {
		name string
		ok   bool
	}{
		{"t1 outside ip", t1.OutsideIP == "203.0.113.10"},
		{"t1 inside cidr", t1.InsideCIDR == "169.254.10.0/30"},
		{"t1 DOWN", t1.Status == "DOWN" && !t1.Up()},
		{"t1 message", t1.StatusMessage == "IPSEC IS UP"},
		{"t1 ipsec up", t1.IPsecUp()},
		{"t1 routes", t1.AcceptedRoutes == 0},
		{"t1 last change", t1.LastStatusChange.Equal(time.Date(2024, 5, 14, 3, 21, 7, 0, time.UTC))},
		{"t1 phase1", t1.Phase1Lifetime == 8*time.Hour},
		{"t1 phase2", t1.Phase2Lifetime == time.Hour},
		{"t1 rekey margin", t1.RekeyMargin == 270*time.Second},
		{"t1 dpd", t1.DPDTimeout == 30*time.Second && t1.DPDTimeoutAction == "clear"},
		{"t1 startup", t1.StartupAction == "add"},
		{"t1 ike", slices.Equal(t1.IKEVersions, []string{"ikev1", "ikev2"})},
		{"t1 p1 enc", slices.Equal(t1.Phase1Encryption, []string{"AES128", "AES256"})},
		{"t1 p2 enc", slices.Equal(t1.Phase2Encryption, []string{"AES128", "AES256"})},
		{"t1 p1 int", slices.Equal(t1.Phase1Integrity, []string{"SHA1", "SHA2-256"})},
		{"t1 p2 int", slices.Equal(t1.Phase2Integrity, []string{"SHA1", "SHA2-256"})},
		{"t1 dh", slices.Equal(t1.Phase1DHGroups, []int{2, 14}) && slices.Equal(t1.Phase2DHGroups, []int{2, 14})},
		{"t1 maintenance", t1.Maintenance != nil && t1.Maintenance.Pending == "Tunnel endpoint replacement pending" &&
			t1.Maintenance.AutoAppliedAfter.Equal(time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)) &&
			t1.Maintenance.LastApplied.Equal(time.Date(2024, 3, 2, 11, 0, 0, 0, time.UTC))},
		{"t2 outside ip", t2.OutsideIP == "203.0.113.20"},
		{"t2 UP", t2.Up() && t2.IPsecUp()},
		{"t2 routes", t2.AcceptedRoutes == 2},
		{"t2 bgp routes from message", func() bool { n, ok := t2.BGPRoutes(); return ok && n == 2 }()},
		{"t2 last change", t2.LastStatusChange.Equal(time.Date(2024, 5, 13, 22, 48, 51, 0, time.UTC))},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: wrong; tunnels %+v", c.name, []Tunnel{t1, t2})
		}
	}
}

func equalConn(a, b Connection) bool {
	return a.ID == b.ID && a.Name == b.Name && a.State == b.State && a.Routing == b.Routing && a.Type == b.Type &&
		a.Category == b.Category && a.CustomerGatewayID == b.CustomerGatewayID && a.CustomerGatewayIP == b.CustomerGatewayIP &&
		a.CustomerGatewayASN == b.CustomerGatewayASN && a.GatewayID == b.GatewayID && slices.Equal(a.StaticRoutes, b.StaticRoutes)
}

func TestStaticSample(t *testing.T) {
	sim, url := ec2sim.Start(t, nil)
	sim.ServeRaw("DescribeVpnConnections", 200, readSample(t, "describe-vpn-connections.static.xml"))
	snaps := newPoller(t, source(url, tokyo), Options{}).Poll(context.Background())
	if snaps[0].Err != nil {
		t.Fatal(snaps[0].Err)
	}
	c := snaps[0].Connections[0]
	if c.Routing != RoutingStatic || c.GatewayID != "tgw-0f1e2d3c4b5a69788" || !slices.Equal(c.StaticRoutes, []string{"192.168.10.0/24"}) {
		t.Errorf("static connection: %+v", c)
	}
	// The sample leaves the lifetimes out: AWS's defaults apply.
	if tu := c.Tunnels[0]; tu.Phase1Lifetime != DefaultPhase1Lifetime || tu.Phase2Lifetime != DefaultPhase2Lifetime || !tu.Up() {
		t.Errorf("static tunnel: %+v", tu)
	}
}

func TestSeedIncidentFromModel(t *testing.T) {
	sim, url := ec2sim.Start(t, nil)
	sim.Update(tokyo, seedModel)
	log := &requestLog{}
	src := source(url, tokyo)
	src.VPNConnectionIDs = []string{vpnBGP}
	snaps := newPoller(t, src, Options{OnRequest: log.record}).Poll(context.Background())
	s := snaps[0]
	if s.Err != nil {
		t.Fatal(s.Err)
	}
	c := s.Connections[0]
	if c.Name != "osaka-office" || c.CustomerGatewayIP != "198.51.100.7" || c.Routing != RoutingBGP {
		t.Errorf("connection: %+v", c)
	}
	t1, t2 := c.Tunnels[0], c.Tunnels[1]
	if t1.Up() || !t1.IPsecUp() || t1.AcceptedRoutes != 0 || t1.StatusMessage != "IPSEC IS UP" {
		t.Errorf("tunnel 1 should be DOWN / IPSEC IS UP / 0 routes: %+v", t1)
	}
	if !t2.Up() || t2.AcceptedRoutes != 2 || t2.Phase1Lifetime != time.Hour || t2.Phase2Lifetime != 20*time.Minute {
		t.Errorf("tunnel 2: %+v", t2)
	}
	if t1.Maintenance == nil || t1.Maintenance.Pending != "" {
		t.Errorf("maintenance status not asked or wrong: %+v", t1.Maintenance)
	}
	for _, call := range []string{"ap-northeast-1 DescribeVpnConnections OK", "ap-northeast-1 DescribeCustomerGateways OK"} {
		if n := log.count(call); n != 1 {
			t.Errorf("%s: %d calls, want 1", call, n)
		}
	}
	if n := log.count("ap-northeast-1 GetVpnTunnelReplacementStatus OK"); n != 2 {
		t.Errorf("GetVpnTunnelReplacementStatus: %d calls, want one per tunnel", n)
	}
}

func TestMaintenanceAskedAtItsOwnInterval(t *testing.T) {
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	sim, url := ec2sim.Start(t, clock)
	sim.Update(tokyo, func(r *ec2sim.Region) {
		seedModel(r)
		r.VPNConnections[0].Tunnels[1].PendingMaintenance = "Scheduled replacement of the tunnel endpoint"
		r.VPNConnections[0].Tunnels[1].MaintenanceAutoAppliedAfter = now.Add(72 * time.Hour)
	})
	p := newPoller(t, source(url, tokyo), Options{Now: clock})
	p.Poll(context.Background())
	now = now.Add(30 * time.Minute)
	s := p.Poll(context.Background())[0]
	if n := sim.Requests("GetVpnTunnelReplacementStatus", tokyo); n != 2 {
		t.Errorf("GetVpnTunnelReplacementStatus calls after two polls 30m apart = %d, want 2 (hourly per tunnel)", n)
	}
	m := s.Connections[0].Tunnels[1].Maintenance
	if m == nil || m.Pending == "" || !m.AutoAppliedAfter.Equal(time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("maintenance kept from the earlier answer: %+v", m)
	}
	now = now.Add(31 * time.Minute)
	p.Poll(context.Background())
	if n := sim.Requests("GetVpnTunnelReplacementStatus", tokyo); n != 4 {
		t.Errorf("calls after the interval = %d, want 4", n)
	}
}

func TestDeletedGoneAndMissing(t *testing.T) {
	sim, url := ec2sim.Start(t, nil)
	sim.Update(tokyo, func(r *ec2sim.Region) {
		seedModel(r)
		r.VPNConnections = append(r.VPNConnections, &ec2sim.VPNConnection{ID: vpnOther, State: "deleted", CustomerGatewayID: "cgw-0123456789abcdef0",
			Tunnels: []*ec2sim.Tunnel{{OutsideIP: "203.0.113.30"}, {OutsideIP: "203.0.113.40"}}})
	})
	src := source(url, tokyo)
	src.VPNConnectionIDs = []string{vpnBGP, vpnOther, "vpn-0c1b2c3d4e5f67892"}
	p := newPoller(t, src, Options{})
	s := p.Poll(context.Background())[0]
	if s.Err != nil {
		t.Fatal(s.Err)
	}
	if !slices.Equal(s.Missing, []string{"vpn-0c1b2c3d4e5f67892"}) {
		t.Errorf("missing = %v", s.Missing)
	}
	if len(s.Connections) != 2 || s.Connections[1].State != StateDeleted {
		t.Errorf("deleted connection not reported: %+v", s.Connections)
	}
	// Someone removes the BGP connection entirely.
	sim.Update(tokyo, func(r *ec2sim.Region) { r.VPNConnections = r.VPNConnections[1:] })
	s = p.Poll(context.Background())[0]
	var gone *Connection
	for i := range s.Connections {
		if s.Connections[i].ID == vpnBGP {
			gone = &s.Connections[i]
		}
	}
	if gone == nil || gone.State != StateGone || gone.Name != "osaka-office" || len(gone.Tunnels) != 2 || gone.Tunnels[0].Up() {
		t.Fatalf("vanished connection not reported as gone: %+v", s.Connections)
	}
	if !slices.Contains(s.Missing, vpnBGP) {
		t.Errorf("a configured id that vanished is also missing: %v", s.Missing)
	}
}

// Connections found by tags or by listing a region that are already
// deleted on first sight are history, not an outage: not reported. One
// deleted while watched is.
func TestDeletedAtDiscoveryIgnored(t *testing.T) {
	sim, url := ec2sim.Start(t, nil)
	sim.Update(tokyo, func(r *ec2sim.Region) {
		seedModel(r)
		r.VPNConnections = append(r.VPNConnections, &ec2sim.VPNConnection{ID: vpnOther, State: "deleted", CustomerGatewayID: "cgw-0123456789abcdef0",
			Tunnels: []*ec2sim.Tunnel{{OutsideIP: "203.0.113.30"}, {OutsideIP: "203.0.113.40"}}})
	})
	p := newPoller(t, source(url, tokyo), Options{})
	for range 2 {
		s := p.Poll(context.Background())[0]
		if s.Err != nil || len(s.Connections) != 1 || s.Connections[0].ID != vpnBGP {
			t.Fatalf("an already deleted connection was reported: %+v", s.Connections)
		}
	}
	// Now the watched one is deleted: that is reported.
	sim.Update(tokyo, func(r *ec2sim.Region) { r.VPNConnections[0].State = "deleted" })
	s := p.Poll(context.Background())[0]
	if len(s.Connections) != 1 || s.Connections[0].ID != vpnBGP || s.Connections[0].State != StateDeleted {
		t.Errorf("a watched connection's deletion: %+v", s.Connections)
	}
}

// A region throttled a hundred polls in a row still waits the maximum
// backoff: the wait never overflows into no wait at all.
func TestThrottlingBackoffCapped(t *testing.T) {
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	sim, url := ec2sim.Start(t, clock)
	sim.Update(tokyo, seedModel)
	p := newPoller(t, source(url, tokyo), Options{Now: clock, MaxAttempts: 1})
	sim.ThrottleNext(1 << 30)
	for n := 1; n <= 100; n++ {
		s := p.Poll(context.Background())[0]
		if !errors.Is(s.Err, ErrThrottled) {
			t.Fatalf("poll %d: %v", n, s.Err)
		}
		r := p.regions[0]
		wait := r.backoff.Sub(now)
		if wait < 12*time.Second || wait > 12*time.Minute {
			t.Fatalf("after %d throttled polls the backoff is %v", r.throttle, wait)
		}
		now = r.backoff // the next poll asks again
	}
	if got := p.regions[0].throttle; got != 100 {
		t.Errorf("throttled polls counted: %d", got)
	}
}

// vpnwatch_poll_duration_seconds comes from Took, measured by the poller
// itself: an EC2 endpoint answering in 80 ms makes a poll take at least that.
func TestPollTook(t *testing.T) {
	sim, url := ec2sim.Start(t, nil)
	sim.Update(tokyo, seedModel)
	sim.SetLatency("", 80*time.Millisecond)
	s := newPoller(t, source(url, tokyo), Options{}).Poll(context.Background())[0]
	if s.Err != nil || s.Took < 80*time.Millisecond {
		t.Errorf("took %v (err %v), want ≥ 80ms", s.Took, s.Err)
	}
}

func TestTagFilters(t *testing.T) {
	sim, url := ec2sim.Start(t, nil)
	sim.Update(tokyo, func(r *ec2sim.Region) {
		seedModel(r)
		r.VPNConnections = append(r.VPNConnections, &ec2sim.VPNConnection{ID: vpnOther, CustomerGatewayID: "cgw-0123456789abcdef0",
			Tags: map[string]string{"Site": "tokyo"}, Tunnels: []*ec2sim.Tunnel{{OutsideIP: "203.0.113.30", Status: "UP"}}})
	})
	src := source(url, tokyo)
	src.TagFilters = map[string]string{"Site": "osaka"}
	s := newPoller(t, src, Options{}).Poll(context.Background())[0]
	if s.Err != nil || len(s.Connections) != 1 || s.Connections[0].ID != vpnBGP {
		t.Fatalf("tag filter Site=osaka: %+v", s)
	}
}

func TestThrottling(t *testing.T) {
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	sim, url := ec2sim.Start(t, clock)
	sim.Update(tokyo, seedModel)
	log := &requestLog{}
	p := newPoller(t, source(url, tokyo), Options{OnRequest: log.record, Now: clock})

	// Two throttled answers: the SDK's retryer gets through on the third.
	sim.ThrottleNext(2)
	if s := p.Poll(context.Background())[0]; s.Err != nil {
		t.Fatalf("poll after 2 throttled calls: %v", s.Err)
	}
	if n := log.count("ap-northeast-1 DescribeVpnConnections RequestLimitExceeded"); n != 2 {
		t.Errorf("throttled attempts counted = %d, want 2", n)
	}

	// More than the retryer's 3 attempts: the poll fails as throttled and
	// the region backs off; the next poll makes no call at all.
	sim.ThrottleNext(10)
	s := p.Poll(context.Background())[0]
	if !errors.Is(s.Err, ErrThrottled) || s.Connections != nil {
		t.Fatalf("poll while throttled: %v", s.Err)
	}
	before := sim.Requests("DescribeVpnConnections", tokyo)
	now = now.Add(5 * time.Second)
	s = p.Poll(context.Background())[0]
	if !errors.Is(s.Err, ErrThrottled) || !strings.Contains(s.Err.Error(), "backing off until") {
		t.Errorf("poll during backoff: %v", s.Err)
	}
	if after := sim.Requests("DescribeVpnConnections", tokyo); after != before {
		t.Errorf("poll during backoff called AWS (%d → %d)", before, after)
	}
	// After the backoff (at most 15s × 1.2) the region is polled again.
	sim.ThrottleNext(0)
	now = now.Add(20 * time.Second)
	if s := p.Poll(context.Background())[0]; s.Err != nil {
		t.Errorf("poll after backoff: %v", s.Err)
	}
}

func TestAuthErrors(t *testing.T) {
	sim, url := ec2sim.Start(t, nil)
	sim.Update(tokyo, seedModel)
	p := newPoller(t, source(url, tokyo), Options{})

	sim.Deny("DescribeVpnConnections")
	s := p.Poll(context.Background())[0]
	if !errors.Is(s.Err, ErrAuth) || !strings.Contains(s.Err.Error(), "not allowed ec2:DescribeVpnConnections (UnauthorizedOperation)") ||
		!strings.Contains(s.Err.Error(), "deploy/aws/iam-policy.json") {
		t.Errorf("missing permission: %v", s.Err)
	}
	sim.FailAuth("AuthFailure")
	s = p.Poll(context.Background())[0]
	if !errors.Is(s.Err, ErrAuth) || !strings.Contains(s.Err.Error(), "did not accept the access key (AuthFailure") {
		t.Errorf("bad key: %v", s.Err)
	}
	sim.FailAuth("ExpiredToken")
	s = p.Poll(context.Background())[0]
	if !errors.Is(s.Err, ErrAuth) || !strings.Contains(s.Err.Error(), "expired") {
		t.Errorf("expired token: %v", s.Err)
	}
	if strings.Contains(s.Err.Error(), ec2sim.Env["AWS_SECRET_ACCESS_KEY"]) {
		t.Error("error shows the secret key")
	}
}

// A region whose endpoint hangs times out on its own; the other region's
// snapshot is complete.
func TestHangingRegionDoesNotBlockOthers(t *testing.T) {
	sim, url := ec2sim.Start(t, nil)
	sim.Update(tokyo, seedModel)
	sim.Update(virginia, seedModel)
	sim.SetLatency(virginia, time.Minute)
	src := source(url, virginia, tokyo)
	src.Timeout = 300 * time.Millisecond
	snaps := newPoller(t, src, Options{MaxAttempts: 1}).Poll(context.Background())
	if snaps[0].Region != virginia || snaps[0].Err == nil || !strings.Contains(snaps[0].Err.Error(), "no answer from the EC2 API in time") {
		t.Errorf("hanging region: %v", snaps[0].Err)
	}
	if snaps[1].Region != tokyo || snaps[1].Err != nil || len(snaps[1].Connections) != 1 {
		t.Errorf("healthy region: %+v", snaps[1])
	}
}

func TestAssumeRole(t *testing.T) {
	sim, url := ec2sim.Start(t, nil)
	sim.Update(tokyo, seedModel)
	src := source(url, tokyo)
	src.RoleARN = "arn:aws:iam::123456789012:role/vpnwatchd"
	p := newPoller(t, src, Options{})
	for range 2 {
		if s := p.Poll(context.Background())[0]; s.Err != nil {
			t.Fatal(s.Err)
		}
	}
	if n := sim.Requests("AssumeRole", ""); n != 1 {
		t.Errorf("AssumeRole calls = %d, want 1 (credentials cached)", n)
	}
}

func TestUnsignedRequestsRejected(t *testing.T) {
	_, url := ec2sim.Start(t, nil)
	resp, err := (&httpClient{}).post(url, "Action=DescribeVpnConnections&Version=2016-11-15")
	if err != nil {
		t.Fatal(err)
	}
	if resp.status != 401 || !strings.Contains(resp.body, "<Code>MissingAuthenticationToken</Code>") {
		t.Errorf("unsigned request: %d %s", resp.status, resp.body)
	}
}

func TestMaintenanceCallsCappedPerPoll(t *testing.T) {
	sim, url := ec2sim.Start(t, nil)
	sim.Update(tokyo, func(r *ec2sim.Region) {
		for i := range 60 {
			r.VPNConnections = append(r.VPNConnections, &ec2sim.VPNConnection{ID: "vpn-" + strings.Repeat("0", 14) + string(rune('a'+i/26)) + string(rune('a'+i%26)) + "0",
				Tunnels: []*ec2sim.Tunnel{{OutsideIP: "203.0.113." + itoa(2*i)}, {OutsideIP: "203.0.113." + itoa(2*i+1)}}})
		}
	})
	p := newPoller(t, source(url, tokyo), Options{})
	p.Poll(context.Background())
	if n := sim.Requests("GetVpnTunnelReplacementStatus", tokyo); n != maintPerPoll {
		t.Errorf("first poll asked %d tunnels, want the cap %d", n, maintPerPoll)
	}
	p.Poll(context.Background())
	if n := sim.Requests("GetVpnTunnelReplacementStatus", tokyo); n != 120 {
		t.Errorf("after two polls %d tunnels asked, want all 120 once", n)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// An HTTP 200 that is not an EC2 answer (a captive portal, a proxy's page,
// an empty body) is a failed poll, never "no VPN connections".
func TestGarbageThatLooksLikeSuccess(t *testing.T) {
	for name, body := range map[string]string{
		"captive portal":         `<!DOCTYPE html><html><head><title>Hotel Wi-Fi</title></head><body>Please log in</body></html>`,
		"empty":                  "",
		"json":                   `{"ok":true}`,
		"xml without request id": `<?xml version="1.0"?><DescribeVpnConnectionsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><vpnConnectionSet/></DescribeVpnConnectionsResponse>`,
	} {
		t.Run(name, func(t *testing.T) {
			sim, url := ec2sim.Start(t, nil)
			sim.Update(tokyo, seedModel)
			sim.ServeRaw("DescribeVpnConnections", 200, []byte(body))
			log := &requestLog{}
			s := newPoller(t, source(url, tokyo), Options{OnRequest: log.record}).Poll(context.Background())[0]
			var ne *NotEC2Error
			if !errors.As(s.Err, &ne) || s.Connections != nil || !strings.Contains(s.Err.Error(), "not an EC2 response") {
				t.Fatalf("poll: %v %+v", s.Err, s.Connections)
			}
			if log.count("ap-northeast-1 DescribeVpnConnections NotAnEC2Response") == 0 {
				t.Errorf("not counted: %v", log)
			}
		})
	}
}

// An endless or huge answer stops at the limit with a clear error.
func TestResponseTooLarge(t *testing.T) {
	sim, url := ec2sim.Start(t, nil)
	sim.Update(tokyo, seedModel)
	big := `<?xml version="1.0" encoding="UTF-8"?><DescribeVpnConnectionsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r-1</requestId><vpnConnectionSet>` +
		strings.Repeat("<item><vpnConnectionId>vpn-0123456789abcdef0</vpnConnectionId></item>", 40000) + `</vpnConnectionSet></DescribeVpnConnectionsResponse>`
	sim.ServeRaw("DescribeVpnConnections", 200, []byte(big))
	log := &requestLog{}
	s := newPoller(t, source(url, tokyo), Options{OnRequest: log.record, MaxResponseBytes: 1 << 20}).Poll(context.Background())[0]
	if !errors.Is(s.Err, ErrResponseTooLarge) || s.Connections != nil {
		t.Fatalf("a %d-byte answer with a 1 MiB limit: %v", len(big), s.Err)
	}
	if log.count("ap-northeast-1 DescribeVpnConnections ResponseTooLarge") == 0 {
		t.Errorf("not counted")
	}
	// The default limit is 64 MiB; the same answer passes it.
	s = newPoller(t, source(url, tokyo), Options{}).Poll(context.Background())[0]
	if s.Err != nil || len(s.Connections) != 40000 {
		t.Errorf("under the default limit: %v, %d connections", s.Err, len(s.Connections))
	}
}

// Where AWS writes each tunnel's own logs comes with DescribeVpnConnections
// (TunnelOptions.LogOptions): off in the real sample, on where the
// simulator's model sets a log group, read through the real SDK.
func TestTunnelLogOptions(t *testing.T) {
	sim, url := ec2sim.Start(t, nil)
	sim.Update(tokyo, seedModel)
	sim.ServeRaw("DescribeVpnConnections", 200, readSample(t, "describe-vpn-connections.bgp-ipsec-up.xml"))
	s := newPoller(t, source(url, tokyo), Options{}).Poll(context.Background())[0]
	if s.Err != nil || len(s.Connections) == 0 {
		t.Fatal(s.Err)
	}
	for _, tu := range s.Connections[0].Tunnels {
		if tu.Logs == nil || tu.Logs.Enabled || tu.Logs.BGPEnabled {
			t.Errorf("sample tunnel %s: logs %+v, want present and off", tu.OutsideIP, tu.Logs)
		}
	}
	sim.ServeRaw("DescribeVpnConnections", 0, nil)
	const group = "arn:aws:logs:ap-northeast-1:123456789012:log-group:/aws/vpn/osaka:*"
	sim.Update(tokyo, func(r *ec2sim.Region) {
		r.VPNConnections[0].Tunnels[0].LogGroup = group
		r.VPNConnections[0].Tunnels[0].BGPLogGroup = group
	})
	s = newPoller(t, source(url, tokyo), Options{}).Poll(context.Background())[0]
	var on *TunnelLogs
	for _, c := range s.Connections {
		for _, tu := range c.Tunnels {
			if tu.Logs != nil && tu.Logs.Enabled {
				on = tu.Logs
			}
		}
	}
	if on == nil || on.Group != group || on.Format != "json" || !on.BGPEnabled || on.BGPGroup != group {
		t.Errorf("logs on: %+v", on)
	}
}

// With a tunnel's logging on, each poll reads its log group once and gives
// the tunnel AWS's recent events; a group vpnwatchd may not read (no
// permission) leaves them out without failing the poll; aws[].logs: false
// reads nothing.
func TestTunnelLogsRead(t *testing.T) {
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	sim, url := ec2sim.Start(t, clock)
	sim.Update(tokyo, seedModel)
	const group = "arn:aws:logs:ap-northeast-1:123456789012:log-group:/aws/vpn/osaka"
	var ip string
	sim.Update(tokyo, func(r *ec2sim.Region) {
		r.VPNConnections[0].Tunnels[0].LogGroup = group + ":*"
		ip = r.VPNConnections[0].Tunnels[0].OutsideIP
	})
	stream := vpnBGP + "_" + ip + "-IKE.log"
	sim.AddLogEvent(group, stream, now.Add(-30*time.Second), `{"details":"AWS tunnel is sending request (id=3) for CREATE_CHILD_SA"}`)
	sim.AddLogEvent(group, stream, now.Add(-10*time.Second), `{"details":"AWS tunnel DPD timed out after 3 retransmits"}`)
	p := newPoller(t, source(url, tokyo), Options{Now: clock})
	s := p.Poll(context.Background())[0]
	if s.Err != nil {
		t.Fatal(s.Err)
	}
	var events []string
	for _, c := range s.Connections {
		for _, tu := range c.Tunnels {
			if tu.OutsideIP == ip {
				for _, e := range tu.LogEvents {
					events = append(events, e.Class)
				}
			}
		}
	}
	if strings.Join(events, ",") != "rekey-request,dpd-timeout" {
		t.Errorf("tunnel %s: AWS log events %v", ip, events)
	}
	if n := sim.Requests("FilterLogEvents", ""); n != 1 {
		t.Errorf("%d FilterLogEvents calls for one group", n)
	}
	// Logs off in the configuration: not read.
	src := source(url, tokyo)
	src.Logs = false
	before := sim.Requests("FilterLogEvents", "")
	if s := newPoller(t, src, Options{Now: clock}).Poll(context.Background())[0]; s.Err != nil || sim.Requests("FilterLogEvents", "") != before {
		t.Errorf("logs: false still read logs (%v)", s.Err)
	}
	// A group the simulator does not have (as AccessDenied would): the poll stands.
	sim.Update(tokyo, func(r *ec2sim.Region) { r.VPNConnections[0].Tunnels[0].LogGroup = group + "-missing" })
	if s := newPoller(t, source(url, tokyo), Options{Now: clock}).Poll(context.Background())[0]; s.Err != nil || len(s.Connections) == 0 {
		t.Errorf("an unreadable log group failed the poll: %v", s.Err)
	}
}

// More log groups than one poll reads (CloudWatch Logs' request quota):
// each poll reads logsPerPoll of them and the next poll goes on where it
// stopped, so that every group is read in turn; a throttled call backs the
// region's log reading off without failing the EC2 poll.
func TestTunnelLogsInTurnsAndThrottled(t *testing.T) {
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	sim, url := ec2sim.Start(t, clock)
	const groups = logsPerPoll + 5
	sim.Update(tokyo, func(r *ec2sim.Region) {
		r.CustomerGateways = []*ec2sim.CustomerGateway{{ID: "cgw-0123456789abcdef0", IP: "198.51.100.7", BGPASN: "65000"}}
		for i := range groups {
			ip := fmt.Sprintf("203.0.113.%d", i+1)
			g := fmt.Sprintf("arn:aws:logs:ap-northeast-1:123456789012:log-group:/aws/vpn/g%02d", i)
			r.VPNConnections = append(r.VPNConnections, &ec2sim.VPNConnection{ID: fmt.Sprintf("vpn-%017x", i), CustomerGatewayID: "cgw-0123456789abcdef0", VPNGatewayID: "vgw-1",
				Tunnels: []*ec2sim.Tunnel{{OutsideIP: ip, InsideCIDR: "169.254.10.0/30", Status: "UP", StatusMessage: "1 BGP ROUTES", LogGroup: g + ":*"}}})
		}
	})
	for i := range groups {
		sim.AddLogEvent(fmt.Sprintf("arn:aws:logs:ap-northeast-1:123456789012:log-group:/aws/vpn/g%02d", i),
			fmt.Sprintf("vpn-%017x_203.0.113.%d-IKE.log", i, i+1), now.Add(-30*time.Second), `{"details":"AWS tunnel DPD timed out after 3 retransmits"}`)
	}
	p := newPoller(t, source(url, tokyo), Options{Now: clock})
	p.logsGap = time.Millisecond
	withEvents := func(s Snapshot) int {
		n := 0
		for _, c := range s.Connections {
			if len(c.Tunnels[0].LogEvents) > 0 {
				n++
			}
		}
		return n
	}
	s := p.Poll(context.Background())[0]
	if s.Err != nil || sim.Requests("FilterLogEvents", "") != logsPerPoll || withEvents(s) != logsPerPoll {
		t.Fatalf("first poll: %v, %d calls, %d tunnels with events", s.Err, sim.Requests("FilterLogEvents", ""), withEvents(s))
	}
	now = now.Add(30 * time.Second)
	if s = p.Poll(context.Background())[0]; withEvents(s) != groups || sim.Requests("FilterLogEvents", "") != 2*logsPerPoll {
		t.Fatalf("second poll: %d calls, %d of %d tunnels with events", sim.Requests("FilterLogEvents", ""), withEvents(s), groups)
	}
	// Throttled past the SDK's retries: that group's attempts, then no call
	// until the backoff has passed; the events already read stay.
	sim.ThrottleLogs(1000)
	now = now.Add(30 * time.Second)
	before := sim.Requests("FilterLogEvents", "")
	s = p.Poll(context.Background())[0]
	attempts := sim.Requests("FilterLogEvents", "") - before
	if s.Err != nil || attempts < 1 || attempts > defaultRetries || withEvents(s) != groups {
		t.Fatalf("throttled poll: %v, %d calls, %d tunnels with events", s.Err, attempts, withEvents(s))
	}
	sim.ThrottleLogs(0)
	now = now.Add(5 * time.Second)
	if s = p.Poll(context.Background())[0]; s.Err != nil || sim.Requests("FilterLogEvents", "") != before+attempts {
		t.Fatalf("inside the backoff: %v, %d calls", s.Err, sim.Requests("FilterLogEvents", "")-before-attempts)
	}
	now = now.Add(backoffMax)
	if p.Poll(context.Background()); sim.Requests("FilterLogEvents", "") != before+attempts+logsPerPoll {
		t.Fatalf("after the backoff: %d calls", sim.Requests("FilterLogEvents", "")-before-attempts)
	}
}

// Log groups that answer empty pages with new tokens without end (as
// CloudWatch Logs may for a while, a hostile endpoint for ever) cost a
// bounded number of calls: at most MaxPages per group and logsPerPoll per
// poll and region, every one counted in vpnwatch_aws_api_requests_total.
// When the run ends, the events behind it are read, from where each group
// stopped.
func TestTunnelLogsEmptyPagesBounded(t *testing.T) {
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	sim, url := ec2sim.Start(t, clock)
	const groups = 8 // 8 groups × 5 pages: more than one poll's calls
	sim.Update(tokyo, func(r *ec2sim.Region) {
		r.CustomerGateways = []*ec2sim.CustomerGateway{{ID: "cgw-0123456789abcdef0", IP: "198.51.100.7", BGPASN: "65000"}}
		for i := range groups {
			r.VPNConnections = append(r.VPNConnections, &ec2sim.VPNConnection{ID: fmt.Sprintf("vpn-%017x", i), CustomerGatewayID: "cgw-0123456789abcdef0", VPNGatewayID: "vgw-1",
				Tunnels: []*ec2sim.Tunnel{{OutsideIP: fmt.Sprintf("203.0.113.%d", i+1), InsideCIDR: "169.254.10.0/30", Status: "UP", StatusMessage: "1 BGP ROUTES",
					LogGroup: fmt.Sprintf("arn:aws:logs:ap-northeast-1:123456789012:log-group:/aws/vpn/g%02d:*", i)}}})
		}
	})
	for i := range groups {
		sim.AddLogEvent(fmt.Sprintf("arn:aws:logs:ap-northeast-1:123456789012:log-group:/aws/vpn/g%02d", i),
			fmt.Sprintf("vpn-%017x_203.0.113.%d-IKE.log", i, i+1), now.Add(-30*time.Second), `{"details":"AWS tunnel DPD timed out after 3 retransmits"}`)
	}
	sim.EmptyLogPages(1 << 30)
	log := &requestLog{}
	p := newPoller(t, source(url, tokyo), Options{Now: clock, OnRequest: log.record})
	p.logsGap = time.Millisecond
	withEvents := func(s Snapshot) int {
		n := 0
		for _, c := range s.Connections {
			if len(c.Tunnels[0].LogEvents) > 0 {
				n++
			}
		}
		return n
	}
	calls := 0
	for poll := range 3 {
		s := p.Poll(t.Context())[0]
		n := sim.Requests("FilterLogEvents", "") - calls
		calls += n
		if s.Err != nil || n != logsPerPoll || withEvents(s) != 0 {
			t.Fatalf("poll %d in the run of empty pages: %v, %d calls (want %d), %d tunnels with events", poll, s.Err, n, logsPerPoll, withEvents(s))
		}
		if counted := log.count(tokyo + " FilterLogEvents OK"); counted != calls {
			t.Errorf("poll %d: %d FilterLogEvents counted for vpnwatch_aws_api_requests_total, %d made", poll, counted, calls)
		}
		now = now.Add(15 * time.Second)
	}
	// The run ends: every group's event is read, each group going on from
	// the token it stopped at (vpnlog's tests show events older than any
	// later window read that way).
	sim.EmptyLogPages(0)
	s := p.Poll(t.Context())[0]
	if n := sim.Requests("FilterLogEvents", "") - calls; s.Err != nil || withEvents(s) != groups || n > logsPerPoll {
		t.Fatalf("after the run: %v, %d calls, %d of %d tunnels with events", s.Err, n, withEvents(s), groups)
	}
}

// aws[].logs_kept bounds the events kept per tunnel: the newest stay.
func TestTunnelLogsKept(t *testing.T) {
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	sim, url := ec2sim.Start(t, clock)
	sim.Update(tokyo, seedModel)
	const group = "arn:aws:logs:ap-northeast-1:123456789012:log-group:/aws/vpn/osaka"
	sim.Update(tokyo, func(r *ec2sim.Region) { r.VPNConnections[0].Tunnels[0].LogGroup = group })
	stream := vpnBGP + "_203.0.113.10-IKE.log"
	sim.AddLogEvent(group, stream, now.Add(-30*time.Second), `{"details":"AWS tunnel is sending request (id=3) for CREATE_CHILD_SA"}`)
	sim.AddLogEvent(group, stream, now.Add(-10*time.Second), `{"details":"AWS tunnel DPD timed out after 3 retransmits"}`)
	src := source(url, tokyo)
	src.LogsKept = 1
	s := newPoller(t, src, Options{Now: clock}).Poll(context.Background())[0]
	if s.Err != nil || len(s.Connections) == 0 {
		t.Fatal(s.Err)
	}
	if ev := s.Connections[0].Tunnels[0].LogEvents; len(ev) != 1 || ev[0].Class != "dpd-timeout" {
		t.Errorf("kept %+v, want the newest one", ev)
	}
}

// CloudWatch Logs answers are guarded as EC2's are: an HTTP 200 that is
// not a JSON object (a captive portal) is an error counted as such, never
// read as "no log events", and the events already read stay.
func TestLogsGarbageThatLooksLikeSuccess(t *testing.T) {
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	sim, url := ec2sim.Start(t, clock)
	const g = "arn:aws:logs:ap-northeast-1:123456789012:log-group:/aws/vpn/g"
	sim.Update(tokyo, func(r *ec2sim.Region) {
		r.CustomerGateways = []*ec2sim.CustomerGateway{{ID: "cgw-0123456789abcdef0", IP: "198.51.100.7", BGPASN: "65000"}}
		r.VPNConnections = []*ec2sim.VPNConnection{{ID: "vpn-0123456789abcdef0", CustomerGatewayID: "cgw-0123456789abcdef0", VPNGatewayID: "vgw-1",
			Tunnels: []*ec2sim.Tunnel{{OutsideIP: "203.0.113.1", InsideCIDR: "169.254.10.0/30", Status: "UP", StatusMessage: "1 BGP ROUTES", LogGroup: g + ":*"}}}}
	})
	sim.AddLogEvent(g, "vpn-0123456789abcdef0_203.0.113.1-IKE.log", now.Add(-30*time.Second), `{"details":"AWS tunnel DPD timed out after 3 retransmits"}`)
	log := &requestLog{}
	p := newPoller(t, source(url, tokyo), Options{Now: clock, OnRequest: log.record})
	if s := p.Poll(context.Background())[0]; s.Err != nil || len(s.Connections[0].Tunnels[0].LogEvents) != 1 {
		t.Fatalf("first poll: %v", s.Err)
	}
	sim.ServeRaw("FilterLogEvents", 200, []byte(`<!DOCTYPE html><html><body>Please log in</body></html>`))
	now = now.Add(30 * time.Second)
	s := p.Poll(context.Background())[0]
	if s.Err != nil || len(s.Connections[0].Tunnels[0].LogEvents) != 1 {
		t.Errorf("a portal page for the logs: EC2 poll %v, %d events kept", s.Err, len(s.Connections[0].Tunnels[0].LogEvents))
	}
	if log.count("ap-northeast-1 FilterLogEvents NotAnEC2Response") == 0 {
		t.Errorf("not counted: %v", log)
	}
}
