package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/aws/ec2sim"
	"github.com/vpnwatchd/vpnwatchd/internal/config"
	"github.com/vpnwatchd/vpnwatchd/internal/rtx/rtxsim"
)

// A router that takes the SSH login and then never answers the shell
// request does not stop monitoring: the first cycle completes (ready), AWS
// and the other router are polled and up, and the stalled router is a failing
// source that names the step it hung on.
func TestStalledRouterDoesNotHoldTheCycle(t *testing.T) {
	sim, url := ec2sim.Start(t, nil)
	sim.Update("ap-northeast-1", func(r *ec2sim.Region) {
		r.CustomerGateways = []*ec2sim.CustomerGateway{{ID: "cgw-1", IP: "198.51.100.7", BGPASN: "65000"}}
		r.VPNConnections = []*ec2sim.VPNConnection{{ID: "vpn-0a1b2c3d4e5f67890", CustomerGatewayID: "cgw-1", VPNGatewayID: "vgw-1",
			Tunnels: []*ec2sim.Tunnel{{OutsideIP: "203.0.113.10", Status: "UP", StatusMessage: "1 BGP ROUTES", AcceptedRoutes: 1}}}}
	})
	dir := t.TempDir()
	writeConfig(t, filepath.Join(dir, "rtx.password"), "rtx-pass\n")
	routers := "routers:\n"
	for _, name := range []string{"osaka", "kobe"} {
		router := rtxsim.New("RTX1200 Rev.10.01.65", "tunnel select 1\n ipsec tunnel 201\n  ipsec ike remote address 1 203.0.113.10\n tunnel enable 1\n", nil)
		router.AddTunnel(rtxsim.Tunnel{Number: 1, Remote: "203.0.113.10", Neighbor: "169.254.10.1", RemoteAS: "64512"})
		srv, knownHosts := rtxsim.Start(t, router, "monitor", "rtx-pass")
		if name == "kobe" {
			srv.SetStall(rtxsim.StallShell)
		}
		routers += fmt.Sprintf("  - name: %s\n    address: %s\n    user: monitor\n    password_file: rtx.password\n    known_hosts: %s\n    timeout: 1s\n", name, srv.Addr(), knownHosts)
	}
	cfgFile := filepath.Join(dir, "vpnwatchd.yaml")
	writeConfig(t, cfgFile, minimalConfig(dir, "1h")+fmt.Sprintf("aws:\n  - name: prod\n    regions: [ap-northeast-1]\n    endpoint: %s\n", url)+routers)
	_, addr := start(t, Options{ConfigFile: cfgFile})
	waitReady(t, http.DefaultClient, "http://"+addr)
	_, body := get(t, http.DefaultClient, "http://"+addr+"/metrics")
	for series, want := range map[string]string{
		`vpnwatch_source_up{region="",router="osaka",source="",type="rtx"}`:              "1",
		`vpnwatch_source_up{region="",router="kobe",source="",type="rtx"}`:               "0",
		`vpnwatch_source_up{region="ap-northeast-1",router="",source="prod",type="aws"}`: "1",
	} {
		if got := metricValue(t, body, series); got != want {
			t.Errorf("%s = %s, want %s", series, got, want)
		}
	}
	if code, _ := get(t, http.DefaultClient, "http://"+addr+"/-/healthy"); code != http.StatusOK {
		t.Errorf("/-/healthy = %d", code)
	}
	_, page := get(t, http.DefaultClient, "http://"+addr+"/api/v1/status")
	if !strings.Contains(page, "ssh shell: no answer within 1s") {
		t.Errorf("the status does not say which step hung:\n%s", page)
	}
}

// A poll that ignores its context (a step its source forgot to bound) is
// abandoned after its budget: the cycle gets an error at once, the source is
// not polled again while that poll runs, and it is closed only when the poll
// returns.
func TestAbandonedPoll(t *testing.T) {
	d := &Daemon{}
	id := config.RouterSource("wedged")
	release := make(chan struct{})
	returned := make(chan struct{})
	go func() {
		_, err := runBounded(t.Context(), d, id, 50*time.Millisecond, func(context.Context) int {
			<-release // ignores its context
			return 1
		})
		if !errors.Is(err, ErrPollOverran) || !strings.Contains(err.Error(), "no result within 50ms") {
			t.Errorf("runBounded: %v", err)
		}
		close(returned)
	}()
	select {
	case <-returned:
	case <-time.After(time.Minute):
		t.Fatal("runBounded still waits a minute into a 50 ms budget")
	}
	if err := d.overrunning(id); !errors.Is(err, ErrPollOverran) {
		t.Errorf("while the abandoned poll runs: %v", err)
	}
	closed := make(chan struct{})
	d.whenIdle(id, func() { close(closed) })
	select {
	case <-closed:
		t.Fatal("closed while its abandoned poll still runs")
	default:
	}
	close(release)
	select {
	case <-closed:
	case <-time.After(time.Minute):
		t.Fatal("not closed after the abandoned poll returned")
	}
	if err := d.overrunning(id); err != nil {
		t.Errorf("after the poll returned: %v", err)
	}
	// A poll that honours its context ends with its own result.
	got, err := runBounded(t.Context(), d, id, 10*time.Millisecond, func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	})
	if err != nil || !errors.Is(got, context.DeadlineExceeded) {
		t.Errorf("a poll that honours its context: %v, %v", got, err)
	}
}

// A reload cannot move the syslog receiver's socket: it says so (log,
// systemd status, the page's events) instead of pretending to listen on the
// new address.
func TestReloadSaysSyslogListenNotApplied(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "vpnwatchd.yaml")
	writeConfig(t, cfgFile, minimalConfig(dir, "1h")+"syslog:\n  listen: 127.0.0.1:0\n")
	rec := &recorder{}
	d, addr := start(t, Options{ConfigFile: cfgFile, Notifier: rec, EnableLifecycle: true})
	waitReady(t, http.DefaultClient, "http://"+addr)
	running := d.syslog.addr()
	writeConfig(t, cfgFile, minimalConfig(dir, "1h")+"syslog:\n  listen: 127.0.0.1:5140\n")
	resp, err := http.Post("http://"+addr+"/-/reload", "", nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("reload: %v %v", err, resp)
	}
	resp.Body.Close()
	want := fmt.Sprintf(`STATUS=syslog.listen changed from "127.0.0.1:0" to "127.0.0.1:5140": not applied; restart vpnwatchd to apply it (syslog now: %s)`, running)
	if !rec.has(want) {
		t.Errorf("no %q in %q", want, rec.states)
	}
	if d.syslog.addr() != running {
		t.Errorf("the receiver moved to %s", d.syslog.addr())
	}
}
