package metrics

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/vpnwatchd/vpnwatchd/internal/aws"
	"github.com/vpnwatchd/vpnwatchd/internal/config"
	"github.com/vpnwatchd/vpnwatchd/internal/correlate"
	"github.com/vpnwatchd/vpnwatchd/internal/gateway"
	"github.com/vpnwatchd/vpnwatchd/internal/rtx"
)

// fullLatest has every kind of series: AWS connections and tunnels, a
// failed region, routers with tunnels, SAs, BGP (a neighbor listed twice),
// label values that need escaping or are not UTF-8, and findings.
type fullLatest struct {
	aws  []aws.Snapshot
	rtx  []rtx.Snapshot
	gw   []gateway.Snapshot
	find []correlate.Finding
}

func (l *fullLatest) EachAWS(f func(aws.Snapshot, time.Time, bool)) {
	for _, s := range l.aws {
		f(s, at, true)
	}
}
func (l *fullLatest) EachRTX(f func(rtx.Snapshot, time.Time, bool)) {
	for _, s := range l.rtx {
		f(s, at.Add(-time.Minute), s.Err == nil)
	}
}
func (l *fullLatest) EachGateway(f func(gateway.Snapshot, time.Time, bool)) {
	for _, s := range l.gw {
		f(s, at.Add(-time.Minute), s.Err == nil)
	}
}
func (l *fullLatest) ActiveFindings() []correlate.Finding { return l.find }

func newFullLatest(routers int) *fullLatest {
	l := &fullLatest{aws: []aws.Snapshot{seedSnapshot(), {Source: "prod", Region: "us-east-1", TakenAt: at, Err: errors.New("timeout")}}}
	for r := range routers {
		s := rtx.Snapshot{Router: fmt.Sprintf("r%03d", r), TakenAt: at, Took: time.Second}
		if r == 1 {
			s.Router = "quote\"back\\slash\nnewline\xff"
		}
		for n := 1; n <= 3; n++ {
			tc := &rtx.TunnelConfig{Number: n, MTU: 1280, MSSConfigured: n == 1, MSSLimit: 1379, MSSAuto: n == 2, RemoteAddress: fmt.Sprintf("203.0.113.%d", n)}
			nb := &rtx.BGPNeighbor{Address: fmt.Sprintf("169.254.%d.1", n), RemoteAS: "64512", State: "Established", ReceivedPrefixes: n - 2}
			s.Tunnels = append(s.Tunnels, rtx.Tunnel{Config: tc, Status: rtx.TunnelStatus{Number: n, Status: "Online", RxOctets: 1 << 40},
				SAs: []rtx.SA{{ID: n, Direction: "send", Remaining: time.Hour}, {ID: n + 10, Direction: "recv", Remaining: 90 * time.Second}},
				BGP: nb, Rekeys: n, InstalledRoutes: 1})
			s.BGP.Neighbors = append(s.BGP.Neighbors, *nb, *nb)
		}
		s.Warnings = []rtx.Unreadable{{Command: "show status tunnel 1", Line: 3}}
		l.rtx = append(l.rtx, s)
	}
	l.rtx = append(l.rtx, rtx.Snapshot{Router: "down", TakenAt: at, Err: errors.New("connect: connection refused")})
	bgp := gateway.BGPNeighbor{Address: "198.18.100.1", RemoteAS: "64512", State: "Established", Established: true, ReceivedPrefixes: 2}
	l.gw = []gateway.Snapshot{{Source: config.StrongSwanSource("tokyo-swan"), TakenAt: at, Took: 40 * time.Millisecond,
		Tunnels: []gateway.Tunnel{
			{Name: "aws-1", RemoteAddress: "203.0.113.10", Known: true, Up: true, Rekeys: 3, BGP: &bgp,
				SAs:      []gateway.SA{{ID: 7, Direction: "send", Remaining: 25 * time.Second}, {ID: 7, Direction: "recv", Remaining: 25 * time.Second}},
				Settings: gateway.Settings{MTU: 1400, MSS: 1360, MSSKnown: true}},
			{Name: "aws-2", RemoteAddress: "203.0.113.20", Known: true},
		},
		Peers:    []gateway.BGPNeighbor{bgp, bgp, {Address: "198.18.100.5", RemoteAS: "64512", State: "Active", ReceivedPrefixes: -1}},
		Warnings: []gateway.Unreadable{{Command: "list-sas", Text: "life-time: x"}}},
		{Source: config.StrongSwanSource("nagoya-swan"), TakenAt: at, Err: errors.New("open vici socket: connection refused")}}
	l.find = []correlate.Finding{{Rule: "TunnelDown", Severity: "critical", Subject: correlate.Subject{Router: "r000", RTXTunnel: 1}},
		// Two connections of one gateway, neither joined to AWS: two series.
		{Rule: "TunnelNotJoined", Severity: "warning", Subject: correlate.Subject{Router: "tokyo-swan", GatewayKind: "strongswan", Tunnel: "aws-1"}},
		{Rule: "TunnelNotJoined", Severity: "warning", Subject: correlate.Subject{Router: "tokyo-swan", GatewayKind: "strongswan", Tunnel: "aws-2"}}}
	return l
}

