package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/vpnwatchd/vpnwatchd/internal/aws"
	"github.com/vpnwatchd/vpnwatchd/internal/aws/ec2sim"
	"github.com/vpnwatchd/vpnwatchd/internal/config"
	"github.com/vpnwatchd/vpnwatchd/internal/correlate"
	"github.com/vpnwatchd/vpnwatchd/internal/daemon"
	"github.com/vpnwatchd/vpnwatchd/internal/gateway"
	"github.com/vpnwatchd/vpnwatchd/internal/metrics"
	"github.com/vpnwatchd/vpnwatchd/internal/rtx"
	"github.com/vpnwatchd/vpnwatchd/internal/rtx/rtxsim"
	"github.com/vpnwatchd/vpnwatchd/internal/testenv"
)

// What the two vpnwatchd instances of TestGrafanaDashboardQueries watch.
const (
	watchedRegion = "ap-northeast-1"
	watchedVPN    = "vpn-0a1b2c3d4e5f67890"
	watchedRouter = "osaka"
	swanGateway   = "tokyo-swan"
	// otherKind stands for a gateway kind vpnwatchd may learn later: its
	// series are vpnwatch_gateway_* with its own kind label.
	otherKind    = "example-kind"
	otherGateway = "lab-gw"
)

// TestGrafanaDashboardQueries runs every query of the dashboard, with its
// variables replaced as Grafana replaces them, on the real prometheus
// scraping two vpnwatchd instances: a real daemon polling ec2sim and an
// rtxsim RTX (with a path-MTU probe, a finding and notifications, one
// receiver failing), and the metrics package's exporter with a strongSwan
// gateway and a gateway of another kind. A query that Prometheus refuses
// fails the test; each variable's query must offer the values watched;
// with everything picked each panel shows data; with one instance or
// gateway picked the rows of the other sides and kinds show nothing, and
// no error; and every query filters by exactly the variables whose label
// its metric has.
func TestGrafanaDashboardQueries(t *testing.T) {
	bin := testenv.Binary(t, "prometheus")
	_, d := loadDashboard(t)
	watcher := startWatcher(t)
	gateways := startGatewayExporter(t)
	prom := startPrometheus(t, bin, watcher, gateways)

	all := map[string]string{}
	for _, row := range dashboardRows {
		all[row] = "data"
	}
	scenarios := []struct {
		name string
		// pick is the value picked per variable; the others are All.
		pick map[string]string
		// rows says what each row's panels show: "data" (every panel)
		// or "nothing" (every panel); rows not named are not checked.
		rows map[string]string
	}{
		{name: "everything", rows: all},
		{name: "the RTX watcher", pick: map[string]string{"job": "vpnwatchd", "instance": watcher, "region": watchedRegion, "vpn_connection_id": watchedVPN, "gateway": watchedRouter},
			rows: map[string]string{"": "data", "AWS side": "data", "RTX routers": "data", "Path MTU probes": "data", "vpnwatchd health": "data",
				"strongSwan gateways": "nothing", "Other gateway kinds": "nothing"}},
		{name: "the strongSwan gateway", pick: map[string]string{"instance": gateways, "gateway": swanGateway},
			rows: map[string]string{"strongSwan gateways": "data", "AWS side": "nothing", "RTX routers": "nothing", "Other gateway kinds": "nothing", "Path MTU probes": "nothing"}},
		{name: "the gateway of another kind", pick: map[string]string{"instance": gateways, "gateway": otherGateway},
			rows: map[string]string{"Other gateway kinds": "data", "AWS side": "nothing", "RTX routers": "nothing", "strongSwan gateways": "nothing"}},
	}

	// The scrapes have to bring every series, and two samples of each
	// counter for rate(); until then "everything" has empty panels.
	deadline := time.Now().Add(90 * time.Second)
	for {
		problems, err := runScenario(prom, d, scenarios[0].pick, scenarios[0].rows)
		if err != nil {
			t.Fatalf("scenario %s: %v", scenarios[0].name, err)
		}
		if len(problems) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("scenario %s, after 90 s of scrapes:\n%s", scenarios[0].name, strings.Join(problems, "\n"))
		}
		time.Sleep(time.Second)
	}
	for _, sc := range scenarios[1:] {
		problems, err := runScenario(prom, d, sc.pick, sc.rows)
		if err != nil {
			t.Errorf("scenario %s: %v", sc.name, err)
		}
		for _, p := range problems {
			t.Errorf("scenario %s: %s", sc.name, p)
		}
	}

	// The labels of every series, as the exporters declare them (an
	// empty value included), and job and instance from Prometheus.
	labels := exportedLabels(t, watcher, gateways)
	check := func(where, m, matchers string) {
		have, ok := labels[m]
		if !ok {
			t.Errorf("%s: %s is exported by neither instance", where, m)
			return
		}
		for _, v := range dashboardVariables {
			filtered := strings.Contains(matchers, v.label+`=~"$`+v.name+`"`) || strings.Contains(matchers, v.label+`=~"$`+v.name+`|"`)
			switch {
			case have[v.label] && !filtered:
				t.Errorf("%s: %s has the label %s but is not filtered by $%s", where, m, v.label, v.name)
			case !have[v.label] && strings.Contains(matchers, "$"+v.name):
				t.Errorf("%s: %s is filtered by $%s, but has no label %s: picking one empties the panel", where, m, v.name, v.label)
			}
		}
	}
	for _, g := range d.groups() {
		for _, p := range g.panels {
			for _, tg := range p.Targets {
				for _, s := range selectorRE.FindAllStringSubmatch(tg.Expr, -1) {
					check(fmt.Sprintf("panel %q", p.Title), s[1], s[3])
				}
			}
		}
	}
	// A variable's query filters by the variables before it whose labels
	// the series it offers values from have, so that picking an instance
	// or a region narrows what the next ones offer.
	for i, v := range d.Templating.List[1:] {
		m := labelValuesRE.FindStringSubmatch(v.Query)
		if m == nil {
			continue // TestGrafanaDashboard says so
		}
		if !labels[m[1]][m[3]] {
			t.Errorf("variable %s: %s has no label %s", v.Name, m[1], m[3])
		}
		var series []map[string]string
		if err := promGet(prom, "/api/v1/series", url.Values{"match[]": {m[1] + `{` + m[3] + `!=""}`}}, &series); err != nil {
			t.Fatal(err)
		}
		set := map[string]bool{}
		for _, s := range series {
			for l := range s {
				set[l] = true
			}
		}
		for _, before := range dashboardVariables[:i] {
			if set[before.label] && !strings.Contains(m[2], before.label+`=~"$`+before.name+`"`) {
				t.Errorf("variable %s: the series of %s with %s have %s, but the query is not filtered by $%s", v.Name, m[1], m[3], before.label, before.name)
			}
		}
	}
}

