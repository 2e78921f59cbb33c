package strongswan_test

// Real charons on both ends of two tunnels, the EC2 simulator for AWS's
// view through the real SDK, and the correlator: the cases of issue #23.

import (
	"context"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/aws"
	"github.com/vpnwatchd/vpnwatchd/internal/aws/ec2sim"
	"github.com/vpnwatchd/vpnwatchd/internal/config"
	"github.com/vpnwatchd/vpnwatchd/internal/correlate"
	"github.com/vpnwatchd/vpnwatchd/internal/strongswan"
	"github.com/vpnwatchd/vpnwatchd/internal/strongswan/swanlab"
)

const (
	region = "ap-northeast-1"
	vpnID  = "vpn-0a1b2c3d4e5f60001"
)

// TestMain points the AWS SDK at static test credentials once (the tests
// run in parallel, which t.Setenv forbids).
func TestMain(m *testing.M) {
	for k, v := range ec2sim.Env {
		os.Setenv(k, v)
	}
	os.Exit(m.Run())
}

// world is one lab seen by vpnwatchd's parts.
type world struct {
	t     *testing.T
	lab   *swanlab.Lab
	sim   *ec2sim.Sim
	awsP  *aws.Poller
	src   *strongswan.Source
	ev    *correlate.Evaluator
	state correlate.State

	mu   sync.Mutex
	seen map[string][]correlate.Finding // rule → findings seen, in order
	// awsUp is how many tunnels AWS said UP at the last step.
	awsUp int
	// listing is charon's list-sas when each rule was first seen, for
	// the failure message.
	listing map[string]string
}

func newWorld(t *testing.T, o swanlab.Options) *world {
	lab := swanlab.Start(t, o) // skips where the lab cannot run
	sim := ec2sim.New(nil)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	url := srv.URL
	// AWS's side: the two tunnels the stand-in answers, with the lab's
	// lifetimes (a static VPN: AWS says UP when IPsec is up).
	sim.Update(region, func(r *ec2sim.Region) {
		r.CustomerGateways = []*ec2sim.CustomerGateway{{ID: "cgw-0a1b2c3d4e5f60001", IP: swanlab.CustomerIP, BGPASN: "65000"}}
		v := &ec2sim.VPNConnection{ID: vpnID, CustomerGatewayID: "cgw-0a1b2c3d4e5f60001", VPNGatewayID: "vgw-0a1b2c3d4e5f60001", StaticRoutesOnly: !o.FRR}
		for n, ip := range []string{swanlab.AWSIP1, swanlab.AWSIP2} {
			cidr, _, _ := swanlab.Inside(n + 1)
			v.Tunnels = append(v.Tunnels, &ec2sim.Tunnel{OutsideIP: ip, InsideCIDR: cidr, Status: "UP",
				Phase1LifetimeSeconds: 60, Phase2LifetimeSeconds: 40})
		}
		r.VPNConnections = []*ec2sim.VPNConnection{v}
	})
	src := config.AWSSource{Name: "prod", Regions: []string{region}, Endpoint: url, Timeout: 5 * time.Second,
		MaintenanceInterval: time.Hour, VPNConnectionIDs: []string{vpnID}}
	p, err := aws.New(context.Background(), src, aws.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, lab: lab, sim: sim, awsP: p, ev: correlate.NewEvaluator(nil), seen: map[string][]correlate.Finding{}, listing: map[string]string{},
		src: strongswan.New(strongswan.Options{Name: "lab", Socket: lab.Socket("c"), NetNS: lab.NSC, FRR: o.FRR, VtySocket: lab.VtySocket("c")})}
	w.ev.NoHolds = true
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go w.src.Watch(ctx, func(string, bool) {})
	if o.FRR {
		go lab.MirrorAWS(ctx, func(n int, status, msg string, routes int) {
			if err := sim.SetTunnel(region, vpnID, []string{swanlab.AWSIP1, swanlab.AWSIP2}[n-1], status, msg, routes); err != nil {
				t.Error(err)
			}
		})
	}
	return w
}

