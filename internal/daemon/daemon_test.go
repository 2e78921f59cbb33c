package daemon

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"golang.org/x/crypto/bcrypt"

	"github.com/vpnwatchd/vpnwatchd/internal/aws/ec2sim"
	"github.com/vpnwatchd/vpnwatchd/internal/rtx/rtxsim"
	"github.com/vpnwatchd/vpnwatchd/internal/testenv"
)

// recorder is a Notifier that keeps what it was told.
type recorder struct {
	mu     sync.Mutex
	states []string
}

func (r *recorder) Notify(s string) {
	r.mu.Lock()
	r.states = append(r.states, s)
	r.mu.Unlock()
}

func (r *recorder) has(prefix string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.states {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

func writeConfig(t testing.TB, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func minimalConfig(dir, poll string) string {
	return fmt.Sprintf("global:\n  poll_interval: %s\n  state_dir: %s\n", poll, filepath.Join(dir, "state"))
}

// start runs a daemon on a loopback port until the test ends.
func start(t testing.TB, opts Options) (*Daemon, string) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = zaptest.NewLogger(t)
	}
	if len(opts.ListenAddresses) == 0 {
		opts.ListenAddresses = []string{"127.0.0.1:0"}
	}
	d, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return d, d.Addrs()[0].String()
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func waitReady(t *testing.T, c *http.Client, base string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if code, _ := get(t, c, base+"/-/ready"); code == http.StatusOK {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("daemon never became ready")
}

func metricValue(t *testing.T, body, name string) string {
	t.Helper()
	for _, line := range strings.Split(body, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == name {
			return f[1]
		}
	}
	t.Fatalf("metric %s not in /metrics output", name)
	return ""
}

func TestReloadKeepsOldConfigOnError(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "vpnwatchd.yaml")
	writeConfig(t, cfgFile, minimalConfig(dir, "30s"))
	d, addr := start(t, Options{ConfigFile: cfgFile, EnableLifecycle: true})
	base := "http://" + addr
	waitReady(t, http.DefaultClient, base)

	post := func() (int, string) {
		resp, err := http.Post(base+"/-/reload", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	writeConfig(t, cfgFile, "global:\n  poll_interval: soon\n")
	code, body := post()
	if code != http.StatusInternalServerError || !strings.Contains(body, "vpnwatchd.yaml:2: global.poll_interval") {
		t.Errorf("reload of a bad config: %d %q, want 500 naming file:line:key", code, body)
	}
	if got := d.Config().Global.PollInterval; got != 30*time.Second {
		t.Errorf("poll interval after failed reload = %s, want the old 30s", got)
	}
	_, m := get(t, http.DefaultClient, base+"/metrics")
	if v := metricValue(t, m, "vpnwatch_config_last_reload_successful"); v != "0" {
		t.Errorf("vpnwatch_config_last_reload_successful = %s after a failed reload, want 0", v)
	}

	writeConfig(t, cfgFile, minimalConfig(dir, "45s"))
	if code, body := post(); code != http.StatusOK {
		t.Fatalf("reload of a good config: %d %q", code, body)
	}
	if got := d.Config().Global.PollInterval; got != 45*time.Second {
		t.Errorf("poll interval after reload = %s, want 45s", got)
	}
	_, m = get(t, http.DefaultClient, base+"/metrics")
	if v := metricValue(t, m, "vpnwatch_config_last_reload_successful"); v != "1" {
		t.Errorf("vpnwatch_config_last_reload_successful = %s, want 1", v)
	}
	if v := metricValue(t, m, "vpnwatch_config_last_reload_success_timestamp_seconds"); v == "0" {
		t.Error("reload success timestamp not set")
	}
	if resp, err := http.Get(base + "/-/reload"); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /-/reload: %v %v, want 405", resp.StatusCode, err)
	}
}

// Reloading over HTTP is off unless --web.enable-lifecycle, as in
// Prometheus: anyone who can reach the port could otherwise make the daemon
// re-read its files.
func TestReloadOverHTTPNeedsLifecycleFlag(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "vpnwatchd.yaml")
	writeConfig(t, cfgFile, minimalConfig(dir, "30s"))
	d, addr := start(t, Options{ConfigFile: cfgFile})
	waitReady(t, http.DefaultClient, "http://"+addr)
	writeConfig(t, cfgFile, minimalConfig(dir, "45s"))
	resp, err := http.Post("http://"+addr+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "--web.enable-lifecycle") {
		t.Errorf("reload without the flag: %d %s", resp.StatusCode, b)
	}
	if got := d.Config().Global.PollInterval; got != 30*time.Second {
		t.Errorf("reloaded anyway: %s", got)
	}
}

// TestSystemdNotify points NOTIFY_SOCKET at a datagram socket, as systemd
// does for Type=notify, and reads what the daemon says there.
func TestSystemdNotify(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "200000")
	cfgFile := filepath.Join(dir, "vpnwatchd.yaml")
	writeConfig(t, cfgFile, minimalConfig(dir, "1s"))
	start(t, Options{ConfigFile: cfgFile})

	want := map[string]bool{"READY=1": false, "WATCHDOG=1": false, "STATUS=cycle ": false, "RELOADING=1": false}
	sentHUP := false
	buf := make([]byte, 4096)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		conn.SetReadDeadline(deadline)
		n, err := conn.Read(buf)
		if err != nil {
			break
		}
		for _, line := range strings.Split(string(buf[:n]), "\n") {
			for prefix := range want {
				if strings.HasPrefix(line, prefix) {
					want[prefix] = true
				}
			}
		}
		if want["READY=1"] && !sentHUP {
			// SIGHUP reloads: systemd hears RELOADING=1, then READY=1 again.
			sentHUP = true
			syscall.Kill(os.Getpid(), syscall.SIGHUP)
		}
		done := true
		for _, ok := range want {
			done = done && ok
		}
		if done {
			return
		}
	}
	t.Errorf("notifications received: %v", want)
}