// parse reads an exposition into its families, series sorted, for
// comparison.
func parse(t *testing.T, text string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("not an exposition: %v\n%s", err, text)
	}
	for _, f := range fams {
		sort.Slice(f.Metric, func(i, j int) bool { return f.Metric[i].String() < f.Metric[j].String() })
	}
	return fams
}

// The body Build renders directly is the exposition a registry gathering
// the same collector and the text encoder make, series for series.
func TestBodyIsWhatTheRegistryRenders(t *testing.T) {
	l := newFullLatest(3)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewLatest(l))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	enc := expfmt.NewEncoder(&want, textFormat)
	for _, mf := range mfs {
		enc.Encode(mf)
	}
	var b Body
	if err := b.Build(l); err != nil {
		t.Fatal(err)
	}
	got := scrape(t, Handler(&b, prometheus.NewRegistry()), "")
	g, w := parse(t, got), parse(t, want.String())
	if len(g) < 25 || !reflect.DeepEqual(g, w) {
		for name := range w {
			if !reflect.DeepEqual(g[name], w[name]) {
				t.Errorf("%s:\n got %v\nwant %v", name, g[name], w[name])
			}
		}
		t.Fatalf("%d families built, %d gathered", len(g), len(w))
	}
	if !strings.Contains(got, `router="quote\"back\\slash\nnewline`+"\uFFFD"+`"`) {
		t.Errorf("label value not escaped:\n%s", got)
	}
}

// A strongSwan gateway's series: what each one says, and none for what
// could not be read.
func TestGatewaySeries(t *testing.T) {
	var b Body
	if err := b.Build(newFullLatest(0)); err != nil {
		t.Fatal(err)
	}
	got := scrape(t, Handler(&b, prometheus.NewRegistry()), "")
	for _, want := range []string{
		`vpnwatch_source_up{region="",router="tokyo-swan",source="",type="strongswan"} 1`,
		`vpnwatch_source_up{region="",router="nagoya-swan",source="",type="strongswan"} 0`,
		`vpnwatch_gateway_tunnel_up{kind="strongswan",outside_ip="203.0.113.10",router="tokyo-swan",tunnel="aws-1"} 1`,
		`vpnwatch_gateway_tunnel_up{kind="strongswan",outside_ip="203.0.113.20",router="tokyo-swan",tunnel="aws-2"} 0`,
		`vpnwatch_gateway_ipsec_sas{direction="send",kind="strongswan",router="tokyo-swan",tunnel="aws-1"} 1`,
		`vpnwatch_gateway_ipsec_sas{direction="recv",kind="strongswan",router="tokyo-swan",tunnel="aws-2"} 0`,
		`vpnwatch_gateway_ipsec_sa_remaining_lifetime_seconds{direction="recv",kind="strongswan",router="tokyo-swan",tunnel="aws-1"} 25`,
		`vpnwatch_gateway_ipsec_rekeys_total{kind="strongswan",router="tokyo-swan",tunnel="aws-1"} 3`,
		`vpnwatch_gateway_bgp_received_routes{kind="strongswan",router="tokyo-swan",tunnel="aws-1"} 2`,
		`vpnwatch_gateway_bgp_neighbor_up{kind="strongswan",neighbor="198.18.100.1",remote_as="64512",router="tokyo-swan"} 1`,
		`vpnwatch_gateway_bgp_neighbor_up{kind="strongswan",neighbor="198.18.100.5",remote_as="64512",router="tokyo-swan"} 0`,
		`vpnwatch_gateway_tunnel_mtu_bytes{kind="strongswan",router="tokyo-swan",tunnel="aws-1"} 1400`,
		`vpnwatch_gateway_tcp_mss_clamp_bytes{kind="strongswan",router="tokyo-swan",tunnel="aws-1"} 1360`,
		`vpnwatch_gateway_tcp_mss_clamp_auto{kind="strongswan",router="tokyo-swan",tunnel="aws-1"} 0`,
		`vpnwatch_gateway_unreadable_entries{command="list-sas",kind="strongswan",router="tokyo-swan"} 1`,
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("missing %s", want)
		}
	}
	for _, absent := range []string{
		`vpnwatch_gateway_tunnel_mtu_bytes{kind="strongswan",router="tokyo-swan",tunnel="aws-2"}`,
		`vpnwatch_gateway_tcp_mss_clamp_auto{kind="strongswan",router="tokyo-swan",tunnel="aws-2"}`,
		`vpnwatch_gateway_ipsec_sa_remaining_lifetime_seconds{direction="send",kind="strongswan",router="tokyo-swan",tunnel="aws-2"}`,
		`router="nagoya-swan",tunnel=`,
	} {
		if strings.Contains(got, absent) {
			t.Errorf("series for something unknown: %s", absent)
		}
	}
}

