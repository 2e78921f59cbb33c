package rtx

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/config"
	"github.com/vpnwatchd/vpnwatchd/internal/rtx/rtxsim"
)

// BenchmarkParseIPsecSA4000 parses `show ipsec sa` with 4,000 SAs
// (1,000 tunnels with an IKE SA and a rekey overlap each).
func BenchmarkParseIPsecSA4000(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("Total: isakmp:1000 send:1500 recv:1500\n\nsa   sgw isakmp connection   dir  life[s] remote-id\n")
	sb.WriteString(strings.Repeat("-", 77) + "\n")
	id := 1
	for t := 1; t <= 1000; t++ {
		fmt.Fprintf(&sb, "%-5d %-4d -    isakmp       -    27132   203.0.%d.%d\n", id, t, t/250, t%250)
		id++
		for range 3 {
			fmt.Fprintf(&sb, "%-5d %-4d %-4d tun[%04d]esp send 1944    203.0.%d.%d\n", id, t, id-1, t, t/250, t%250)
			id++
		}
	}
	text := sb.String()
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		st, err := ParseIPsecSA(text)
		if err != nil || len(st.SAs) != 4000 {
			b.Fatalf("%v %d", err, len(st.SAs))
		}
	}
}

// BenchmarkPoll200Routers is one poll of 200 simulated routers (real SSH
// servers on loopback, two tunnels each) from one process, sessions
// already open, as in the daemon's steady state.
func BenchmarkPoll200Routers(b *testing.B) {
	const n = 200
	pollers := make([]*Poller, n)
	for i := range n {
		r := rtxsim.New("RTX1210 Rev.14.01.42", seedConfig, nil)
		r.AddTunnel(rtxsim.Tunnel{Number: 1, Remote: "203.0.113.10", Neighbor: "169.254.10.1", RemoteAS: "64512", Routes: []string{"10.0.0.0/16"}})
		r.AddTunnel(rtxsim.Tunnel{Number: 2, Remote: "203.0.113.20", Neighbor: "169.254.20.1", RemoteAS: "64512", Routes: []string{"10.0.0.0/16"}})
		srv, kh := rtxsim.Start(b, r, "monitor", "rtx-pass")
		pollers[i] = NewPoller(config.Router{Name: fmt.Sprintf("r%03d", i), Address: srv.Addr(), User: "monitor",
			SSHLogin: config.SSHLogin{Password: "rtx-pass", KnownHosts: kh}, Timeout: 30 * time.Second}, Options{Location: time.UTC})
		defer pollers[i].Close()
	}
	pollAll := func() {
		var wg sync.WaitGroup
		for _, p := range pollers {
			wg.Go(func() {
				if s := p.Poll(context.Background()); s.Err != nil {
					b.Error(s.Err)
				}
			})
		}
		wg.Wait()
	}
	pollAll() // log in everywhere
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	for b.Loop() {
		pollAll()
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(runtime.NumGoroutine()), "goroutines")
	b.ReportMetric(float64(after.HeapInuse)/(1<<20), "heap-MiB")
}
