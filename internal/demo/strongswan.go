package demo

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/aws/ec2sim"
	"github.com/vpnwatchd/vpnwatchd/internal/strongswan/swanlab"
)

// The strongswan scenario's VPN (AWS side in ec2sim).
const (
	swanVPNID = "vpn-0a1b2c3d4e5f60123"
	swanCGWID = "cgw-0a1b2c3d4e5f60123"
)

// swanScenario is what the summary prints for the strongswan scenario.
var swanScenario = scenario{
	title: "an office's strongSwan gateway with FRR, on real daemons (root only)",
	moral: "Each finding named the strongSwan connection and gave the fix in strongSwan's and FRR's own terms (swanctl, vtysh), with charon's and FRR's own evidence, within seconds of the cause.",
}

// runStrongSwan plays the strongswan scenario: real charon and FRR
// daemons in network namespaces (swanlab: the office's gateway and a
// stand-in for AWS's two endpoints), AWS's view in ec2sim following the
// stand-in's real IPsec and BGP state, and the real daemon reading the
// gateway over vici, ip, nft and vtysh, its files in dir. It needs root;
// without it, it says so.
func runStrongSwan(ctx context.Context, o Options, dir string) error {
	if why := swanlab.Usable(); why != "" {
		return fmt.Errorf("scenario strongswan runs real strongSwan and FRR daemons in network namespaces, which needs root and the packages `make test-deps` installs: %s; the other scenarios need neither", why)
	}
	if _, err := os.Stat("/usr/lib/frr/bgpd"); err != nil {
		return fmt.Errorf("scenario strongswan needs FRR: apt-get install frr (make test-deps)")
	}
	e := &env{out: o.Out, start: time.Now(), sim: ec2sim.New(nil)}
	fmt.Fprintf(o.Out, "vpnwatchd demo — scenario \"strongswan\": %s\n  starting two charons and two FRRs in network namespaces (198.18.0.0/15)…\n", swanScenario.title)
	lab, err := swanlab.New(swanlab.Options{FRR: true})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer lab.Close()

	simAddr, stopSim, err := serve(e.sim)
	if err != nil {
		return fmt.Errorf("demo: ec2sim: %w", err)
	}
	defer stopSim()
	e.sim.Update(region, func(r *ec2sim.Region) {
		r.CustomerGateways = []*ec2sim.CustomerGateway{{ID: swanCGWID, IP: swanlab.CustomerIP, BGPASN: swanlab.CustomerAS, DeviceName: "strongswan-tokyo"}}
		v := &ec2sim.VPNConnection{ID: swanVPNID, CustomerGatewayID: swanCGWID, VPNGatewayID: "vgw-0fedcba9876543210", Tags: map[string]string{"Name": "tokyo-office"}}
		for n, ip := range []string{swanlab.AWSIP1, swanlab.AWSIP2} {
			cidr, _, _ := swanlab.Inside(n + 1)
			// The office's lifetimes (swanlab's 60 s and 40 s) are what AWS
			// is set to; its stand-in only answers rekeys.
			v.Tunnels = append(v.Tunnels, &ec2sim.Tunnel{OutsideIP: ip, InsideCIDR: cidr, Status: "DOWN", StatusMessage: "IPSEC IS DOWN",
				Phase1LifetimeSeconds: 60, Phase2LifetimeSeconds: 40})
		}
		r.VPNConnections = []*ec2sim.VPNConnection{v}
	})
	awsUp := make(chan struct{}, 1)
	go lab.MirrorAWS(ctx, func(n int, status, msg string, routes int) {
		e.sim.SetTunnel(region, swanVPNID, []string{swanlab.AWSIP1, swanlab.AWSIP2}[n-1], status, msg, routes)
		if status == "UP" {
			select {
			case awsUp <- struct{}{}:
			default:
			}
		}
	})

	phone, stopPhone, err := serve(http.HandlerFunc(e.receive))
	if err != nil {
		return fmt.Errorf("demo: receiver: %w", err)
	}
	defer stopPhone()
	cfg := fmt.Sprintf(`global:
  poll_interval: 2s
  state_dir: %s
aws:
  - name: demo
    regions: [%s]
    endpoint: http://%s
    vpn_connection_ids: [%s]
    timeout: 5s
    logs: false # the stand-in keeps no AWS logs
strongswan:
  - name: tokyo-swan
    vici: %s
    netns: %s
    frr: true
    vty_socket: %s
    timeout: 5s
rules:
  BGPDownIPsecUp: {hold: 3s}
  SideMismatch: {hold: 5s}
  ConnectionDown: {hold: 5s}
  TunnelDown: {hold: 5s}
  NoRoutes: {hold: 5s}
alerting:
  group_wait: 2s
  group_interval: 5s
  resolve_hold: 2s
  webhook:
    - url: http://%s/hook
`, filepath.Join(dir, "state"), region, simAddr, swanVPNID, lab.Socket("c"), lab.NSC, lab.VtySocket("c"), phone)
	cfgFile := filepath.Join(dir, "vpnwatchd.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	logFile, stop, err := e.runDaemon(o, dir, cfgFile)
	if err != nil {
		return err
	}
	defer stop()
	fmt.Fprintf(o.Out, "  office gateway     charon (vici %s) and FRR in namespace %s, %s\n", lab.Socket("c"), lab.NSC, swanlab.CustomerIP)
	fmt.Fprintf(o.Out, "  AWS stand-in       charon and FRR in namespace %s, endpoints %s and %s; AWS's view in the EC2 API simulator http://%s\n", lab.NSA, swanlab.AWSIP1, swanlab.AWSIP2, simAddr)
	fmt.Fprintf(o.Out, "  vpnwatchd          %s/   (status page; metrics at %s/metrics; daemon log: %s)\n", e.metrics, e.metrics, logFile)
	fmt.Fprintf(o.Out, "  Time runs for real: child SAs rekey every 30 s, BGP holds 9 s.\n\n")

	// wait waits for a rule to fire (or end) on both tunnels, or gives up.
	wait := func(rule string, firing bool, within time.Duration) bool {
		for end := time.Now().Add(within); time.Now().Before(end); {
			e.mu.Lock()
			n := 0
			for _, ev := range e.fired {
				if ev.finding.Rule == rule && ev.firing == firing {
					n++
				}
			}
			e.mu.Unlock()
			if n >= 2 {
				return true
			}
			select {
			case <-ctx.Done():
				return false
			case <-time.After(500 * time.Millisecond):
			}
		}
		e.say("(not seen within %s: %s %s)", within, rule, map[bool]string{true: "firing", false: "resolved"}[firing])
		return false
	}
	pause := func(d time.Duration) {
		select {
		case <-ctx.Done():
		case <-time.After(d):
		}
	}
	e.say("The office's strongSwan gateway brings up both tunnels (IKEv2, PSK) and FRR peers with AWS over them.")
	select {
	case <-awsUp:
	case <-time.After(90 * time.Second):
		return fmt.Errorf("demo: the tunnels did not come up within 90 s; charon's log:\n%s", lastLines(lab.Log("c"), 20))
	case <-ctx.Done():
		return ctx.Err()
	}
	e.say("AWS says UP with BGP routes. Child SAs rekey every 30 s; vpnwatchd reads each rekey as charon reports it (vici events).")
	pause(35 * time.Second)
	e.say("A firewall change on AWS's side drops BGP (TCP 179) inside the tunnels; IPsec stays up.")
	if err := lab.Do(lab.DropBGP); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	wait("BGPDownIPsecUp", true, 60*time.Second)
	pause(5 * time.Second)
	e.say("The firewall rule is removed.")
	lab.RestoreBGP()
	wait("BGPDownIPsecUp", false, 60*time.Second)
	pause(5 * time.Second)
	e.say("AWS's endpoint stops answering IKE (UDP 500 and IKE on 4500); ESP keeps flowing until the child SAs expire, and every rekey is lost.")
	if err := lab.Do(lab.DropIKE); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	wait("SARekeyFailed", true, 90*time.Second)
	e.say("IKE is allowed again; charon starts the tunnels anew.")
	lab.Restore()
	pause(10 * time.Second)
	e.summary(swanScenario)
	if o.KeepRunning {
		fmt.Fprintf(o.Out, "\n--keep-running: the daemons and vpnwatchd keep running; status page %s/, metrics %s/metrics. Ctrl-C to stop.\n", e.metrics, e.metrics)
		<-ctx.Done()
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
