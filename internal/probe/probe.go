// Package probe measures path MTUs the way the seed incident's operator did
// by hand with `ping -f -l N`: ICMP echo requests with Don't Fragment set,
// a binary search for the largest payload that gets an answer, silence
// counted as "too big" (AWS VPN does not do PMTUD and many paths drop the
// ICMP errors). It then turns the measurements and the RTX configuration
// into the `ip tunnel mtu` / `tcp mss limit` commands to type.
package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// Header sizes in front of an ICMP echo payload: IPv4 20 + ICMP 8, IPv6 40
// + ICMPv6 8. A largest DF payload of 1252 means a path MTU of 1280.
const (
	HeaderIPv4 = 28
	HeaderIPv6 = 48
)

// Options tune a search.
type Options struct {
	// Min and Max bound the payload; 0 takes 1200–1472 (IPv4) or
	// 1232–1452 (IPv6), Ethernet paths.
	Min, Max int
	// Retries per size before silence counts as "too big"; default 2.
	Retries int
	// Timeout per echo; default 1 s.
	Timeout time.Duration
	// OnStep hears every probe, for `probe mtu`'s running output.
	OnStep func(Step)
}

// Step is one probe.
type Step struct {
	Payload int `json:"payload"`
	// Result is "ok", "too big", "local" (this host's interface MTU) or
	// "timeout".
	Result string `json:"result"`
	// MTU is the next-hop MTU an ICMP error reported, if any.
	MTU int           `json:"mtu,omitempty"`
	RTT time.Duration `json:"rtt_ns,omitempty"`
	// Packet is the size on the wire: payload + IP and ICMP headers (28
	// over IPv4, 48 over IPv6).
	Packet int `json:"packet"`
}

// How a search's path MTU was bounded (Result.Limit).
const (
	// LimitNone: the largest size tried passed; the path MTU is at least
	// PathMTU, nothing on the path limited it within the range.
	LimitNone = "none"
	// LimitLocal: this host's own interface MTU stopped larger sizes
	// before they left it.
	LimitLocal = "local"
	// LimitICMP: a hop answered larger sizes with ICMP "too big".
	LimitICMP = "icmp"
	// LimitSilence: larger sizes got no answer at all, not even an ICMP
	// error: a black hole, which breaks path-MTU discovery.
	LimitSilence = "silence"
)

// Result is a finished search.
type Result struct {
	Target         string `json:"target"`
	Address        string `json:"address"`
	IPv6           bool   `json:"ipv6"`
	Socket         string `json:"socket"` // SocketUnprivileged or SocketRaw
	LargestPayload int    `json:"largest_payload"`
	PathMTU        int    `json:"path_mtu"`
	Probes         int    `json:"probes"`
	FragNeededSeen bool   `json:"frag_needed_seen"`
	ReportedMTU    int    `json:"reported_mtu,omitempty"` // the last next-hop MTU an ICMP error reported
	// Limit says what bounded the path MTU: LimitNone, LimitLocal,
	// LimitICMP or LimitSilence (a black hole).
	Limit string        `json:"limit"`
	RTT   time.Duration `json:"rtt_ns"`
	Steps []Step        `json:"steps"`
	Took  time.Duration `json:"took_ns"`
}

// ErrUnreachable is a target that answers no echo at all.
var ErrUnreachable = errors.New("no echo reply")

func (o *Options) defaults(v6 bool) {
	if o.Max == 0 {
		o.Max = 1500 - HeaderIPv4
		if v6 {
			o.Max = 1500 - HeaderIPv6
		}
	}
	if o.Min == 0 {
		o.Min = 1200
		if v6 {
			o.Min = 1280 - HeaderIPv6
		}
	}
	if o.Retries == 0 {
		o.Retries = 2
	}
	if o.Timeout == 0 {
		o.Timeout = time.Second
	}
}

