package probe

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vpnwatchd/vpnwatchd/internal/testenv"
)

// topology is client — router — server in three network namespaces made by
// the test, addresses in 198.18.0.0/15 (and ULA IPv6), with the
// router→server link at mtu bytes.
type topology struct {
	client, router, server string
}

const (
	serverV4 = "198.18.2.2"
	serverV6 = "fd00:198:18:2::2"
)

func run(t testing.TB, args ...string) {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func nsRun(t testing.TB, ns string, args ...string) {
	t.Helper()
	run(t, append([]string{"ip", "netns", "exec", ns}, args...)...)
}

type topoOptions struct {
	mtu       int
	blackhole bool // the router drops its ICMP "too big" errors
	unpriv    bool // allow unprivileged ICMP sockets in the client namespace
}

func newTopology(t testing.TB, o topoOptions) topology {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Missing(t, "root", "network namespaces need root (CI runs as root)")
	}
	testenv.Binary(t, "ip")
	if o.blackhole {
		testenv.Binary(t, "nft")
	}
	b := make([]byte, 3)
	rand.Read(b)
	id := hex.EncodeToString(b)
	tp := topology{client: "vwc" + id, router: "vwr" + id, server: "vws" + id}
	for _, ns := range []string{tp.client, tp.router, tp.server} {
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		nsRun(t, ns, "ip", "link", "set", "lo", "up")
		// No duplicate address detection: IPv6 works as soon as links are up.
		nsRun(t, ns, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0")
	}
	c0, r0, r1, s0 := "c"+id, "r"+id+"a", "r"+id+"b", "s"+id
	run(t, "ip", "link", "add", c0, "netns", tp.client, "type", "veth", "peer", "name", r0, "netns", tp.router)
	run(t, "ip", "link", "add", r1, "netns", tp.router, "type", "veth", "peer", "name", s0, "netns", tp.server)
	nsRun(t, tp.router, "ip", "link", "set", r1, "mtu", itoa(o.mtu))
	nsRun(t, tp.server, "ip", "link", "set", s0, "mtu", itoa(o.mtu))
	for _, l := range []struct{ ns, dev, v4, v6 string }{
		{tp.client, c0, "198.18.1.2/24", "fd00:198:18:1::2/64"},
		{tp.router, r0, "198.18.1.1/24", "fd00:198:18:1::1/64"},
		{tp.router, r1, "198.18.2.1/24", "fd00:198:18:2::1/64"},
		{tp.server, s0, serverV4 + "/24", serverV6 + "/64"},
	} {
		nsRun(t, l.ns, "ip", "addr", "add", l.v4, "dev", l.dev)
		nsRun(t, l.ns, "ip", "-6", "addr", "add", l.v6, "dev", l.dev, "nodad")
		nsRun(t, l.ns, "ip", "link", "set", l.dev, "up")
	}
	nsRun(t, tp.client, "ip", "route", "add", "default", "via", "198.18.1.1")
	nsRun(t, tp.client, "ip", "-6", "route", "add", "default", "via", "fd00:198:18:1::1")
	nsRun(t, tp.server, "ip", "route", "add", "default", "via", "198.18.2.1")
	nsRun(t, tp.server, "ip", "-6", "route", "add", "default", "via", "fd00:198:18:2::1")
	nsRun(t, tp.router, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1")
	// No rate limit on the router's ICMP errors: every probe gets its answer.
	nsRun(t, tp.router, "sysctl", "-qw", "net.ipv4.icmp_ratelimit=0", "net.ipv6.icmp.ratelimit=0")
	if o.unpriv {
		nsRun(t, tp.client, "sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647")
	}
	if o.blackhole {
		nsRun(t, tp.router, "nft", "add table inet vw; add chain inet vw out { type filter hook output priority 0 ; } ; "+
			"add rule inet vw out icmp type destination-unreachable drop ; add rule inet vw out icmpv6 type packet-too-big drop")
	}
	return tp
}

func itoa(n int) string { return strconv.Itoa(n) }

// inNetns runs f on an OS thread moved into network namespace ns: sockets f
// opens belong to ns.
func inNetns(t testing.TB, ns string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			t.Error(err)
			return
		}
		defer orig.Close()
		target, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			t.Error(err)
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			t.Error(err)
			return
		}
		f()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err == nil {
			runtime.UnlockOSThread() // else the thread dies with the goroutine
		}
	}()
	<-done
}

func search(t testing.TB, ns, target string, o Options) (Result, error) {
	var r Result
	var err error
	inNetns(t, ns, func() { r, err = Search(context.Background(), target, o) })
	return r, err
}

func TestPathMTUIPv4(t *testing.T) {
	tp := newTopology(t, topoOptions{mtu: 1300, unpriv: true})
	r, err := search(t, tp.client, serverV4, Options{Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if r.PathMTU != 1300 || r.LargestPayload != 1272 || !r.FragNeededSeen || r.ReportedMTU != 1300 || r.Socket != SocketUnprivileged {
		t.Errorf("result: %+v", r)
	}
	if r.Probes > 12 {
		t.Errorf("%d probes, want at most 12", r.Probes)
	}
	t.Logf("IPv4: path MTU %d in %d probes, %s", r.PathMTU, r.Probes, r.Took)
	// The PMTU-cache trap: a second search right after finds the same.
	r2, err := search(t, tp.client, serverV4, Options{Timeout: 500 * time.Millisecond})
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
	tp := newTopology(t, topoOptions{mtu: 1300, unpriv: true})
	waitReachable(t, tp.client, serverV6)
	r, err := search(t, tp.client, serverV6, Options{Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if r.PathMTU != 1300 || r.LargestPayload != 1300-HeaderIPv6 || !r.IPv6 || !r.FragNeededSeen {
		t.Errorf("result: %+v", r)
	}
	t.Logf("IPv6: path MTU %d in %d probes, %s", r.PathMTU, r.Probes, r.Took)
}

// The router drops its ICMP errors: only silence says "too big".
func TestPathMTUBlackHole(t *testing.T) {
	tp := newTopology(t, topoOptions{mtu: 1300, blackhole: true, unpriv: true})
	r, err := search(t, tp.client, serverV4, Options{Timeout: 200 * time.Millisecond, Retries: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.PathMTU != 1300 || r.FragNeededSeen {
		t.Errorf("black hole: %+v", r)
	}
	t.Logf("black hole: path MTU %d in %d probes, %s", r.PathMTU, r.Probes, r.Took)
}

// Without ping_group_range, root falls back to a raw socket.
func TestPathMTURawSocket(t *testing.T) {
	tp := newTopology(t, topoOptions{mtu: 1400})
	r, err := search(t, tp.client, serverV4, Options{Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if r.Socket != SocketRaw || r.PathMTU != 1400 {
		t.Errorf("raw: %+v", r)
	}
}

func TestUnreachable(t *testing.T) {
	tp := newTopology(t, topoOptions{mtu: 1300, unpriv: true})
	_, err := search(t, tp.client, "198.18.2.99", Options{Timeout: 200 * time.Millisecond, Retries: 1})
	if !errors.Is(err, ErrUnreachable) {
		t.Errorf("unreachable: %v", err)
	}
}

func BenchmarkSearchNetns(b *testing.B) {
	tp := newTopology(b, topoOptions{mtu: 1300, unpriv: true})
	probes := 0
	for b.Loop() {
		r, err := search(b, tp.client, serverV4, Options{Timeout: 500 * time.Millisecond})
		if err != nil || r.PathMTU != 1300 {
			b.Fatal(err, r.PathMTU)
		}
		probes = r.Probes
	}
	b.ReportMetric(float64(probes), "probes/search")
}
