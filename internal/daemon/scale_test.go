package daemon

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/vpnwatchd/vpnwatchd/internal/aws/ec2sim"
	"github.com/vpnwatchd/vpnwatchd/internal/rtx/rtxsim"
)

// BenchmarkScale runs one daemon against 1,000 VPN connections in 10
// regions (ec2sim) and 200 routers with 10 tunnels each (200 rtxsim SSH
// servers on loopback), one poll cycle per iteration, and reports cycle
// time, AWS calls and SSH logins per cycle, CPU per cycle, memory,
// goroutines and the size and render time of /metrics of the daemon alone
// (the simulators run in a child process).
//
//	go test -run='^$' -bench=Scale -benchtime=5x ./internal/daemon
func BenchmarkScale(b *testing.B) { benchmarkScale(b, false) }

// BenchmarkScaleWithLogs is BenchmarkScale with AWS's tunnel logs on: every
// tunnel logs to its region's log group (one per region, as AWS suggests),
// which holds an IKE and a BGP record per tunnel, all inside the reader's
// overlap window, so every cycle reads and de-duplicates them all again.
func BenchmarkScaleWithLogs(b *testing.B) { benchmarkScale(b, true) }

func benchmarkScale(b *testing.B, logs bool) {
	// The SDK must find the simulator's keys, never an instance metadata
	// service.
	for k, v := range ec2sim.Env {
		b.Setenv(k, v)
	}
	// The simulators run in a child process (this test binary again), so
	// that RSS, CPU and goroutines measured here are the daemon's alone.
	child := exec.Command(os.Args[0], "-test.run=^TestMain$")
	child.Env = append(os.Environ(), "VPNWATCHD_SCALE_SIMS=1")
	if logs {
		child.Env = append(child.Env, "VPNWATCHD_SCALE_LOGS=1")
	}
	stdin, _ := child.StdinPipe()
	stdout, _ := child.StdoutPipe()
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { stdin.Close(); child.Wait() }()
	lines := bufio.NewScanner(stdout)
	ask := func(q string) string {
		fmt.Fprintln(stdin, q)
		if !lines.Scan() {
			b.Fatalf("simulator process: no answer to %q", q)
		}
		return lines.Text()
	}
	cfgFile := ask("config")
	var logCalls int
	counts := func() (aws, logins int) {
		fmt.Sscanf(ask("counts"), "%d %d %d", &aws, &logins, &logCalls)
		return
	}
	// As `vpnwatchd run` does (GOGC in the environment overrides it).
	b.Logf("GOGC %d", TuneRuntime())
	if os.Getenv("VPNWATCHD_SCALE_HEAPPROFILE") != "" {
		runtime.MemProfileRate = 1024 // finer than the default, for the profile
	}
	d, err := New(Options{ConfigFile: cfgFile, ListenAddresses: []string{"127.0.0.1:0"}, Logger: zap.NewNop(), Notifier: &recorder{}})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	defer d.closeListeners()
	// Cycles run back to back here, 30 s apart in the daemon: one memory
	// release per cycle, as there.
	d.mem.gap = 0
	quiet := d.mem.wait // for the release a cycle or scrape started
	ctx := context.Background()
	d.cycle(ctx) // logins, first `show config`
	quiet()
	awsBefore, loginsBefore := counts()
	logCallsBefore := logCalls
	var durations []time.Duration
	var ru0, ru1 syscall.Rusage
	var msCycles0, msCycles1 runtime.MemStats
	runtime.ReadMemStats(&msCycles0)
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	for b.Loop() {
		start := time.Now()
		d.cycle(ctx)
		durations = append(durations, time.Since(start))
		quiet()
	}
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	runtime.ReadMemStats(&msCycles1)
	rssAfterCycles, rssAnon, rssFile := procStatusKiB("VmRSS"), procStatusKiB("RssAnon"), procStatusKiB("RssFile")
	cycles := len(durations)
	awsAfter, logins := counts()
	awsCalls := awsAfter - awsBefore
	awsSnaps, gwSnaps := d.main.latest.snapshots(d.Config())
	for _, s := range awsSnaps {
		if s.Err != nil {
			b.Fatal(s.Err)
		}
	}
	for _, s := range gwSnaps {
		if s.Err != nil {
			b.Fatal(s.Err)
		}
	}
	sort.Slice(durations, func(i, j int) bool { return durations[i] < durations[j] })
	cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) / time.Duration(cycles)
	// One scrape as Prometheus makes it (gzip), through the daemon's
	// handler, after a first one: Prometheus scrapes again and again, and
	// the first fills the pool of compressors.
	warm := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	warm.Header.Set("Accept-Encoding", "gzip")
	d.handler().ServeHTTP(httptest.NewRecorder(), warm)
	quiet()
	var msBefore runtime.MemStats
	runtime.ReadMemStats(&msBefore)
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	renderStart := time.Now()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	d.handler().ServeHTTP(rec, req)
	render := time.Since(renderStart)
	var msAfter runtime.MemStats
	runtime.ReadMemStats(&msAfter)
	rssDuringScrape := procStatusKiB("VmRSS")
	quiet()
	rssAfterScrape := procStatusKiB("VmRSS")
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	scrapeCPU := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	gzipped := rec.Body.Len()
	zr, err := gzip.NewReader(rec.Body)
	if err != nil {
		b.Fatalf("/metrics: %d, not gzip: %v", rec.Code, err)
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, zr); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(durations[cycles/2].Milliseconds()), "p50-cycle-ms")
	b.ReportMetric(float64(durations[cycles*99/100].Milliseconds()), "p99-cycle-ms")
	b.ReportMetric(float64(awsCalls)/float64(cycles), "aws-calls/cycle")
	if logs {
		b.ReportMetric(float64(logCalls-logCallsBefore)/float64(cycles), "log-calls/cycle")
		events := 0
		for _, s := range awsSnaps {
			for _, c := range s.Connections {
				for _, t := range c.Tunnels {
					events += len(t.LogEvents)
				}
			}
		}
		if events == 0 {
			b.Fatal("no AWS log events read")
		}
		b.ReportMetric(float64(events), "log-events-kept")
	}
	b.ReportMetric(float64(logins-loginsBefore), "ssh-relogins")
	b.ReportMetric(float64(cpu.Milliseconds()), "cpu-ms/cycle")
	b.ReportMetric(float64(msCycles1.TotalAlloc-msCycles0.TotalAlloc)/float64(cycles)/(1<<20), "alloc-MiB/cycle")
	b.ReportMetric(float64(cpu)/float64(30*time.Second)*100, "cpu-%-at-30s")
	// Between cycles (after the release), as most of a 30 s interval.
	b.ReportMetric(float64(rssAfterCycles)/1024, "rss-MiB")
	b.ReportMetric(float64(rssAnon)/1024, "rss-anon-MiB") // heap, stacks, runtime
	b.ReportMetric(float64(rssFile)/1024, "rss-file-MiB") // pages of the binary
	b.ReportMetric(float64(rssDuringScrape)/1024, "rss-scrape-MiB")
	b.ReportMetric(float64(rssAfterScrape)/1024, "rss-after-scrape-MiB")
	b.ReportMetric(float64(procStatusKiB("VmHWM"))/1024, "rss-peak-MiB")
	b.ReportMetric(float64(scrapeCPU.Milliseconds()), "scrape-cpu-ms")
	b.ReportMetric(float64(gzipped)/1024, "metrics-gzip-KiB")
	metricsSize := buf.Len()
	buf, rec = bytes.Buffer{}, nil // the benchmark's copies, not the daemon's memory
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	// VPNWATCHD_SCALE_HEAPPROFILE=FILE writes what is live now, for
	// go tool pprof -sample_index=inuse_space.
	if f := os.Getenv("VPNWATCHD_SCALE_HEAPPROFILE"); f != "" {
		if w, err := os.Create(f); err == nil {
			pprof.WriteHeapProfile(w)
			w.Close()
		}
	}
	if os.Getenv("VPNWATCHD_SCALE_MEMCLASSES") != "" {
		var samples []metrics.Sample
		for _, d := range metrics.All() {
			if strings.HasPrefix(d.Name, "/memory/classes/") || strings.HasPrefix(d.Name, "/gc/heap/goal") {
				samples = append(samples, metrics.Sample{Name: d.Name})
			}
		}
		metrics.Read(samples)
		for _, s := range samples {
			fmt.Fprintf(os.Stderr, "%-50s %8.2f MiB\n", s.Name, float64(s.Value.Uint64())/(1<<20))
		}
	}
	b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "live-heap-MiB")
	b.ReportMetric(float64(ms.StackInuse)/(1<<20), "stacks-MiB")
	b.ReportMetric(float64(runtime.NumGoroutine()), "goroutines")
	b.ReportMetric(float64(metricsSize)/1024, "metrics-KiB")
	b.ReportMetric(float64(render.Milliseconds()), "metrics-render-ms")
	b.ReportMetric(float64(msAfter.TotalAlloc-msBefore.TotalAlloc)/(1<<20), "metrics-alloc-MiB")
}