// step polls both sides and evaluates once.
func (w *world) step() correlate.Result {
	obs := correlate.Observations{AWS: w.awsP.Poll(context.Background())}
	w.awsUp = 0
	for _, a := range obs.AWS {
		for _, c := range a.Connections {
			for _, tn := range c.Tunnels {
				if tn.Status == "UP" {
					w.awsUp++
				}
			}
		}
	}
	gw := w.src.Poll(context.Background())
	obs.Gateways = append(obs.Gateways, gw)
	obs.Expected = []correlate.SourceRef{config.AWSRegion("prod", region), config.StrongSwanSource("lab")}
	var r correlate.Result
	w.state, r = w.ev.Evaluate(w.state, obs, time.Now())
	w.mu.Lock()
	for _, f := range r.Findings {
		if _, ok := w.seen[f.Rule]; !ok {
			w.listing[f.Rule] = string(w.src.LastOutputs()[strongswan.FileSAs])
		}
		w.seen[f.Rule] = append(w.seen[f.Rule], f)
	}
	w.mu.Unlock()
	return r
}

// run steps every second for d, or until stop says so.
func (w *world) run(d time.Duration, stop func(correlate.Result) bool) correlate.Result {
	var r correlate.Result
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(time.Second) {
		r = w.step()
		if stop != nil && stop(r) {
			break
		}
	}
	return r
}

func rules(fs []correlate.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Rule+": "+f.Summary)
	}
	return out
}

func TestRealStrongSwanHealthyRekeysNoFindings(t *testing.T) {
	t.Parallel()
	w := newWorld(t, swanlab.Options{})
	w.run(30*time.Second, func(r correlate.Result) bool {
		g := w.src.Poll(context.Background())
		return len(g.Tunnels) == 2 && g.Tunnels[0].Up && g.Tunnels[1].Up
	})
	// Three minutes: six child rekeys (every ~30 s) and three IKE rekeys
	// (60 s) per tunnel, with the collisions of two ends on one schedule.
	r := w.run(180*time.Second, nil)
	if len(r.Findings) != 0 {
		t.Errorf("healthy tunnels, findings:\n%s", strings.Join(rules(r.Findings), "\n"))
	}
	for rule, fs := range w.seen {
		t.Errorf("a finding during healthy rekeys: %s (%d times), first: %s\nlist-sas then:\n%s", rule, len(fs), fs[0].Summary, w.listing[rule])
	}
	g := w.src.Poll(context.Background())
	for _, tn := range g.Tunnels {
		if tn.Rekeys < 4 || !tn.Up {
			t.Errorf("%s: %d rekeys in 180 s, up %v", tn.Name, tn.Rekeys, tn.Up)
		}
	}
}

func TestRealStrongSwanIKEDroppedRekeyFails(t *testing.T) {
	t.Parallel()
	w := newWorld(t, swanlab.Options{})
	w.run(30*time.Second, func(correlate.Result) bool {
		g := w.src.Poll(context.Background())
		return len(g.Tunnels) == 2 && g.Tunnels[0].Up
	})
	// AWS's side stops answering IKE; ESP keeps flowing until the SAs
	// expire. AWS sees the tunnel go down as its SA expires too.
	w.lab.DropIKE()
	r := w.run(120*time.Second, func(r correlate.Result) bool {
		for _, f := range r.Findings {
			if f.Rule == "SARekeyFailed" && f.Subject.Tunnel == "aws-1" {
				return true
			}
		}
		return false
	})
	var got *correlate.Finding
	for i, f := range r.Findings {
		if f.Rule == "SARekeyFailed" && f.Subject.Tunnel == "aws-1" {
			got = &r.Findings[i]
		}
	}
	if got == nil {
		t.Fatalf("no SARekeyFailed for aws-1 within 120 s; findings:\n%s\ncharon:\n%s", strings.Join(rules(r.Findings), "\n"), tail(w.lab.Log("c"), 30))
	}
	s := got.Subject
	if s.VPNConnectionID != vpnID || s.OutsideIP != swanlab.AWSIP1 || s.Router != "lab" || s.GatewayKind != "strongswan" {
		t.Errorf("subject = %+v", s)
	}
	if !strings.Contains(got.Summary, "strongSwan lab connection aws-1") || !strings.Contains(got.Summary, "retransmit") {
		t.Errorf("summary lacks strongSwan's own evidence: %s", got.Summary)
	}
	if !strings.Contains(got.Remediation, "swanctl --initiate --child aws-1") || strings.Contains(got.Remediation, "ipsec refresh sa") {
		t.Errorf("remediation not in strongSwan's words: %s", got.Remediation)
	}
}

