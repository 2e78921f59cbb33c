package rtxsim

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// The output formats follow the public samples in shared/rtx-samples
// (RTX1200 Rev.10 layout: three-digit tun[001]esp, no MTU lines in
// `show status tunnel`). Where no sample exists (a tunnel that is down, an
// established BGP session) the wording is vpnwatchd's best guess, which
// its parsers accept and treat conservatively.

var (
	tunnelCmdRE   = regexp.MustCompile(`^show status tunnel (\d+)$`)
	receivedCmdRE = regexp.MustCompile(`^show status bgp neighbor (\S+) received-routes$`)
)

// Output renders the answer to one command line as the console would print
// it (without paging) in the router's console character set's language,
// as UTF-8 text; ok is false for commands the router does not know.
func (r *Router) Output(cmd string) (string, bool) {
	r.mu.Lock()
	cs := r.charset
	r.mu.Unlock()
	return r.OutputIn(cmd, cs)
}

// isJapanese reports whether a console character set answers in Japanese.
func isJapanese(charset string) bool { return strings.HasPrefix(charset, "ja.") }

// OutputIn is Output for a session whose console character set is charset.
// Japanese wording is used where a public sample shows it (`show status
// tunnel`, the `show ip route` header); the other commands' Japanese forms
// are not known and are printed in English.
func (r *Router) OutputIn(cmd, charset string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.advance()
	now := r.now()
	ja := isJapanese(charset)
	switch {
	case cmd == "show ipsec sa":
		return r.showIPsecSA(now), true
	case tunnelCmdRE.MatchString(cmd):
		var n int
		fmt.Sscanf(tunnelCmdRE.FindStringSubmatch(cmd)[1], "%d", &n)
		if ja {
			return r.showTunnelJa(n, now), true
		}
		return r.showTunnel(n, now), true
	case cmd == "show status bgp neighbor":
		return r.showBGP(now), true
	case receivedCmdRE.MatchString(cmd):
		if r.receivedReply != "" {
			return r.receivedReply + "\n", true
		}
		if r.noReceivedRoutes {
			return "", false
		}
		return r.showReceived(receivedCmdRE.FindStringSubmatch(cmd)[1]), true
	case cmd == "show ip route":
		return r.showRoute(ja), true
	case cmd == "show config":
		return r.showConfig(now), true
	case cmd == "show environment":
		return fmt.Sprintf("%s\nCPU:   3%%(5sec)   2%%(1min)   2%%(5min)    Memory: 22%% used\nBoot time: %s\n",
			r.model, now.Add(-72*time.Hour).Format("2006/01/02 15:04:05")), true
	}
	return "", false
}