func TestStateDirNotWritable(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	writeConfig(t, blocker, "")
	cfgFile := filepath.Join(dir, "vpnwatchd.yaml")
	writeConfig(t, cfgFile, fmt.Sprintf("global:\n  state_dir: %s/sub\n", blocker))
	_, err := New(Options{ConfigFile: cfgFile, ListenAddresses: []string{"127.0.0.1:0"}})
	if err == nil || !strings.Contains(err.Error(), "state directory "+blocker+"/sub") {
		t.Fatalf("New with an unusable state dir: %v", err)
	}
}

func TestStateDirCreated(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "vpnwatchd.yaml")
	writeConfig(t, cfgFile, minimalConfig(dir, "30s"))
	d, err := New(Options{ConfigFile: cfgFile, ListenAddresses: []string{"127.0.0.1:0"}})
	if err != nil {
		t.Fatal(err)
	}
	d.closeListeners()
	if st, err := os.Stat(filepath.Join(dir, "state")); err != nil || !st.IsDir() {
		t.Errorf("state dir not created: %v", err)
	}
}

func TestReadyAfterFirstCycle(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "vpnwatchd.yaml")
	writeConfig(t, cfgFile, minimalConfig(dir, "30s"))
	rec := &recorder{}
	d, err := New(Options{ConfigFile: cfgFile, ListenAddresses: []string{"127.0.0.1:0"}, Notifier: rec})
	if err != nil {
		t.Fatal(err)
	}
	defer d.closeListeners()
	srv := &http.Server{Handler: d.http}
	go srv.Serve(d.listeners[0])
	defer srv.Close()
	base := "http://" + d.Addrs()[0].String()
	if code, _ := get(t, http.DefaultClient, base+"/-/ready"); code != http.StatusServiceUnavailable {
		t.Errorf("/-/ready before any cycle = %d, want 503", code)
	}
	if code, body := get(t, http.DefaultClient, base+"/-/healthy"); code != http.StatusOK || body != "Healthy\n" {
		t.Errorf("/-/healthy = %d %q", code, body)
	}
	d.cycle(context.Background())
	if code, _ := get(t, http.DefaultClient, base+"/-/ready"); code != http.StatusOK {
		t.Errorf("/-/ready after a cycle = %d, want 200", code)
	}
	if !rec.has("STATUS=cycle 1 done") {
		t.Errorf("no STATUS= after the first cycle: %q", rec.states)
	}
	if code, body := get(t, http.DefaultClient, base+"/"); code != http.StatusOK || !strings.Contains(body, `href="/metrics"`) || strings.Contains(body, "/debug/pprof") {
		t.Errorf("landing page = %d, lacks the metrics link:\n%s", code, body)
	}
}

