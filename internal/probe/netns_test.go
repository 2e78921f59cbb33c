package probe

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/testenv"
)

func search(t testing.TB, ns, target string, o Options) (Result, error) {
	var r Result
	var err error
	testenv.InNetns(t, ns, func() { r, err = Search(context.Background(), target, o) })
	return r, err
}

func TestPathMTUIPv4(t *testing.T) {
	tp := testenv.NewTopology(t, testenv.TopoOptions{MTU: 1300, Unpriv: true})
	r, err := search(t, tp.Client, testenv.ServerV4, Options{Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if r.PathMTU != 1300 || r.LargestPayload != 1272 || !r.FragNeededSeen || r.ReportedMTU != 1300 || r.Socket != SocketUnprivileged || r.Limit != LimitICMP {
		t.Errorf("result: %+v", r)
	}
	if r.Probes > 12 {
		t.Errorf("%d probes, want at most 12", r.Probes)
	}
	t.Logf("IPv4: path MTU %d in %d probes, %s", r.PathMTU, r.Probes, r.Took)
	// The PMTU-cache trap: a second search right after finds the same.
	r2, err := search(t, tp.Client, testenv.ServerV4, Options{Timeout: 500 * time.Millisecond})
	if err != nil || r2.PathMTU != 1300 {
		t.Errorf("second search: %v %+v", err, r2)
	}
}

// waitReachable waits until IPv6 neighbour discovery along the path is done.
func waitReachable(t *testing.T, ns, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := search(t, ns, addr, Options{Min: 56, Max: 56, Retries: 1, Timeout: 250 * time.Millisecond}); err == nil {
			return
		}
	}
	t.Fatalf("%s never answered from %s", addr, ns)
}

func TestPathMTUIPv6(t *testing.T) {
	tp := testenv.NewTopology(t, testenv.TopoOptions{MTU: 1300, Unpriv: true})
	waitReachable(t, tp.Client, testenv.ServerV6)
	r, err := search(t, tp.Client, testenv.ServerV6, Options{Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if r.PathMTU != 1300 || r.LargestPayload != 1300-HeaderIPv6 || !r.IPv6 || !r.FragNeededSeen || r.Limit != LimitICMP {
		t.Errorf("result: %+v", r)
	}
	for _, st := range r.Steps {
		if st.Packet != st.Payload+48 {
			t.Errorf("IPv6 step %+v: packet is payload + 48", st)
		}
	}
	t.Logf("IPv6: path MTU %d in %d probes, %s", r.PathMTU, r.Probes, r.Took)
}

// The router drops its ICMP errors: only silence says "too big".
func TestPathMTUBlackHole(t *testing.T) {
	tp := testenv.NewTopology(t, testenv.TopoOptions{MTU: 1300, Blackhole: true, Unpriv: true})
	r, err := search(t, tp.Client, testenv.ServerV4, Options{Timeout: 200 * time.Millisecond, Retries: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.PathMTU != 1300 || r.FragNeededSeen || r.Limit != LimitSilence || !strings.Contains(r.Explain(), "black hole") {
		t.Errorf("black hole: %+v", r)
	}
	t.Logf("black hole: path MTU %d in %d probes, %s", r.PathMTU, r.Probes, r.Took)
}

// Without ping_group_range, root falls back to a raw socket.
func TestPathMTURawSocket(t *testing.T) {
	tp := testenv.NewTopology(t, testenv.TopoOptions{MTU: 1400})
	r, err := search(t, tp.Client, testenv.ServerV4, Options{Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if r.Socket != SocketRaw || r.PathMTU != 1400 {
		t.Errorf("raw: %+v", r)
	}
}

// A path wider than the range searched: the largest size passes and
// nothing is said about black holes.
func TestPathMTUNotLimited(t *testing.T) {
	tp := testenv.NewTopology(t, testenv.TopoOptions{MTU: 1300, Blackhole: true, Unpriv: true})
	r, err := search(t, tp.Client, testenv.ServerV4, Options{Min: 1000, Max: 1200, Timeout: 200 * time.Millisecond, Retries: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.PathMTU != 1228 || r.Limit != LimitNone || strings.Contains(r.Explain(), "black hole") || !strings.Contains(r.Explain(), "at least 1228") {
		t.Errorf("not limited: %+v: %s", r, r.Explain())
	}
}

func TestUnreachable(t *testing.T) {
	tp := testenv.NewTopology(t, testenv.TopoOptions{MTU: 1300, Unpriv: true})
	_, err := search(t, tp.Client, "198.18.2.99", Options{Timeout: 200 * time.Millisecond, Retries: 1})
	if !errors.Is(err, ErrUnreachable) {
		t.Errorf("unreachable: %v", err)
	}
}

func BenchmarkSearchNetns(b *testing.B) {
	tp := testenv.NewTopology(b, testenv.TopoOptions{MTU: 1300, Unpriv: true})
	probes := 0
	for b.Loop() {
		r, err := search(b, tp.Client, testenv.ServerV4, Options{Timeout: 500 * time.Millisecond})
		if err != nil || r.PathMTU != 1300 {
			b.Fatal(err, r.PathMTU)
		}
		probes = r.Probes
	}
	b.ReportMetric(float64(probes), "probes/search")
}
