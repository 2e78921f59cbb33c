package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/testenv"
)

// scrape fetches /metrics from inside network namespace ns: the dial runs
// on the namespace's thread.
func scrape(t *testing.T, ns, addr string) string {
	t.Helper()
	var body string
	testenv.InNetns(t, ns, func() {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /metrics HTTP/1.0\r\nHost: %s\r\n\r\n", addr)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, _ := io.ReadAll(bufio.NewReader(c))
		body = string(b)
	})
	return body
}

// The daemon, run inside the client namespace, probes through the router
// on its own interval and exports the path MTU.
func TestDaemonRunsProbes(t *testing.T) {
	tp := testenv.NewTopology(t, testenv.TopoOptions{MTU: 1300, Unpriv: true})
	dir := t.TempDir()
	cfg := filepath.Join(dir, "vpnwatchd.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("global:\n  state_dir: %s/state\nprobes:\n  - name: vpc\n    target: %s\n    interval: 2s\n", dir, testenv.ServerV4)), 0o600)
	const addr = "127.0.0.1:10123" // a fresh namespace: the port is free
	cmd := exec.Command("ip", "netns", "exec", tp.Client, os.Args[0], "run", "--config.file", cfg, "--web.listen-address", addr)
	cmd.Env = append(os.Environ(), "VPNWATCHD_MAIN=1")
	var logs strings.Builder
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
		}
	}
	defer stop()
	want := `vpnwatch_probe_path_mtu_bytes{path="tunnel",probe="vpc",target="198.18.2.2"} 1300`
	deadline := time.Now().Add(20 * time.Second)
	var body string
	for time.Now().Before(deadline) {
		body = scrape(t, tp.Client, addr)
		if strings.Contains(body, want) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	stop() // the logs are complete (and no longer written) once it has exited
	if !strings.Contains(body, want) || !strings.Contains(body, `vpnwatch_probe_icmp_frag_needed_seen{path="tunnel",probe="vpc",target="198.18.2.2"} 1`) {
		t.Fatalf("metrics lack the probe result:\n%s\nlogs:\n%s", body, logs.String())
	}
	if !strings.Contains(logs.String(), "path MTU measured") {
		t.Errorf("no log line for the measurement:\n%s", logs.String())
	}
}

// What the packaged probes.conf drop-in grants is what a probe needs: an
// unprivileged user with no unprivileged ICMP (the namespace's
// ping_group_range is off) cannot probe, and can with CAP_NET_RAW as an
// ambient capability, as systemd's AmbientCapabilities=CAP_NET_RAW gives it.
func TestProbeNeedsWhatTheDropInGrants(t *testing.T) {
	setpriv := testenv.Binary(t, "setpriv")
	tp := testenv.NewTopology(t, testenv.TopoOptions{MTU: 1300})
	exe := filepath.Join(t.TempDir(), "vpnwatchd")
	b, _ := os.ReadFile(os.Args[0])
	if err := os.WriteFile(exe, b, 0o755); err != nil { // readable by the unprivileged user
		t.Fatal(err)
	}
	os.Chmod(filepath.Dir(exe), 0o755)
	probe := func(caps ...string) (string, error) {
		args := append([]string{"netns", "exec", tp.Client, setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"}, caps...)
		args = append(args, exe, "probe", "mtu", "--timeout", "300ms", testenv.ServerV4)
		cmd := exec.Command("ip", args...)
		cmd.Env = append(os.Environ(), "VPNWATCHD_MAIN=1")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := probe(); err == nil {
		t.Errorf("probed without CAP_NET_RAW or unprivileged ICMP:\n%s", out)
	} else if !strings.Contains(out, "CAP_NET_RAW") {
		t.Errorf("the error does not say what is missing:\n%s", out)
	}
	out, err := probe("--inh-caps=+net_raw", "--ambient-caps=+net_raw")
	if err != nil || !strings.Contains(out, "path MTU 1300") {
		t.Errorf("with CAP_NET_RAW (the drop-in): %v\n%s", err, out)
	}
}