// TestMetricsOverTLSWithBasicAuth serves /metrics with a web config file
// holding a certificate and a bcrypt-hashed user, as operators set it up.
func TestMetricsOverTLSWithBasicAuth(t *testing.T) {
	dir := t.TempDir()
	cert := testenv.SelfSigned(t)
	certPEM, keyPEM := cert.CertPEM, cert.KeyPEM
	writeConfig(t, filepath.Join(dir, "tls.crt"), string(certPEM))
	writeConfig(t, filepath.Join(dir, "tls.key"), string(keyPEM))
	hash, err := bcrypt.GenerateFromPassword([]byte("scrape-pass"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webCfg := filepath.Join(dir, "web.yaml")
	writeConfig(t, webCfg, fmt.Sprintf("tls_server_config:\n  cert_file: %s/tls.crt\n  key_file: %s/tls.key\nbasic_auth_users:\n  prometheus: %s\n", dir, dir, hash))
	cfgFile := filepath.Join(dir, "vpnwatchd.yaml")
	writeConfig(t, cfgFile, minimalConfig(dir, "30s"))
	_, addr := start(t, Options{ConfigFile: cfgFile, WebConfigFile: webCfg})

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	url := "https://" + addr + "/metrics"

	if code, _ := get(t, client, url); code != http.StatusUnauthorized {
		t.Errorf("no credentials: %d, want 401", code)
	}
	req, _ := http.NewRequest("GET", url, nil)
	req.SetBasicAuth("prometheus", "wrong")
	if resp, err := client.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong password: %v %v, want 401", resp.StatusCode, err)
	}
	req.SetBasicAuth("prometheus", "scrape-pass")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "vpnwatch_build_info{") {
		t.Errorf("with credentials: %d, body lacks vpnwatch_build_info", resp.StatusCode)
	}
	if _, err := http.Get("http://" + addr + "/metrics"); err == nil {
		// Plain HTTP to a TLS port gets a 400 from net/http, not metrics.
		if code, body := get(t, http.DefaultClient, "http://"+addr+"/metrics"); code == http.StatusOK {
			t.Errorf("plain HTTP served metrics: %s", body[:min(len(body), 80)])
		}
	}
}

func TestBadWebConfigFailsAtStart(t *testing.T) {
	dir := t.TempDir()
	webCfg := filepath.Join(dir, "web.yaml")
	writeConfig(t, webCfg, "tls_server_config:\n  cert_file: /nonexistent.crt\n")
	cfgFile := filepath.Join(dir, "vpnwatchd.yaml")
	writeConfig(t, cfgFile, minimalConfig(dir, "30s"))
	_, err := New(Options{ConfigFile: cfgFile, WebConfigFile: webCfg, ListenAddresses: []string{"127.0.0.1:0"}})
	if err == nil || !strings.Contains(err.Error(), "--web.config.file") {
		t.Fatalf("New with a bad web config: %v", err)
	}
}

// simDaemon runs a daemon polling ec2sim and rtxsim (tunnel 1 of the seed
// incident's first stage) and returns its HTTP address once ready.
func simDaemon(t *testing.T) string {
	t.Helper()
	return simDaemonWith(t, "")
}

// simDaemonWith is simDaemon with more configuration appended.
func simDaemonWith(t *testing.T, extra string) string {
	t.Helper()
	return simDaemonRouter(t, extra, nil)
}

// simDaemonRouter is simDaemonWith with the router changed by setup (when
// not nil) before the daemon starts.
func simDaemonRouter(t *testing.T, extra string, setup func(*rtxsim.Router)) string {
	t.Helper()
	sim, url := ec2sim.Start(t, nil)
	sim.Update("ap-northeast-1", func(r *ec2sim.Region) {
		r.CustomerGateways = []*ec2sim.CustomerGateway{{ID: "cgw-1", IP: "198.51.100.7", BGPASN: "65000"}}
		r.VPNConnections = []*ec2sim.VPNConnection{{ID: "vpn-0a1b2c3d4e5f67890", CustomerGatewayID: "cgw-1", VPNGatewayID: "vgw-1",
			Tags: map[string]string{"Name": "osaka-office"},
			Tunnels: []*ec2sim.Tunnel{
				{OutsideIP: "203.0.113.10", Status: "DOWN", StatusMessage: "IPSEC IS UP"},
				{OutsideIP: "203.0.113.20", Status: "UP", StatusMessage: "2 BGP ROUTES", AcceptedRoutes: 2},
			}}}
	})
	router := rtxsim.New("RTX1200 Rev.10.01.65", "tunnel select 1\n ipsec tunnel 201\n  ipsec sa policy 201 1 esp aes-cbc sha-hmac\n  ipsec ike remote address 1 203.0.113.10\n ip tunnel remote address 169.254.10.1\n ip tunnel tcp mss limit 1379\n tunnel enable 1\n", nil)
	router.AddTunnel(rtxsim.Tunnel{Number: 1, Remote: "203.0.113.10", Neighbor: "169.254.10.1", RemoteAS: "64512", Routes: []string{"10.0.0.0/16"}})
	if setup != nil {
		setup(router)
	}
	srv, knownHosts := rtxsim.Start(t, router, "monitor", "rtx-pass")
	dir := t.TempDir()
	writeConfig(t, filepath.Join(dir, "rtx.password"), "rtx-pass\n")
	cfgFile := filepath.Join(dir, "vpnwatchd.yaml")
	writeConfig(t, cfgFile, minimalConfig(dir, "30s")+fmt.Sprintf("aws:\n  - name: prod\n    regions: [ap-northeast-1]\n    endpoint: %s\n", url)+
		fmt.Sprintf("routers:\n  - name: osaka\n    address: %s\n    user: monitor\n    password_file: rtx.password\n    known_hosts: %s\n", srv.Addr(), knownHosts)+extra)
	_, addr := start(t, Options{ConfigFile: cfgFile})
	waitReady(t, http.DefaultClient, "http://"+addr)
	return addr
}