func (r *Router) showIPsecSA(now time.Time) string {
	var isakmp, send, recv int
	for _, s := range r.sas {
		switch s.dir {
		case "send":
			send++
		case "recv":
			recv++
		default:
			isakmp++
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Total: isakmp:%d send:%d recv:%d\n\n", isakmp, send, recv)
	b.WriteString("sa   sgw isakmp connection   dir  life[s] remote-id\n")
	b.WriteString("-----------------------------------------------------------------------------\n")
	for _, s := range r.sas {
		conn, dir, parent := "isakmp", "-", "-"
		if s.tunnel != 0 {
			conn, dir = fmt.Sprintf("tun[%03d]esp", s.tunnel), s.dir
			if r.hasSA(s.isakmp) {
				parent = fmt.Sprint(s.isakmp)
			}
		}
		life := int(s.expires.Sub(now) / time.Second)
		fmt.Fprintf(&b, "%-5d %-4d %-4s %-12s %-4s %-7d %s\n", s.id, s.gateway, parent, conn, dir, life, s.remote)
	}
	return b.String()
}

func (r *Router) hasSA(id int) bool {
	for _, s := range r.sas {
		if s.id == id {
			return true
		}
	}
	return false
}

func uptime(d time.Duration) string {
	d = d.Truncate(time.Second)
	var parts []string
	unit := func(v int, name string) {
		if v == 0 && len(parts) == 0 && name != "second" {
			return
		}
		if v != 1 {
			name += "s"
		}
		parts = append(parts, fmt.Sprintf("%d %s", v, name))
	}
	unit(int(d/(24*time.Hour)), "day")
	unit(int(d%(24*time.Hour)/time.Hour), "hour")
	unit(int(d%time.Hour/time.Minute), "minute")
	unit(int(d%time.Minute/time.Second), "second")
	return strings.Join(parts, " ")
}

func plural(n int64, word string) string {
	if n == 1 || n == 0 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func (r *Router) showTunnel(n int, now time.Time) string {
	t := r.tunnels[n]
	var b strings.Builder
	fmt.Fprintf(&b, "TUNNEL[%d]: \nDescription: \n  Interface type: IPsec\n", n)
	var rx, tx int64
	if t == nil || !t.online {
		if r.offlineWording == OfflineUnknownWords {
			b.WriteString("  Current status is Disconnected (waiting for IKE).\n")
		} else {
			b.WriteString("  Current status is Offline.\n")
		}
	} else {
		elapsed := now.Sub(t.since)
		rx, tx = int64(elapsed/time.Second)/4, int64(elapsed/time.Second)/3
		fmt.Fprintf(&b, "  Current status is Online.\n  from %s.\n  %s  connection.\n", t.since.Format("2006/01/02 15:04:05"), uptime(elapsed))
	}
	fmt.Fprintf(&b, "  Received:    (IPv4) %s [%s]\n               (IPv6) 0 packet [0 octet]\n", plural(rx, "packet"), plural(rx*96, "octet"))
	fmt.Fprintf(&b, "  Transmitted: (IPv4) %s [%s]\n               (IPv6) 0 packet [0 octet]\n", plural(tx, "packet"), plural(tx*96, "octet"))
	return b.String()
}

// showTunnelJa is `show status tunnel N` on a Japanese console, as the
// public sample shared/rtx-samples/show-status-tunnel.3.txt prints it.
func (r *Router) showTunnelJa(n int, now time.Time) string {
	t := r.tunnels[n]
	var b strings.Builder
	fmt.Fprintf(&b, "TUNNEL[%d]:\n説明: \n  インタフェースの種類: IPsec\n", n)
	var rx, tx int64
	switch {
	case t != nil && t.online:
		elapsed := now.Sub(t.since)
		rx, tx = int64(elapsed/time.Second)/4, int64(elapsed/time.Second)/3
		fmt.Fprintf(&b, "  トンネルインタフェースは接続されています\n  開始: %s\n  通信時間: %s\n", t.since.Format("2006/01/02 15:04:05"), uptimeJa(elapsed))
	case r.offlineWording == OfflineUnknownWords:
		b.WriteString("  トンネルインタフェースはIKEの完了を待っています\n")
	default:
		b.WriteString("  トンネルインタフェースは接続されていません\n")
	}
	fmt.Fprintf(&b, "  受信: (IPv4) %d パケット [%d オクテット]\n        (IPv6) 0 パケット [0 オクテット]\n", rx, rx*96)
	fmt.Fprintf(&b, "  送信: (IPv4) %d パケット [%d オクテット]\n        (IPv6) 0 パケット [0 オクテット]\n", tx, tx*96)
	return b.String()
}

// uptimeJa renders "2時間5分10秒" (sample 3); days as 日 are a guess.
func uptimeJa(d time.Duration) string {
	d = d.Truncate(time.Second)
	var b strings.Builder
	for _, u := range []struct {
		v    time.Duration
		name string
	}{{d / (24 * time.Hour), "日"}, {d % (24 * time.Hour) / time.Hour, "時間"}, {d % time.Hour / time.Minute, "分"}, {d % time.Minute / time.Second, "秒"}} {
		if u.v == 0 && b.Len() == 0 && u.name != "秒" {
			continue
		}
		fmt.Fprintf(&b, "%d%s", u.v, u.name)
	}
	return b.String()
}

func clock(d time.Duration) string {
	d = d.Truncate(time.Second)
	return fmt.Sprintf("%02d:%02d:%02d", int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60)
}

func (r *Router) showBGP(now time.Time) string {
	var blocks []string
	for _, t := range r.sortedTunnels() {
		if t.Neighbor == "" {
			continue
		}
		state := t.bgpState()
		var b strings.Builder
		fmt.Fprintf(&b, "BGP neighbor is %s, remote AS %s, local AS %s, external link\n", t.Neighbor, t.RemoteAS, r.localAS)
		if state == "Established" {
			fmt.Fprintf(&b, "  BGP version 4, remote router ID %s\n  BGP state = Established, up for %s\n", t.Neighbor, clock(now.Sub(t.bgpSince)))
			b.WriteString("  Last read 00:00:05, hold time is 30, keepalive interval is 10 seconds\n")
			if r.prefixLine {
				fmt.Fprintf(&b, "  Received prefixes: %d\n", len(t.Routes))
			}
			b.WriteString("  Connection established 1; dropped 0\n  Last reset never\n")
			fmt.Fprintf(&b, "Local host: %s, Local port: 179\nForeign host: %s, Foreign port: 32768\n", t.Neighbor, t.Neighbor)
		} else {
			fmt.Fprintf(&b, "  BGP version 0, remote router ID 0.0.0.0\n  BGP state = %s\n", state)
			b.WriteString("  Last read 00:00:00, hold time is 0, keepalive interval is 0 seconds\n")
			b.WriteString("  Received 0 messages, 0 notifications, 0 in queue\n  Sent 0 messages, 0 notifications, 0 in queue\n")
			b.WriteString("  Connection established 0; dropped 0\n  Last reset never\n")
			fmt.Fprintf(&b, "Local host: unspecified\nForeign host: %s, Foreign port: 0\n", t.Neighbor)
		}
		blocks = append(blocks, b.String())
	}
	return strings.Join(blocks, "\n")
}

// showReceived is `show status bgp neighbor ADDR received-routes`, in the
// layout of the public advertised-routes sample
// (shared/rtx-samples/show-status-bgp-neighbor-advertised-routes.1.txt);
// the AS path of a received route ("7224 IGP") is a guess.
func (r *Router) showReceived(addr string) string {
	var routes []string
	var as string
	for _, t := range r.sortedTunnels() {
		if t.Neighbor == addr && t.bgpState() == "Established" {
			routes, as = t.Routes, t.RemoteAS
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Total routes: %d\n*: valid route\n  Network            Next Hop        Metric LocPrf Path\n", len(routes))
	for _, p := range routes {
		fmt.Fprintf(&b, "* %-18s %-15s %6d        %s IGP\n", p, addr, 100, as)
	}
	return b.String()
}

// showRoute is `show ip route`. A router installs only the best path: with
// both tunnels' BGP sessions established, each VPC prefix appears once, via
// the first tunnel (shared/rtx-samples/show-ip-route.1.txt shows the VPC
// route via TUNNEL[1] only); the standby tunnel has no BGP route here.
func (r *Router) showRoute(ja bool) string {
	var b strings.Builder
	if ja {
		b.WriteString("宛先ネットワーク    ゲートウェイ     インタフェース  種別  付加情報\n")
	} else {
		b.WriteString("Destination         Gateway          Interface       Kind  Additional Info.\n")
	}
	b.WriteString("default             198.18.0.1       LAN2          static  \n")
	installed := map[string]bool{}
	for _, t := range r.sortedTunnels() {
		if !t.online {
			continue
		}
		if t.bgpState() == "Established" {
			for _, p := range t.Routes {
				if installed[p] {
					continue
				}
				installed[p] = true
				fmt.Fprintf(&b, "%-19s %-16s %-15s BGP  path=%s\n", p, t.Neighbor, fmt.Sprintf("TUNNEL[%d]", t.Number), t.RemoteAS)
			}
		}
	}
	b.WriteString("192.168.100.0/24    192.168.100.1    LAN1        implicit  \n")
	return b.String()
}

func (r *Router) showConfig(now time.Time) string {
	return fmt.Sprintf("# %s (Mon Jan 12 10:00:00 2026)\n# MAC Address : 00:a0:de:00:00:01, 00:a0:de:00:00:02, 00:a0:de:00:00:03\n"+
		"# Memory 128Mbytes, 3LAN, 1BRI\n# Reporting Date: %s\n%s", r.model, now.Format("Jan 2 15:04:05 2006"), strings.TrimLeft(r.config, "\n"))
}