func TestRealStrongSwanFragmentedIKELost(t *testing.T) {
	t.Parallel()
	// The seed's failure class for real: a 1200-byte underlay that drops
	// IP fragments, a large DH group for PFS and no IKE fragmentation.
	// The first child SA comes up (IKE_AUTH carries no KE payload); every
	// rekey (CREATE_CHILD_SA with a 1 KB KE payload) is lost, charon gives
	// up, closes the IKE SA and starts again: the tunnel flaps.
	w := newWorld(t, swanlab.Options{UnderlayMTU: 1200, DropFragments: true, PFSGroup: "modp8192", Fragmentation: "no"})
	w.run(240*time.Second, func(correlate.Result) bool { return len(w.seen["TunnelFlapping"]) > 0 })
	fs := w.seen["TunnelFlapping"]
	if len(fs) == 0 {
		t.Fatalf("no TunnelFlapping within 240 s; seen %v\ncharon:\n%s", keys(w.seen), tail(w.lab.Log("c"), 30))
	}
	f := fs[0]
	if !strings.Contains(f.Remediation, "fragmentation = yes") || !strings.Contains(f.Remediation, "fragment_size") {
		t.Errorf("the fix does not name IKE fragmentation: %s", f.Remediation)
	}
	if !strings.Contains(f.Summary, "retransmit") {
		t.Errorf("summary lacks charon's evidence: %s", f.Summary)
	}
}

// BGP down while IPsec is up, for real: FRR on both ends, AWS's view
// mirrored from the stand-in; a firewall rule on the stand-in drops BGP.
func TestRealStrongSwanBGPDownIPsecUp(t *testing.T) {
	t.Parallel()
	w := newWorld(t, swanlab.Options{FRR: true})
	// Healthy first: both tunnels up with BGP, AWS says UP, no finding.
	r := w.run(90*time.Second, func(r correlate.Result) bool { return w.awsUp == 2 && len(r.Findings) == 0 })
	if w.awsUp != 2 || len(r.Findings) != 0 {
		t.Fatalf("not healthy with BGP up (AWS: %d tunnels UP): %s", w.awsUp, strings.Join(rules(r.Findings), "; "))
	}
	// Up, it stays quiet (a rekey or two on the way).
	w.mu.Lock()
	clear(w.seen)
	w.mu.Unlock()
	w.run(40*time.Second, nil)
	for rule, fs := range w.seen {
		t.Errorf("a finding while BGP and IPsec are up: %s: %s", rule, fs[0].Summary)
	}
	w.lab.DropBGP()
	// Both ends see it: the finding carries FRR's own state of the
	// session once its hold timer ran out too.
	r = w.run(90*time.Second, func(r correlate.Result) bool {
		n := 0
		for _, f := range r.Findings {
			if f.Rule == "BGPDownIPsecUp" && !strings.Contains(f.Summary, "BGP Established") {
				n++
			}
		}
		return n == 2
	})
	var got []correlate.Finding
	for _, f := range r.Findings {
		if f.Rule == "BGPDownIPsecUp" {
			got = append(got, f)
		}
	}
	if len(got) != 2 {
		t.Fatalf("want BGPDownIPsecUp on both tunnels within 90 s; findings:\n%s", strings.Join(rules(r.Findings), "\n"))
	}
	for _, f := range got {
		if f.Subject.GatewayKind != "strongswan" || !strings.HasPrefix(f.Subject.Tunnel, "aws-") {
			t.Errorf("subject = %+v", f.Subject)
		}
		// FRR's own state of the session (Idle, Connect or Active while
		// TCP 179 is dropped), next to AWS's DOWN / IPSEC IS UP.
		if !strings.Contains(f.Summary, "DOWN / IPSEC IS UP") || !strings.Contains(f.Summary, "strongSwan lab connection aws-") ||
			!(strings.Contains(f.Summary, "BGP Idle") || strings.Contains(f.Summary, "BGP Active") || strings.Contains(f.Summary, "BGP Connect")) {
			t.Errorf("summary: %s", f.Summary)
		}
		if !strings.Contains(f.Remediation, "vtysh") || !strings.Contains(f.Remediation, "FRR has `neighbor 198.18.100.") || strings.Contains(f.Remediation, "bgp neighbor 1 ") {
			t.Errorf("remediation not in FRR's words: %s", f.Remediation)
		}
	}
	// Mended: the sessions come back and the finding ends. (The tunnels
	// did go DOWN and UP twice within the hour, which TunnelFlapping
	// rightly reports.)
	w.lab.RestoreBGP()
	ended := func(r correlate.Result) bool {
		for _, f := range r.Findings {
			if f.Rule != "TunnelFlapping" {
				return false
			}
		}
		return w.awsUp == 2
	}
	if r = w.run(90*time.Second, ended); !ended(r) {
		t.Errorf("after BGP is allowed again (AWS: %d UP): %s", w.awsUp, strings.Join(rules(r.Findings), "; "))
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