// runScenario picks values as a user would: each variable's query is run
// with the variables before it replaced, and the value picked must be
// among those it offers. Then every panel's queries run. It returns what
// a row shows that it should not, and an error when Prometheus refuses a
// query.
func runScenario(prom string, d dashboard, pick map[string]string, rows map[string]string) ([]string, error) {
	var problems []string
	for name := range pick {
		if !slices.ContainsFunc(d.Templating.List, func(v variable) bool { return v.Name == name }) {
			problems = append(problems, fmt.Sprintf("no variable %s to pick %q in", name, pick[name]))
		}
	}
	values := map[string]string{"__rate_interval": "1m"}
	for _, v := range d.Templating.List[1:] {
		m := labelValuesRE.FindStringSubmatch(v.Query)
		if m == nil {
			return nil, fmt.Errorf("variable %s: query %q is not label_values(metric{…}, label)", v.Name, v.Query)
		}
		match, err := interpolate(m[1]+m[2], values)
		if err != nil {
			return nil, fmt.Errorf("variable %s: %w", v.Name, err)
		}
		offered, err := labelValues(prom, m[3], match)
		if err != nil {
			return nil, fmt.Errorf("variable %s: %w", v.Name, err)
		}
		want, picked := pick[v.Name]
		switch {
		case !picked && len(pick) == 0 && len(offered) == 0:
			problems = append(problems, fmt.Sprintf("variable %s offers no value", v.Name))
		case picked && !slices.Contains(offered, want):
			problems = append(problems, fmt.Sprintf("variable %s offers %q, not %q", v.Name, offered, want))
		}
		values[v.Name] = v.AllValue
		if picked {
			// One value, escaped as a regular expression inside a
			// PromQL string, as Grafana's Prometheus data source does.
			values[v.Name] = strings.ReplaceAll(regexp.QuoteMeta(want), `\`, `\\`)
		}
	}
	for _, g := range d.groups() {
		want := rows[g.title]
		for _, p := range g.panels {
			series := 0
			for _, tg := range p.Targets {
				expr, err := interpolate(tg.Expr, values)
				if err != nil {
					return nil, fmt.Errorf("panel %q: %w", p.Title, err)
				}
				n, err := query(prom, expr)
				if err != nil {
					return nil, fmt.Errorf("panel %q target %s: %s: %w", p.Title, tg.RefID, expr, err)
				}
				series += n
			}
			switch {
			case want == "data" && series == 0:
				problems = append(problems, fmt.Sprintf("row %q, panel %q: no data", g.title, p.Title))
			case want == "nothing" && series > 0:
				problems = append(problems, fmt.Sprintf("row %q, panel %q: %d series, want none", g.title, p.Title, series))
			}
		}
	}
	return problems, nil
}

// interpolate replaces the variables of a query by their values.
func interpolate(expr string, values map[string]string) (string, error) {
	var missing []string
	out := varRefRE.ReplaceAllStringFunc(expr, func(ref string) string {
		name := strings.Trim(ref, "${}")
		v, ok := values[name]
		if !ok {
			missing = append(missing, ref)
		}
		return v
	})
	if missing != nil {
		return "", fmt.Errorf("%s: no value for %s", expr, strings.Join(missing, ", "))
	}
	return out, nil
}

// promGet asks Prometheus's HTTP API and decodes the data of a success.
func promGet(prom, path string, params url.Values, data any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+prom+path+"?"+params.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var r struct {
		Status    string          `json:"status"`
		ErrorType string          `json:"errorType"`
		Error     string          `json:"error"`
		Data      json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return fmt.Errorf("%s: HTTP %d: %w", path, resp.StatusCode, err)
	}
	if r.Status != "success" {
		return fmt.Errorf("prometheus says %s: %s", r.ErrorType, r.Error)
	}
	return json.Unmarshal(r.Data, data)
}

// query runs an instant query and returns how many series it gave.
func query(prom, expr string) (int, error) {
	var data struct {
		ResultType string            `json:"resultType"`
		Result     []json.RawMessage `json:"result"`
	}
	if err := promGet(prom, "/api/v1/query", url.Values{"query": {expr}}, &data); err != nil {
		return 0, err
	}
	return len(data.Result), nil
}

// labelValues is what Grafana asks for label_values(match, label).
func labelValues(prom, label, match string) ([]string, error) {
	var values []string
	err := promGet(prom, "/api/v1/label/"+label+"/values", url.Values{"match[]": {match}}, &values)
	return values, err
}

// exportedLabels reads /metrics of each instance: every label name of
// every series (also those with an empty value, which Prometheus drops),
// by series name (a histogram's _bucket, _sum and _count), with the job
// and instance Prometheus adds.
func exportedLabels(t *testing.T, instances ...string) map[string]map[string]bool {
	t.Helper()
	out := map[string]map[string]bool{}
	for _, inst := range instances {
		resp, err := http.Get("http://" + inst + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := parser.TextToMetricFamilies(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("/metrics of %s: %v", inst, err)
		}
		for name, f := range fams {
			names := []string{name}
			if f.GetType().String() == "HISTOGRAM" {
				names = []string{name + "_bucket", name + "_sum", name + "_count"}
			}
			for _, n := range names {
				if out[n] == nil {
					out[n] = map[string]bool{"job": true, "instance": true}
				}
				for _, m := range f.GetMetric() {
					for _, l := range m.GetLabel() {
						out[n][l.GetName()] = true
					}
				}
				if strings.HasSuffix(n, "_bucket") {
					out[n]["le"] = true
				}
			}
		}
	}
	return out
}

// startPrometheus runs the real prometheus on a loopback port, scraping
// the targets every second as job vpnwatchd, until the test ends, and
// returns its address once it is ready.
func startPrometheus(t *testing.T, bin string, targets ...string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	quoted := make([]string, len(targets))
	for i, tg := range targets {
		quoted[i] = fmt.Sprintf("%q", tg)
	}
	if err := os.WriteFile(cfg, []byte("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: vpnwatchd\n    static_configs:\n      - targets: ["+strings.Join(quoted, ", ")+"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr)
	var logs strings.Builder
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready after 30 s:\n%s", logs.String())
		}
	}
}

// startWatcher runs the real daemon, until the test ends, on an AWS
// region in ec2sim (one VPN connection, one tunnel DOWN with IPSEC IS UP,
// traffic from CloudWatch) and an rtxsim RTX1200, with a path-MTU probe
// to this host and two webhook receivers, one of them failing. It returns
// the address of its /metrics.
func startWatcher(t *testing.T) string {
	t.Helper()
	sim, endpoint := ec2sim.Start(t, nil)
	sim.Update(watchedRegion, func(r *ec2sim.Region) {
		r.CustomerGateways = []*ec2sim.CustomerGateway{{ID: "cgw-1", IP: "198.51.100.7", BGPASN: "65000"}}
		r.VPNConnections = []*ec2sim.VPNConnection{{ID: watchedVPN, CustomerGatewayID: "cgw-1", VPNGatewayID: "vgw-1",
			Tags: map[string]string{"Name": "osaka-office"},
			Tunnels: []*ec2sim.Tunnel{
				{OutsideIP: "203.0.113.10", Status: "DOWN", StatusMessage: "IPSEC IS UP"},
				{OutsideIP: "203.0.113.20", Status: "UP", StatusMessage: "2 BGP ROUTES", AcceptedRoutes: 2},
			}}}
	})
	sim.AddTunnelData(watchedRegion, watchedVPN, "203.0.113.20", ec2sim.TunnelData{At: time.Now().Add(-2 * time.Minute).Truncate(time.Minute), In: 7.5e6, Out: 3e6})
	router := rtxsim.New("RTX1200 Rev.10.01.65", "tunnel select 1\n ipsec tunnel 201\n  ipsec sa policy 201 1 esp aes-cbc sha-hmac\n  ipsec ike remote address 1 203.0.113.10\n ip tunnel remote address 169.254.10.1\n ip tunnel tcp mss limit 1379\n tunnel enable 1\n", nil)
	router.AddTunnel(rtxsim.Tunnel{Number: 1, Remote: "203.0.113.10", Neighbor: "169.254.10.1", RemoteAS: "64512", Routes: []string{"10.0.0.0/16"}})
	rtxSrv, knownHosts := rtxsim.Start(t, router, "monitor", "rtx-pass")
	receiver := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(receiver.Close)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	t.Cleanup(failing.Close)

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rtx.password"), []byte("rtx-pass\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "vpnwatchd.yaml")
	err := os.WriteFile(cfg, []byte(fmt.Sprintf(`global:
  poll_interval: 2s
  state_dir: %s
aws:
  - name: prod
    regions: [%s]
    endpoint: %s
    cloudwatch_metrics: true
routers:
  - name: %s
    address: %s
    user: monitor
    password_file: rtx.password
    known_hosts: %s
probes:
  - name: loopback
    target: 127.0.0.1
    path: wan
    interval: 1m
rules:
  BGPDownIPsecUp: {hold: 0s}
alerting:
  group_wait: 0s
  webhook:
    - url: %s
    - url: %s
`, filepath.Join(dir, "state"), watchedRegion, endpoint, watchedRouter, rtxSrv.Addr(), knownHosts, receiver.URL, failing.URL)), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	dm, err := daemon.New(daemon.Options{ConfigFile: cfg, ListenAddresses: []string{"127.0.0.1:0"}, Logger: zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel))})
	if err != nil {
		t.Fatalf("daemon: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- dm.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("daemon: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("the daemon did not stop within 15 s of its context's end")
		}
	})
	return dm.Addrs()[0].String()
}

// gatewaysOnly is the latest data of a vpnwatchd that watches customer
// gateways other than RTX routers and no AWS region.
type gatewaysOnly []gateway.Snapshot

func (gatewaysOnly) EachAWS(func(aws.Snapshot, time.Time, bool)) {}
func (gatewaysOnly) EachRTX(func(rtx.Snapshot, time.Time, bool)) {}
func (g gatewaysOnly) EachGateway(f func(gateway.Snapshot, time.Time, bool)) {
	for _, s := range g {
		f(s, s.TakenAt, true)
	}
}
func (gatewaysOnly) ActiveFindings() []correlate.Finding { return nil }

// startGatewayExporter serves, until the test ends, vpnwatchd's registry
// with its daemon metrics and the series the metrics package renders for
// a strongSwan gateway and a gateway of another kind, each with one
// established tunnel, and returns its address.
func startGatewayExporter(t *testing.T) string {
	t.Helper()
	now := time.Now()
	gw := func(kind, name, outsideIP, neighbor string) gateway.Snapshot {
		bgp := &gateway.BGPNeighbor{Address: neighbor, RemoteAS: "64512", State: "Established", Established: true, ReceivedPrefixes: 2}
		return gateway.Snapshot{
			Source: config.SourceID{Type: kind, Name: name}, TakenAt: now, Took: 40 * time.Millisecond,
			Tunnels: []gateway.Tunnel{{Name: "aws-1", RemoteAddress: outsideIP, State: "ESTABLISHED", Known: true, Up: true,
				SAs:    []gateway.SA{{ID: 1, Direction: "send", Remaining: 40 * time.Minute}, {ID: 2, Direction: "recv", Remaining: 40 * time.Minute}},
				Rekeys: 3, BGP: bgp, InstalledRoutes: -1, RxPackets: -1,
				Settings: gateway.Settings{MTU: 1436, MSS: 1379, MSSKnown: true}}},
			Peers: []gateway.BGPNeighbor{*bgp},
		}
	}
	reg := metrics.NewRegistry()
	dm := metrics.NewDaemon(reg)
	dm.ConfigLastReloadSuccessful.Set(1)
	dm.LastCycleTimestamp.Set(float64(now.Unix()))
	dm.CycleDuration.Observe(0.05)
	reg.MustRegister(metrics.NewLatest(gatewaysOnly{
		gw(config.SourceStrongSwan, swanGateway, "203.0.113.30", "169.254.30.1"),
		gw(otherKind, otherGateway, "203.0.113.40", "169.254.40.1"),
	}))
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}
