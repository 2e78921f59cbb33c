package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/probe"
)

func cmdProbe(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "mtu" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprintln(stdout, "Usage: vpnwatchd probe mtu [flags] TARGET\n\nRun 'vpnwatchd probe mtu --help' for the flags.")
			return exitOK
		}
		fmt.Fprintln(stderr, "Usage: vpnwatchd probe mtu [flags] TARGET")
		return exitUsage
	}
	fs := newFlagSet("probe mtu", "probe mtu [flags] TARGET", stdout, stderr)
	minP := fs.Int("min", 0, "smallest DF payload to try (default 1200, IPv6 1232)")
	maxP := fs.Int("max", 0, "largest DF payload to try (default 1472, IPv6 1452)")
	retries := fs.Int("retries", 2, "retries per size before silence counts as too big")
	timeout := fs.Duration("timeout", time.Second, "wait per echo")
	format := fs.String("format", "text", "output format: text or json")
	path := fs.String("path", "tunnel", "what the target measures: tunnel (a VPC host through the VPN) or wan (outside the tunnel)")
	tunnel := fs.Int("tunnel", 0, "RTX tunnel number, for the commands")
	tunnelMTU := fs.Int("tunnel-mtu", 1280, "the RTX's current `ip tunnel mtu`")
	mss := fs.String("mss-limit", "", "the RTX's current `ip tunnel tcp mss limit` (a number or auto)")
	lan := fs.String("lan", "lan2", "the RTX's WAN interface, for --path wan")
	lanMTU := fs.Int("lan-mtu", 0, "its current `ip lanN mtu` (default 1500)")
	enc := fs.String("esp-encryption", "aes-cbc", "ESP encryption of `ipsec sa policy`")
	auth := fs.String("esp-auth", "sha-hmac", "ESP authentication of `ipsec sa policy`")
	natt := fs.Bool("nat-traversal", false, "the tunnel uses NAT traversal")
	if code, ok := parse(fs, args[1:], stdout); !ok {
		return code
	}
	if fs.NArg() != 1 || (*path != "tunnel" && *path != "wan") || !validFormat(stderr, "probe mtu", *format) {
		fmt.Fprintln(stderr, "vpnwatchd probe mtu: name one TARGET; --path is tunnel or wan")
		return exitUsage
	}
	in := probe.Input{Tunnel: *tunnel, TunnelMTU: *tunnelMTU, WANInterface: *lan, WANMTU: *lanMTU, ESPEncryption: *enc, ESPAuth: *auth, NATTraversal: *natt}
	switch *mss {
	case "":
	case "auto":
		in.MSSAuto = true
	default:
		n, err := strconv.Atoi(*mss)
		if err != nil || n < 1 {
			fmt.Fprintf(stderr, "vpnwatchd probe mtu: --mss-limit %q: a number of bytes or auto\n", *mss)
			return exitUsage
		}
		in.MSSLimit = n
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	target := fs.Arg(0)
	o := probe.Options{Min: *minP, Max: *maxP, Retries: *retries, Timeout: *timeout}
	if *format == "text" {
		fmt.Fprintf(stdout, "DF path-MTU search to %s\n", target)
		o.OnStep = func(s probe.Step) {
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
	r, err := probe.Search(ctx, target, o)
	if err != nil {
		fmt.Fprintf(stderr, "vpnwatchd probe mtu: %v\n", err)
		return exitError
	}
	if *path == "tunnel" {
		in.TunnelPathMTU = r.PathMTU
	} else {
		in.WANPathMTU = r.PathMTU
	}
	advice := probe.Recommend(in)
	if *format == "json" {
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