func scrape(t *testing.T, h http.Handler, encoding string) string {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Accept-Encoding", encoding)
	resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	var r io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bufio.NewReader(resp.Body))
		if err != nil {
			t.Fatal(err)
		}
		zr.Multistream(false) // one member, as every client reads it
		r = zr
		defer func() {
			if _, err := zr.Read(make([]byte, 1)); err != io.EOF {
				t.Errorf("data after the gzip member: %v", err)
			}
		}()
	} else if strings.HasPrefix(encoding, "gzip") && !strings.Contains(encoding, "q=0") {
		t.Fatal("gzip accepted but not used")
	}
	body, err := io.ReadAll(r) // checks the CRC and size of the trailer
	if err != nil {
		t.Fatalf("read %q body: %v", encoding, err)
	}
	if cl := resp.Header.Get("Content-Length"); cl != "" && resp.Header.Get("Content-Encoding") == "" && cl != fmt.Sprint(len(body)) {
		t.Errorf("Content-Length %s, body %d bytes", cl, len(body))
	}
	parse(t, string(body))
	return string(body)
}

// The prebuilt body and the part gathered at each scrape make one
// exposition, plain or as one gzip member, and a scrape shows the body of
// the last Build only.
func TestBodyHandler(t *testing.T) {
	dynamic := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "vpnwatch_test_dynamic_total", Help: "dynamic"})
	dynamic.MustRegister(c)
	var b Body
	h := Handler(&b, dynamic)
	if got := scrape(t, h, "gzip"); strings.Contains(got, "vpnwatch_aws_tunnel_up") || !strings.Contains(got, "vpnwatch_test_dynamic_total 0") {
		t.Errorf("before the first Build:\n%s", got)
	}
	l := &latestAWS{}
	l.update(seedSnapshot())
	if err := b.Build(l); err != nil {
		t.Fatal(err)
	}
	l.update(aws.Snapshot{Source: "prod", Region: "ap-northeast-1", TakenAt: at, Err: errors.New("timeout")}) // not built: not served
	c.Add(3)
	for _, enc := range []string{"", "gzip", "deflate, gzip;q=0.5", "gzip;q=0", "*"} {
		got := scrape(t, h, enc)
		if !strings.Contains(got, `vpnwatch_aws_tunnel_up{outside_ip="203.0.113.20"`) || !strings.Contains(got, "vpnwatch_test_dynamic_total 3") {
			t.Errorf("Accept-Encoding %q:\n%s", enc, got)
		}
	}
	// A large body still makes one valid member, the same as plain.
	if err := b.Build(newFullLatest(500)); err != nil {
		t.Fatal(err)
	}
	if a, z := scrape(t, h, ""), scrape(t, h, "gzip"); a != z || len(a) < 100000 {
		t.Errorf("plain %d bytes, gzip %d bytes decoded: they differ", len(a), len(z))
	}
}