// procStatusKiB reads a kB field of /proc/self/status (VmRSS, RssAnon, …).
func procStatusKiB(field string) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			var n int
			fmt.Sscanf(strings.TrimSpace(v), "%d", &n)
			return n
		}
	}
	return 0
}

// TestMain doubles as the simulator process of BenchmarkScale.
func TestMain(m *testing.M) {
	if os.Getenv("VPNWATCHD_SCALE_SIMS") == "1" {
		runScaleSims()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runScaleSims serves ec2sim and 200 rtxsim routers and answers the
// benchmark on stdin/stdout: "config" → the config file path, "counts" →
// EC2 calls and SSH logins so far. It ends when stdin closes.
func runScaleSims() {
	const regions, vpnsPerRegion, routers, tunnelsPerRouter = 10, 100, 200, 10
	regionNames := []string{"ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-southeast-1", "ap-southeast-2", "us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1"}
	sim := ec2sim.New(nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go (&http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}).Serve(ln)
	url := "http://" + ln.Addr().String()
	logs := os.Getenv("VPNWATCHD_SCALE_LOGS") == "1"
	ip := func(i int) string { return fmt.Sprintf("203.%d.%d.%d", i/65536, (i/256)%256, i%256) }
	tunnel := 0
	for r := range regions {
		sim.Update(regionNames[r], func(reg *ec2sim.Region) {
			for v := range vpnsPerRegion {
				id := r*vpnsPerRegion + v
				cgw := fmt.Sprintf("cgw-%017x", id)
				reg.CustomerGateways = append(reg.CustomerGateways, &ec2sim.CustomerGateway{ID: cgw, IP: "198.18.0.2", BGPASN: "65000"})
				group := ""
				if logs {
					group = fmt.Sprintf("arn:aws:logs:%s:111122223333:log-group:/aws/vpn/scale:*", regionNames[r])
				}
				reg.VPNConnections = append(reg.VPNConnections, &ec2sim.VPNConnection{ID: fmt.Sprintf("vpn-%017x", id), CustomerGatewayID: cgw, VPNGatewayID: "vgw-1",
					Tunnels: []*ec2sim.Tunnel{
						{OutsideIP: ip(2 * id), InsideCIDR: "169.254.10.0/30", Status: "UP", StatusMessage: "1 BGP ROUTES", AcceptedRoutes: 1, Phase2LifetimeSeconds: 3600, Phase1LifetimeSeconds: 28800, LogGroup: group, BGPLogGroup: group},
						{OutsideIP: ip(2*id + 1), InsideCIDR: "169.254.20.0/30", Status: "UP", StatusMessage: "1 BGP ROUTES", AcceptedRoutes: 1, Phase2LifetimeSeconds: 3600, Phase1LifetimeSeconds: 28800, LogGroup: group, BGPLogGroup: group},
					}})
			}
		})
	}
	if logs {
		// An IKE and a BGP record per tunnel, a minute old: inside the
		// reader's overlap, so every cycle reads them all again.
		at := time.Now().Add(-time.Minute)
		for r := range regions {
			for v := range vpnsPerRegion {
				id := r*vpnsPerRegion + v
				for _, oip := range []string{ip(2 * id), ip(2*id + 1)} {
					vpn := fmt.Sprintf("vpn-%017x", id)
					sim.LogTunnelActivity(regionNames[r], vpn, oip, at, ec2sim.TunnelActivity{Details: "AWS tunnel is sending response (id=7) for CREATE_CHILD_SA", Phase1: "Established", Phase2: "Established", DPDEnabled: true})
					sim.LogBGPStatus(regionNames[r], vpn, oip, at, "UP", "AWS-side peer sent an End-of-RIB message to neighbor 169.254.10.2")
				}
			}
		}
	}
	dir, err := os.MkdirTemp("", "vpnwatchd-scale-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "rtx.password"), []byte("rtx-pass\n"), 0o600)
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "global:\n  poll_interval: 30s\n  state_dir: %s/state\naws:\n  - name: prod\n    regions: [%s]\n    endpoint: %s\nrouters:\n",
		dir, strings.Join(regionNames, ", "), url)
	var servers []*rtxsim.Server
	for r := range routers {
		var rc strings.Builder
		var tunnels []rtxsim.Tunnel
		for n := 1; n <= tunnelsPerRouter; n++ {
			remote := ip(tunnel)
			tunnel++
			fmt.Fprintf(&rc, "tunnel select %d\n ipsec tunnel %d\n  ipsec sa policy %d %d esp aes-cbc sha-hmac\n  ipsec ike duration ipsec-sa %d 3600\n  ipsec ike keepalive use %d on dpd 10 3\n  ipsec ike local address %d 198.18.0.2\n  ipsec ike remote address %d %s\n ip tunnel remote address 169.254.%d.1\n ip tunnel tcp mss limit auto\n tunnel enable %d\n",
				n, 200+n, 200+n, n, n, n, n, n, remote, n, n)
			tunnels = append(tunnels, rtxsim.Tunnel{Number: n, Remote: remote, Neighbor: fmt.Sprintf("169.254.%d.1", n), RemoteAS: "64512", Routes: []string{fmt.Sprintf("10.%d.0.0/16", n)}})
		}
		router := rtxsim.New("RTX1210 Rev.14.01.42", rc.String(), nil)
		for _, t := range tunnels {
			router.AddTunnel(t)
		}
		key, err := rtxsim.NewHostKey()
		if err != nil {
			panic(err)
		}
		srv, err := rtxsim.Listen("127.0.0.1:0", router, key, "monitor", "rtx-pass")
		if err != nil {
			panic(err)
		}
		kh := filepath.Join(dir, fmt.Sprintf("known_hosts.%d", r))
		os.WriteFile(kh, []byte(knownhosts.Line([]string{knownhosts.Normalize(srv.Addr())}, key.PublicKey())+"\n"), 0o600)
		servers = append(servers, srv)
		fmt.Fprintf(&cfg, "  - name: r%03d\n    address: %s\n    user: monitor\n    password_file: rtx.password\n    known_hosts: %s\n    timeout: 30s\n", r, srv.Addr(), kh)
	}
	cfgFile := filepath.Join(dir, "vpnwatchd.yaml")
	os.WriteFile(cfgFile, []byte(cfg.String()), 0o600)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch in.Text() {
		case "config":
			fmt.Println(cfgFile)
		case "counts":
			logins := 0
			for _, s := range servers {
				logins += s.Logins()
			}
			fmt.Println(sim.Requests("DescribeVpnConnections", "")+sim.Requests("DescribeCustomerGateways", ""), logins, sim.Requests("FilterLogEvents", ""))
		}
	}
}
