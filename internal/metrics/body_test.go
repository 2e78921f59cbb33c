package metrics

import (
	"bufio"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The prebuilt body and the part gathered at each scrape make one
// exposition, plain or as one gzip member, and a scrape shows the body of
// the last Build only.
func TestBodyHandler(t *testing.T) {
	static := prometheus.NewRegistry()
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vpnwatch_test_static", Help: "static"}, []string{"n"})
	static.MustRegister(g)
	for _, n := range []string{"a", "b", "c"} {
		g.WithLabelValues(n).Set(1)
	}
	dynamic := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "vpnwatch_test_dynamic_total", Help: "dynamic"})
	dynamic.MustRegister(c)

	var b Body
	srv := httptest.NewServer(Handler(&b, dynamic))
	defer srv.Close()
	scrape := func(encoding string) string {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL, nil)
		req.Header.Set("Accept-Encoding", encoding)
		tr := &http.Transport{DisableCompression: true}
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
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
		} else if encoding == "gzip" {
			t.Fatal("gzip accepted but not used")
		}
		body, err := io.ReadAll(r) // checks the CRC and size of the trailer
		if err != nil {
			t.Fatalf("read %q body: %v", encoding, err)
		}
		p := expfmt.NewTextParser(model.LegacyValidation)
		if _, err := p.TextToMetricFamilies(strings.NewReader(string(body))); err != nil {
			t.Fatalf("not an exposition: %v\n%s", err, body)
		}
		return string(body)
	}
	if got := scrape("gzip"); strings.Contains(got, "vpnwatch_test_static") || !strings.Contains(got, "vpnwatch_test_dynamic_total 0") {
		t.Errorf("before the first Build:\n%s", got)
	}
	if err := b.Build(static); err != nil {
		t.Fatal(err)
	}
	g.WithLabelValues("d").Set(1) // not built: not served
	c.Add(3)
	for _, enc := range []string{"", "gzip", "deflate, gzip;q=0.5", "gzip;q=0"} {
		got := scrape(enc)
		if !strings.Contains(got, `vpnwatch_test_static{n="c"} 1`) || strings.Contains(got, `n="d"`) || !strings.Contains(got, "vpnwatch_test_dynamic_total 3") {
			t.Errorf("Accept-Encoding %q:\n%s", enc, got)
		}
	}
	// A large body still makes one valid member.
	for i := range 20000 {
		g.WithLabelValues(strings.Repeat("x", i%50) + string(rune('a'+i%26)) + strings.Repeat("y", i%7)).Set(float64(i))
	}
	b.Build(static)
	if a, z := scrape(""), scrape("gzip"); a != z || len(a) < 100000 {
		t.Errorf("plain %d bytes, gzip %d bytes decoded: they differ", len(a), len(z))
	}
}

// A Gather error fails the scrape, as promhttp does, rather than serving a
// partial exposition.
func TestBodyBuildError(t *testing.T) {
	bad := prometheus.NewRegistry()
	bad.MustRegister(prometheus.CollectorFunc(func(ch chan<- prometheus.Metric) {
		ch <- prometheus.NewInvalidMetric(prometheus.NewDesc("vpnwatch_bad", "bad", nil, nil), errors.New("broken collector"))
	}))
	var b Body
	if err := b.Build(bad); err == nil {
		t.Fatal("Build: no error")
	}
	rec := httptest.NewRecorder()
	Handler(&b, prometheus.NewRegistry()).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), "broken collector") {
		t.Errorf("%d %s", rec.Code, rec.Body)
	}
}