// A rendering error fails the scrape, as promhttp does, rather than
// serving a partial exposition; a series sent twice is written once.
func TestTextSink(t *testing.T) {
	out, sink := newTextSender(nil)
	out.send(famTestGauge, 1, "r1", "1", "send")
	out.send(famTestGauge, 2, "r1", "1", "send")
	out.send(famTestCounter, 3, "r1", "1")
	var b bytes.Buffer
	if _, err := sink.writeTo(&b); err != nil {
		t.Fatal(err)
	}
	want := "# HELP test_gauge A gauge.\n# TYPE test_gauge gauge\ntest_gauge{direction=\"send\",router=\"r1\",tunnel=\"1\"} 1\n" +
		"# HELP test_total A counter.\n# TYPE test_total counter\ntest_total{router=\"r1\",tunnel=\"1\"} 3\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	out.send(famTestGauge, 1, "r1")
	if _, err := sink.writeTo(&b); err == nil || !strings.Contains(err.Error(), `"router" "tunnel" "direction"`) {
		t.Errorf("wrong label count: %v", err)
	}
	var body Body
	body.built.Store(&builtBody{err: sink.err})
	rec := httptest.NewRecorder()
	Handler(&body, prometheus.NewRegistry()).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), "label values") {
		t.Errorf("%d %s", rec.Code, rec.Body)
	}
}

// BenchmarkBodyBuild renders 200 routers of 3 tunnels and the seed's AWS
// region: the cost a cycle pays for the /metrics body.
func BenchmarkBodyBuild(b *testing.B) {
	l := newFullLatest(200)
	var body Body
	b.ReportAllocs()
	for b.Loop() {
		if err := body.Build(l); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(body.built.Load().size)/1024, "body-KiB")
}

// BenchmarkScrape is one gzip scrape of a built body and the registry of
// the process and Go runtime, as the daemon serves it.
func BenchmarkScrape(b *testing.B) {
	var body Body
	if err := body.Build(newFullLatest(200)); err != nil {
		b.Fatal(err)
	}
	h := Handler(&body, NewRegistry())
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
}

// The scrape-time part is written as stored DEFLATE blocks of at most
// 65,535 bytes, the last final: a reader gets the bytes back, whatever
// their length.
func TestStoredBlocks(t *testing.T) {
	for _, n := range []int{0, 1, 65535, 65536, 200000} {
		data := bytes.Repeat([]byte("vpnwatch_x 1\n"), n/13+1)[:n]
		r := flate.NewReader(bytes.NewReader(storedBlocks(data)))
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%d bytes: %v, got %d bytes back", n, err, len(got))
		}
	}
}

// An RTX BGP neighbor carries its tunnel's labels, so that BGP joins the
// tunnel and AWS series; a neighbor of no tunnel has them empty.
func TestRTXBGPNeighborTunnelLabels(t *testing.T) {
	l := newFullLatest(1)
	l.rtx[0].BGP.Neighbors = append(l.rtx[0].BGP.Neighbors, rtx.BGPNeighbor{Address: "10.9.9.9", RemoteAS: "65010", State: "Active"})
	var b Body
	if err := b.Build(l); err != nil {
		t.Fatal(err)
	}
	got := scrape(t, Handler(&b, prometheus.NewRegistry()), "")
	for _, want := range []string{
		`vpnwatch_rtx_bgp_neighbor_up{neighbor="169.254.1.1",outside_ip="203.0.113.1",remote_as="64512",router="r000",rtx_tunnel="1"} 1`,
		`vpnwatch_rtx_bgp_neighbor_up{neighbor="169.254.3.1",outside_ip="203.0.113.3",remote_as="64512",router="r000",rtx_tunnel="3"} 1`,
		`vpnwatch_rtx_bgp_neighbor_up{neighbor="10.9.9.9",outside_ip="",remote_as="65010",router="r000",rtx_tunnel=""} 0`,
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("missing %s", want)
		}
	}
}