// TestPromtoolCheckMetrics runs the real promtool over /metrics of a daemon
// polling the EC2 simulator through the real SDK.
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool := testenv.Binary(t, "promtool")
	hook := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer hook.Close()
	// Every family: a probe (to this host over loopback), syslog and a
	// notification receiver too.
	addr := simDaemonWith(t, "probes:\n  - name: loopback\n    target: 127.0.0.1\n    path: wan\n    interval: 1m\n"+
		"syslog:\n  listen: 127.0.0.1:0\n"+
		"rules:\n  BGPDownIPsecUp: {hold: 0s}\n"+
		"alerting:\n  group_wait: 0s\n  webhook:\n    - url: "+hook.URL+"\n")
	var body string
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, body = get(t, http.DefaultClient, "http://"+addr+"/metrics")
		if strings.Contains(body, "vpnwatch_probe_path_mtu_bytes{") && regexp.MustCompile(`vpnwatch_notifications_total\{integration="webhook"\} [1-9]`).MatchString(body) || time.Now().After(deadline) {
			break
		}
	}
	for _, fam := range []string{"vpnwatch_probe_up", "vpnwatch_probe_path_mtu_bytes", "vpnwatch_probe_black_hole", "vpnwatch_syslog_dropped_total",
		"vpnwatch_notifications_total", "vpnwatch_notification_queue_length", "vpnwatch_finding_active", "vpnwatch_state_writable",
		"vpnwatch_rtx_tunnel_receive_bytes_total", "vpnwatch_rtx_tunnel_transmit_packets_total", "vpnwatch_rtx_tunnel_installed_routes"} {
		if !strings.Contains(body, "\n"+fam+"{") && !strings.Contains(body, "\n"+fam+" ") {
			t.Errorf("/metrics lacks the family %s", fam)
		}
	}
	for _, name := range []string{"vpnwatch_build_info{", "vpnwatch_config_last_reload_successful ", "go_goroutines ", "process_resident_memory_bytes ", "vpnwatch_cycle_duration_seconds_count ",
		`vpnwatch_source_up{region="ap-northeast-1",router="",source="prod",type="aws"} 1`,
		`vpnwatch_aws_tunnel_up{outside_ip="203.0.113.10",region="ap-northeast-1",source="prod",vpn_connection_id="vpn-0a1b2c3d4e5f67890",vpn_name="osaka-office"} 0`,
		`vpnwatch_aws_tunnel_ipsec_up{outside_ip="203.0.113.10",region="ap-northeast-1",source="prod",vpn_connection_id="vpn-0a1b2c3d4e5f67890",vpn_name="osaka-office"} 1`,
		`vpnwatch_aws_tunnel_accepted_routes{outside_ip="203.0.113.20",region="ap-northeast-1",source="prod",vpn_connection_id="vpn-0a1b2c3d4e5f67890",vpn_name="osaka-office"} 2`,
		`vpnwatch_aws_api_requests_total{code="OK",operation="DescribeVpnConnections",region="ap-northeast-1",source="prod"} 1`,
		`vpnwatch_source_up{region="",router="osaka",source="",type="rtx"} 1`,
		`vpnwatch_rtx_tunnel_up{outside_ip="203.0.113.10",router="osaka",rtx_tunnel="1"} 1`,
		`vpnwatch_rtx_tunnel_mtu_bytes{router="osaka",rtx_tunnel="1"} 1280`,
		`vpnwatch_rtx_tunnel_tcp_mss_limit_bytes{router="osaka",rtx_tunnel="1"} 1379`,
		`vpnwatch_rtx_bgp_neighbor_up{neighbor="169.254.10.1",outside_ip="203.0.113.10",remote_as="64512",router="osaka",rtx_tunnel="1"} 1`,
		`vpnwatch_rtx_bgp_received_routes{router="osaka",rtx_tunnel="1"} 1`,
		`vpnwatch_rtx_ipsec_sas{direction="send",router="osaka",rtx_tunnel="1"} 1`,
		`vpnwatch_rtx_ssh_connects_total{result="ok",router="osaka"} 1`,
	} {
		if !strings.Contains(body, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out.String())
	}
}

