package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/probe"
)

func cmdProbe(o *opts) int {
	stdout, stderr := o.stdout, o.stderr
	switch {
	case o.minP < 0 || o.maxP < 0 || o.maxP > 0 && o.minP > o.maxP:
		fmt.Fprintf(stderr, "vpnwatchd probe mtu: --min %d and --max %d: 0 or more, min not above max\n", o.minP, o.maxP)
		return exitUsage
	case o.retries < 0 || o.probeTimeout <= 0 || o.tunnelMTU < 0 || o.lanMTU < 0:
		fmt.Fprintln(stderr, "vpnwatchd probe mtu: --retries, --tunnel-mtu and --lan-mtu must not be negative, --timeout must be positive")
		return exitUsage
	}
	in := probe.Input{Tunnel: o.tunnel, TunnelMTU: o.tunnelMTU, WANInterface: o.lan, WANMTU: o.lanMTU, ESPEncryption: o.espEnc, ESPAuth: o.espAuth, NATTraversal: o.natt}
	switch o.mss {
	case "":
	case "auto":
		in.MSSAuto = true
	default:
		n, err := strconv.Atoi(o.mss)
		if err != nil || n < 1 {
			fmt.Fprintf(stderr, "vpnwatchd probe mtu: --mss-limit %q: a number of bytes or auto\n", o.mss)
			return exitUsage
		}
		in.MSSLimit = n
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	po := probe.Options{Min: o.minP, Max: o.maxP, Retries: o.retries, Timeout: o.probeTimeout}
	if o.format == "text" {
		fmt.Fprintf(stdout, "DF path-MTU search to %s\n", o.target)
		po.OnStep = func(s probe.Step) {
			line := fmt.Sprintf("  payload %4d (packet %4d)  %s", s.Payload, s.Packet, s.Result)
			switch {
			case s.Result == "ok":
				line += fmt.Sprintf("  %s", s.RTT.Round(10*time.Microsecond))
			case s.MTU > 0:
				line += fmt.Sprintf("  (ICMP: next-hop MTU %d)", s.MTU)
			}
			fmt.Fprintln(stdout, line)
		}
	}
	r, err := probe.Search(ctx, o.target, po)
	if err != nil {
		fmt.Fprintf(stderr, "vpnwatchd probe mtu: %v\n", err)
		return exitError
	}
	// A path the largest size passed is at least that wide, not exactly:
	// nothing to size from it.
	switch {
	case r.Limit == probe.LimitNone:
	case o.path == "tunnel":
		in.TunnelPathMTU = r.PathMTU
	default:
		in.WANPathMTU = r.PathMTU
	}
	advice := probe.Recommend(in)
	if o.format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(struct {
			Result         probe.Result   `json:"result"`
			Recommendation []probe.Advice `json:"recommendation"`
		}{r, advice})
		return exitOK
	}
	hdr := probe.HeaderIPv4
	if r.IPv6 {
		hdr = probe.HeaderIPv6
	}
	fmt.Fprintf(stdout, "\npath MTU %d = largest DF payload %d + %d (IP and ICMP headers); %d probes over a %s socket, %s",
		r.PathMTU, r.LargestPayload, hdr, r.Probes, r.Socket, r.Took.Round(time.Millisecond))
	fmt.Fprintf(stdout, "; %s\n", r.Explain())
	if len(advice) == 0 {
		fmt.Fprintln(stdout, "The RTX settings given already fit this path.")
	} else {
		fmt.Fprintln(stdout, "\nOn the RTX:")
		for _, a := range advice {
			fmt.Fprintf(stdout, "  %-40s # %s\n", a.Command, a.Why)
		}
	}
	return exitOK
}