// Search finds the path MTU to target (an IP address or host name).
func Search(ctx context.Context, target string, o Options) (Result, error) {
	start := time.Now()
	ip, err := resolve(ctx, target)
	if err != nil {
		return Result{Target: target}, err
	}
	v6 := ip.To4() == nil
	o.defaults(v6)
	if o.Min < 0 || o.Min > o.Max {
		return Result{Target: target}, fmt.Errorf("payload bounds %d–%d: min must be between 0 and max", o.Min, o.Max)
	}
	r := Result{Target: target, Address: ip.String(), IPv6: v6}
	c, err := openConn(v6)
	if err != nil {
		return r, err
	}
	defer c.Close()
	r.Socket = c.kind
	hdr := HeaderIPv4
	if v6 {
		hdr = HeaderIPv6
	}
	seq := 0
	// try sends one size until it gets an answer, an error, or Retries+1
	// silences; it reports whether the size passed.
	try := func(size int) (bool, error) {
		for range o.Retries + 1 {
			if err := ctx.Err(); err != nil {
				return false, err
			}
			seq++
			out, err := c.echo(ip, seq, size, o.Timeout)
			if err != nil {
				return false, err
			}
			r.Probes++
			st := Step{Payload: size, Packet: size + hdr, RTT: out.rtt}
			switch {
			case out.ok:
				st.Result = "ok"
				if r.RTT == 0 || out.rtt < r.RTT {
					r.RTT = out.rtt
				}
			case out.tooBig && out.local:
				st.Result, st.MTU = "local", out.mtu
			case out.tooBig:
				st.Result, st.MTU = "too big", out.mtu
				r.FragNeededSeen = true
				if out.mtu > 0 && out.mtu < size+hdr {
					r.ReportedMTU = out.mtu
				}
			default:
				st.Result = "timeout"
			}
			r.Steps = append(r.Steps, st)
			if o.OnStep != nil {
				o.OnStep(st)
			}
			switch st.Result {
			case "ok":
				return true, nil
			case "too big", "local":
				return false, nil
			}
		}
		return false, nil // silence after retries: too big (black hole)
	}
	// Reachability with a small packet first.
	ok, err := try(min(56, o.Min))
	if err != nil {
		return r, err
	}
	if !ok {
		r.Took = time.Since(start)
		return r, fmt.Errorf("%s (%s): %w to %d-byte pings with DF set", target, ip, ErrUnreachable, min(56, o.Min))
	}
	// The largest size first: a clean path ends here.
	var lo, hi int // lo passes (or is the reachability size), hi fails
	ok, err = try(o.Max)
	switch {
	case err != nil:
		return r, err
	case ok:
		lo, hi = o.Max, o.Max+1
	default:
		hi = o.Max
		ok, err := try(o.Min)
		if err != nil {
			return r, err
		}
		if ok {
			lo = o.Min
		} else {
			// Below the range: search down to the reachability size.
			hi, lo = o.Min, min(56, o.Min)
		}
	}
	for hi-lo > 1 {
		// A hop reported its MTU: nothing larger can pass it.
		if m := r.ReportedMTU - hdr; m > 0 && m+1 < hi && m >= lo {
			hi = m + 1
		}
		if hi-lo <= 1 {
			break
		}
		mid := (lo + hi) / 2
		// An ICMP error named the next hop's MTU: try exactly that.
		if m := r.ReportedMTU - hdr; m > lo && m < hi && !triedOK(r.Steps, m) {
			mid = m
		}
		ok, err := try(mid)
		if err != nil {
			return r, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	r.LargestPayload = lo
	r.PathMTU = lo + hdr
	r.Limit = limit(r.Steps, lo)
	r.Took = time.Since(start)
	return r, nil
}

// limit tells what stopped the sizes above the largest that passed, from
// the answers those sizes got.
func limit(steps []Step, largest int) string {
	l := LimitNone
	for _, s := range steps {
		if s.Payload <= largest {
			continue
		}
		switch s.Result {
		case "local":
			return LimitLocal
		case "too big":
			l = LimitICMP
		case "timeout":
			if l == LimitNone {
				l = LimitSilence
			}
		}
	}
	return l
}

// Explain says in one sentence what bounded the path, for people.
func (r Result) Explain() string {
	switch r.Limit {
	case LimitLocal:
		return fmt.Sprintf("larger packets did not leave this host: its own interface MTU is the limit (%d); measure from a host whose interface is not the bottleneck", r.PathMTU)
	case LimitICMP:
		return fmt.Sprintf("the path answered larger packets with ICMP \"too big\" (next-hop MTU %d)", r.ReportedMTU)
	case LimitSilence:
		return "larger packets got no answer at all, not even an ICMP error: they are silently dropped (a black hole, which breaks path-MTU discovery)"
	}
	return fmt.Sprintf("the largest size tried passed: the path MTU is at least %d", r.PathMTU)
}

func triedOK(steps []Step, size int) bool {
	for _, s := range steps {
		if s.Payload == size {
			return true
		}
	}
	return false
}

func resolve(ctx context.Context, target string) (net.IP, error) {
	if ip := net.ParseIP(target); ip != nil {
		return ip, nil
	}
	addrs, err := net.DefaultResolver.LookupIP(ctx, "ip", target)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", target, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("resolve %s: no address", target)
	}
	return addrs[0], nil
}