// A router whose firmware answers received-routes with an error is
// counted in /metrics and raises no finding: the routes it received are
// unknown, not unreadable.
func TestUnsupportedCommandCounted(t *testing.T) {
	addr := simDaemonRouter(t, "", func(r *rtxsim.Router) { r.SetReceivedRoutesReply("Error: Invalid parameter") })
	want := `vpnwatch_rtx_unsupported_commands_total{command="show status bgp neighbor ADDR received-routes",router="osaka"} 1`
	var body string
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, body = get(t, http.DefaultClient, "http://"+addr+"/metrics")
		if strings.Contains(body, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, "vpnwatch_rtx_unreadable_lines{") || strings.Contains(body, "vpnwatch_rtx_bgp_received_routes{") {
		t.Errorf("an error reply read as unreadable lines or as a route count:\n%s", body)
	}
	if _, st := get(t, http.DefaultClient, "http://"+addr+"/api/v1/status"); strings.Contains(st, "RouterOutputUnreadable") {
		t.Errorf("status has RouterOutputUnreadable:\n%s", st)
	}
}

// TestRealPrometheusScrapes has the real prometheus binary scrape a running
// vpnwatchd and answer a query about the tunnels.
func TestRealPrometheusScrapes(t *testing.T) {
	bin := testenv.Binary(t, "prometheus")
	addr := simDaemon(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	writeConfig(t, cfg, fmt.Sprintf("scrape_configs:\n  - job_name: vpnwatchd\n    scrape_interval: 1s\n    static_configs:\n      - targets: [%q]\n", addr))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	promAddr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+promAddr)
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	query := "http://" + promAddr + "/api/v1/query?query=vpnwatch_aws_tunnel_up"
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(query)
		if err == nil {
			var r struct {
				Status string
				Data   struct {
					Result []struct {
						Metric map[string]string
						Value  []any
					}
				}
			}
			json.NewDecoder(resp.Body).Decode(&r)
			resp.Body.Close()
			if r.Status == "success" && len(r.Data.Result) == 2 {
				for _, s := range r.Data.Result {
					want := map[string]string{"203.0.113.10": "0", "203.0.113.20": "1"}[s.Metric["outside_ip"]]
					if s.Metric["job"] != "vpnwatchd" || s.Value[1] != want {
						t.Errorf("series %v = %v, want %s", s.Metric, s.Value, want)
					}
				}
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("prometheus never returned the two tunnel series\n%s", logs.String())
}

// /-/healthy fails when the main loop has not completed a cycle for three
// poll intervals (at least two minutes): a loop stuck on a hung mount or a
// wedged cycle is not "healthy" while the watchdog is what restarts it.
func TestHealthyFailsWhenLoopIsStuck(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "vpnwatchd.yaml")
	writeConfig(t, cfg, minimalConfig(dir, "1h")) // no second cycle during the test
	d, addr := start(t, Options{ConfigFile: cfg})
	waitReady(t, http.DefaultClient, "http://"+addr)
	if code, _ := get(t, http.DefaultClient, "http://"+addr+"/-/healthy"); code != http.StatusOK {
		t.Fatalf("healthy: %d", code)
	}
	// As if the last cycle ended 4 hours ago (3 intervals is the limit).
	d.lastCycle.Store(time.Now().Add(-4 * time.Hour).UnixNano())
	code, body := get(t, http.DefaultClient, "http://"+addr+"/-/healthy")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "no poll cycle completed for 4h0m0s") {
		t.Errorf("stuck loop: %d %s", code, body)
	}
}
