package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
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
	minP := fs.Int("min", 0, "smallest DF payload to try, in `bytes` (default 1200, IPv6 1232)")
	maxP := fs.Int("max", 0, "largest DF payload to try, in `bytes` (default 1472, IPv6 1452)")
	retries := fs.Int("retries", 2, "retries per size before silence counts as too big (a `count`)")
	timeout := fs.Duration("timeout", time.Second, "how long to wait for each echo (a `duration`: 500ms, 2s)")
	format := fs.String("format", "text", "output `format`: text or json")
	path := fs.String("path", "tunnel", "what TARGET measures: `tunnel` (a VPC host through the VPN) or wan (outside the tunnel)")
	tunnel := fs.Int("tunnel", 0, "RTX tunnel `number`, for the commands")
	tunnelMTU := fs.Int("tunnel-mtu", 1280, "the RTX's current 'ip tunnel mtu', in `bytes`")
	mss := fs.String("mss-limit", "", "the RTX's current 'ip tunnel tcp mss limit': `bytes` or auto")
	lan := fs.String("lan", "lan2", "the RTX's WAN `interface`, for --path wan")
	lanMTU := fs.Int("lan-mtu", 0, "its current 'ip lanN mtu', in `bytes` (default 1500)")
	enc := fs.String("esp-encryption", "aes-cbc", "ESP `encryption` of 'ipsec sa policy': "+strings.Join(probe.ESPEncryptions, ", "))
	auth := fs.String("esp-auth", "sha-hmac", "ESP `authentication` of 'ipsec sa policy': "+strings.Join(probe.ESPAuths, ", "))
	natt := fs.Bool("nat-traversal", false, "the tunnel uses NAT traversal")
	// Flags may come after TARGET too (vpnwatchd probe mtu 198.18.1.1
	// --path wan), as operators type them.
	var targets []string
	rest := args[1:]
	for {
		if code, ok := parse(fs, rest, stdout); !ok {
			return code
		}
		if fs.NArg() == 0 {
			break
		}
		targets = append(targets, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	switch {
	case len(targets) != 1:
		fmt.Fprintln(stderr, "vpnwatchd probe mtu: name one TARGET (an IP address or host name)")
		return exitUsage
	case *path != "tunnel" && *path != "wan":
		fmt.Fprintf(stderr, "vpnwatchd probe mtu: --path %q: tunnel or wan\n", *path)
		return exitUsage
	case !slices.Contains(probe.ESPEncryptions, *enc):
		fmt.Fprintf(stderr, "vpnwatchd probe mtu: --esp-encryption %q: one of %s (as in `ipsec sa policy`)\n", *enc, strings.Join(probe.ESPEncryptions, ", "))
		return exitUsage
	case !slices.Contains(probe.ESPAuths, *auth):
		fmt.Fprintf(stderr, "vpnwatchd probe mtu: --esp-auth %q: one of %s (as in `ipsec sa policy`)\n", *auth, strings.Join(probe.ESPAuths, ", "))
		return exitUsage
	case *minP < 0 || *maxP < 0 || *maxP > 0 && *minP > *maxP:
		fmt.Fprintf(stderr, "vpnwatchd probe mtu: --min %d and --max %d: 0 or more, min not above max\n", *minP, *maxP)
		return exitUsage
	case *retries < 0 || *timeout <= 0 || *tunnelMTU < 0 || *lanMTU < 0:
		fmt.Fprintln(stderr, "vpnwatchd probe mtu: --retries, --tunnel-mtu and --lan-mtu must not be negative, --timeout must be positive")
		return exitUsage
	case !validFormat(stderr, "probe mtu", *format):
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
	target := targets[0]
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
	// A path the largest size passed is at least that wide, not exactly:
	// nothing to size from it.
	switch {
	case r.Limit == probe.LimitNone:
	case *path == "tunnel":
		in.TunnelPathMTU = r.PathMTU
	default:
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
