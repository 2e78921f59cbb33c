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
