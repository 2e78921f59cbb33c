package rtx

// The RTX as a customer gateway: its snapshot in vendor-neutral terms, and
// its dialect — the console commands that fix what the rules find.

import (
	"fmt"
	"strings"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/config"
	"github.com/vpnwatchd/vpnwatchd/internal/gateway"
)

// Gateway returns the snapshot in the correlator's vendor-neutral terms.
// The SA history must have been applied (the poller does).
func (s *Snapshot) Gateway() gateway.Snapshot {
	g := gateway.Snapshot{Source: config.RouterSource(s.Router), TakenAt: s.TakenAt, Took: s.Took, Err: s.Err,
		BGP:     gateway.BGPConfig{Known: true, Use: s.Config.BGP.Use, AS: s.Config.BGP.AS},
		Dialect: dialect{}, Tunnels: make([]gateway.Tunnel, 0, len(s.Tunnels))}
	for _, n := range s.Config.BGP.Neighbors {
		g.BGP.Neighbors = append(g.BGP.Neighbors, gateway.NeighborConfig{ID: n.ID, Address: n.Address, RemoteAS: n.RemoteAS, LocalAddress: n.LocalAddress})
	}
	for _, w := range s.Warnings {
		n := 0
		if _, err := fmt.Sscanf(w.Command, "show status tunnel %d", &n); err != nil {
			n = 0
		}
		g.Warnings = append(g.Warnings, gateway.Unreadable{Command: w.Command, Line: w.Line, Text: w.Text, Tunnel: n})
	}
	for _, t := range s.Tunnels {
		tc := t.Config
		gt := gateway.Tunnel{Number: tc.Number, RemoteAddress: tc.RemoteAddress, LocalAddress: tc.LocalAddress,
			InsideAddress: tc.InsideAddress, InsideRemote: tc.InsideRemote,
			State: t.Status.Status, Known: t.Status.Known(), Up: t.Status.Online(), RxPackets: t.Status.RxPackets,
			InstalledRoutes: t.InstalledRoutes, Rekeys: t.Rekeys, Rekeyed: t.Rekeyed, SAsRanOutAt: t.SAsRanOutAt,
			Settings: gateway.Settings{MTU: tc.MTU, MTUConfigured: tc.MTUConfigured,
				MSS: tc.MSSLimit, MSSAuto: tc.MSSAuto, MSSKnown: tc.MSSConfigured,
				ChildLifetime: tc.IPsecSALifetime, IKELifetime: tc.ISAKMPLifetime,
				DPD: gateway.DPD{Known: true, Enabled: tc.Keepalive.Configured && tc.Keepalive.Enabled,
					Interval: time.Duration(tc.Keepalive.Interval) * time.Second, Text: keepaliveText(tc.Keepalive)},
				IKEEncryption: tc.IKEEncryption, IKEHash: tc.IKEHash, IKEGroup: tc.IKEGroup,
				ESPEncryption: tc.ESPEncryption, ESPAuth: tc.ESPAuth, NATTraversal: tc.NATTraversal},
			Native: tc}
		gt.SAs = make([]gateway.SA, 0, len(t.SAs))
		for _, sa := range t.SAs {
			gt.SAs = append(gt.SAs, gateway.SA{ID: sa.ID, Direction: sa.Direction, Remaining: sa.Remaining, FirstSeen: sa.FirstSeen})
		}
		if nb := t.BGP; nb != nil {
			gt.BGP = &gateway.BGPNeighbor{Address: nb.Address, RemoteAS: nb.RemoteAS, State: nb.State, Established: nb.Established(), ReceivedPrefixes: nb.ReceivedPrefixes}
		}
		for _, e := range s.Syslog {
			if e.Tunnel == tc.Number || (e.Peer != "" && e.Peer == tc.RemoteAddress) {
				gt.Log = append(gt.Log, gateway.LogLine{Time: e.Time, Text: e.Text})
			}
		}
		g.Tunnels = append(g.Tunnels, gt)
	}
	return g
}

// keepaliveText is the keepalive as `ipsec ike keepalive use` says it.
func keepaliveText(k Keepalive) string {
	if !k.Configured || !k.Enabled {
		return "off"
	}
	return fmt.Sprintf("%s %d %d", k.Type, k.Interval, k.Retries)
}

// dialect is the RTX's console.
type dialect struct{}

func (dialect) Kind() string { return "RTX" }

func (dialect) Tunnel(t *gateway.Tunnel) string { return fmt.Sprintf("tunnel %d", t.Number) }

// tc is the tunnel's configuration.
func tc(t *gateway.Tunnel) *TunnelConfig {
	if c, ok := t.Native.(*TunnelConfig); ok && c != nil {
		return c
	}
	return &TunnelConfig{Number: t.Number}
}

func (dialect) Setting(t *gateway.Tunnel, s gateway.Setting) string {
	c := tc(t)
	switch s {
	case gateway.SettingRemoteAddress:
		return fmt.Sprintf("`ipsec ike remote address %d`", c.Gateway)
	case gateway.SettingLocalAddress:
		return fmt.Sprintf("`ipsec ike local address %d %s`", c.Gateway, c.LocalAddress)
	case gateway.SettingMSS:
		return fmt.Sprintf("`ip tunnel tcp mss limit %d`", c.MSSLimit)
	case gateway.SettingMTU:
		if c.MTUConfigured {
			return "`ip tunnel mtu`"
		}
		return "default"
	}
	return ""
}

func (d dialect) Fix(t *gateway.Tunnel, f gateway.Fix) string {
	if t == nil {
		t = &gateway.Tunnel{}
	}
	c := tc(t)
	switch f.Kind {
	case gateway.FixInspect:
		return "On the RTX: `show ipsec sa`, `show status tunnel N`, `show status bgp neighbor`, `show log | grep IKE`."
	case gateway.FixInspectTunnel:
		return "On the RTX: `show status tunnel N` and `show ipsec sa` for this tunnel; see any SA, BGP or MTU finding for the same tunnel."
	case gateway.FixBGPCheck:
		return "On the RTX, `show status bgp neighbor` must show the AWS neighbor Established."
	case gateway.FixGatewayThinksDown:
		return "The RTX thinks the tunnel is down while AWS has it up: `show ipsec sa` on the RTX, and `show log` for IKE messages; a stale SA can be removed with `ipsec refresh sa` (administrator)."
	case gateway.FixAdvertise:
		return "The RTX advertises nothing to AWS: check `bgp import AWS_ASN static filter N` and `bgp import filter N equal YOUR_LAN/NN` for your office networks, then `bgp configure refresh`."
	case gateway.FixAcceptRoutes:
		return "Check the RTX `bgp import filter` lines accept the VPC prefixes (the AWS sample uses `bgp import filter 1 equal 0.0.0.0/0`), and that the VPC's route table propagates the virtual private gateway."
	case gateway.FixBGP:
		return d.bgpFix(t, f)
	case gateway.FixMSS:
		return fmt.Sprintf("Type: `tunnel select %d`, `ip tunnel tcp mss limit %d` (or `ip tunnel tcp mss limit auto`), then `tunnel select none` and `save`.", c.Number, f.Limit)
	case gateway.FixMTU:
		return fmt.Sprintf("Type: `tunnel select %d`, `ip tunnel mtu %d`, `ip tunnel tcp mss limit %d` (or `auto`).", c.Number, f.MTU, f.MTU-40)
	case gateway.FixLifetimes:
		var fixes []string
		if f.Phase2 != 0 {
			fixes = append(fixes, fmt.Sprintf("`ipsec ike duration ipsec-sa %d %d`", c.Gateway, int(f.Phase2.Seconds())))
		}
		if f.Phase1 != 0 {
			fixes = append(fixes, fmt.Sprintf("`ipsec ike duration isakmp-sa %d %d`", c.Gateway, int(f.Phase1.Seconds())))
		}
		return fmt.Sprintf("Type `tunnel select %d`, then %s, so that both ends rekey on the same schedule.", c.Number, strings.Join(fixes, " and "))
	case gateway.FixDPD:
		return fmt.Sprintf("Type: `tunnel select %d`, `ipsec ike keepalive use %d on dpd 10 3` (AWS sends DPD every 10 s and gives up after 3 misses).", c.Number, c.Gateway)
	case gateway.FixRestart:
		return "`ipsec refresh sa` as administrator"
	case gateway.FixNeverRekeyed:
		return fmt.Sprintf("Check `ipsec ike duration ipsec-sa %d` and `ipsec auto refresh on`; the SA table may be stuck: `ipsec refresh sa` (administrator).", c.Gateway)
	case gateway.FixLocalAddress:
		return fmt.Sprintf("fix `ipsec ike local address %d`", c.Gateway)
	case gateway.FixNotJoined:
		return "If the VPN connection was recreated, its tunnels have new outside IPs and pre-shared keys: apply the new configuration download to the RTX. " +
			"Otherwise add the AWS account/region to vpnwatchd, or join the tunnel explicitly with routers[].tunnels in vpnwatchd.yaml."
	case gateway.FixPSK:
		return fmt.Sprintf(" and type it on the RTX: `tunnel select %d`, `ipsec ike pre-shared-key %d text KEY`, `tunnel select none`, then `ipsec refresh sa` as administrator", c.Number, c.Gateway)
	case gateway.FixProposal:
		return d.proposalFix(c)
	case gateway.FixTrafficSelectors:
		return fmt.Sprintf(". On the RTX: `tunnel select %d`, `ipsec ike local id %d 0.0.0.0/0`, `ipsec ike remote id %d 0.0.0.0/0` (or the CIDRs of the tunnel options), `tunnel select none`, then `ipsec refresh sa` as administrator", c.Number, c.Gateway, c.Gateway)
	case gateway.FixAuth:
		s := fmt.Sprintf(". On the RTX: `tunnel select %d`, check `ipsec ike pre-shared-key %d text KEY` against the tunnel's key (VPN configuration download) and `ipsec ike local address %d %s`", c.Number, c.Gateway, c.Gateway, f.Address)
		if c.LocalAddress != "" && f.Address != "" && c.LocalAddress != f.Address {
			s += fmt.Sprintf(" (it is %s now)", c.LocalAddress)
		}
		return s + ", then `ipsec refresh sa` as administrator"
	case gateway.FixASN:
		return fmt.Sprintf(": `bgp autonomous-system %s`, `bgp configure refresh`", f.ASN)
	case gateway.FixHoldTime:
		return ". Keep `hold-time=30` on the RTX's `bgp neighbor` line for AWS"
	case gateway.FixUnreadable:
		return "Nothing on the router needs to change. This firmware or console character set words its output in a way vpnwatchd does not know yet: " +
			"run `vpnwatchd collect --config.file FILE --out DIR` and send the bundle (secrets are redacted) or the quoted lines to the vpnwatchd maintainers."
	case gateway.FixIKEFragmentation:
		return "measure the path with `vpnwatchd probe mtu` (DF ping) and set `ip tunnel mtu` and `ip tunnel tcp mss limit` from it."
	case gateway.FixStale:
		return "Check that the router answers SSH (`ssh USER@ROUTER`), the user and password or key, and the known_hosts entry. vpnwatchd reconnects by itself."
	case gateway.FixHostKey:
		return "Confirm on the router's console (`show sshd public key`) that the new key is the router's own — a replaced router or a regenerated key — " +
			"and only then replace its line in " + f.Address + ". If you did not change the router, treat this as a possible man-in-the-middle."
	}
	return ""
}

// Algorithms AWS Site-to-Site VPN does not accept, in the RTX's words
// (AWS's tunnel options list AES-CBC/GCM, SHA-1/SHA-2 and DH groups 2, 5,
// 14–24).
var (
	awsRefusesEncryption = map[string]bool{"des-cbc": true, "3des-cbc": true}
	awsRefusesHash       = map[string]bool{"md5": true, "md5-hmac": true}
	awsRefusesGroup      = map[string]bool{"modp768": true}
)

func (dialect) proposalFix(c *TunnelConfig) string {
	var lines []string
	g := c.Gateway
	if awsRefusesEncryption[c.IKEEncryption] {
		lines = append(lines, fmt.Sprintf("`ipsec ike encryption %d aes-cbc` (was %s)", g, c.IKEEncryption))
	}
	if awsRefusesHash[c.IKEHash] {
		lines = append(lines, fmt.Sprintf("`ipsec ike hash %d sha256` (was %s)", g, c.IKEHash))
	}
	if awsRefusesGroup[c.IKEGroup] {
		lines = append(lines, fmt.Sprintf("`ipsec ike group %d modp2048` (was %s)", g, c.IKEGroup))
	}
	if awsRefusesEncryption[c.ESPEncryption] || awsRefusesHash[c.ESPAuth] {
		lines = append(lines, fmt.Sprintf("`ipsec sa policy P %d esp aes-cbc sha256-hmac` (P: the number of `ipsec tunnel P` under `tunnel select %d`; was %s %s)", g, c.Number, c.ESPEncryption, c.ESPAuth))
	}
	if len(lines) > 0 {
		return fmt.Sprintf(" On the RTX, `tunnel select %d`, then: %s; then `ipsec refresh sa` as administrator.", c.Number, strings.Join(lines, ", "))
	}
	return " Compare `ipsec ike encryption/hash/group` and `ipsec sa policy` of this tunnel with the tunnel options in the AWS console."
}

// bgpFix compares the RTX BGP configuration with what AWS expects (the
// neighbors are in f's snapshot: the dialect is given them by the caller
// through the tunnel's configuration).
func (dialect) bgpFix(t *gateway.Tunnel, f gateway.Fix) string {
	var b strings.Builder
	awsIP, cgwIP := f.AWSInside, f.CustomerInside
	c := tc(t)
	cfg := f.BGP
	var nb *gateway.NeighborConfig
	for i := range cfg.Neighbors {
		if cfg.Neighbors[i].Address == awsIP {
			nb = &cfg.Neighbors[i]
		}
	}
	switch {
	case !cfg.Use:
		fmt.Fprintf(&b, " BGP is not enabled: type `bgp use on`, `bgp autonomous-system YOUR_ASN`, `bgp neighbor N AWS_ASN %s hold-time=30 local-address=%s`, `bgp configure refresh`.", awsIP, cgwIP)
	case nb == nil:
		fmt.Fprintf(&b, " No `bgp neighbor` points at %s: add `bgp neighbor N AWS_ASN %s hold-time=30 local-address=%s` (AWS_ASN from the VPN's configuration download) and `bgp configure refresh`.", awsIP, awsIP, cgwIP)
	case nb.LocalAddress != "" && nb.LocalAddress != cgwIP:
		fmt.Fprintf(&b, " `bgp neighbor %d` uses local-address=%s; AWS expects %s: `bgp neighbor %d %s %s hold-time=30 local-address=%s`, `bgp configure refresh`.", nb.ID, nb.LocalAddress, cgwIP, nb.ID, nb.RemoteAS, awsIP, cgwIP)
	default:
		fmt.Fprintf(&b, " `bgp neighbor %d %s %s` looks right; check the AS numbers against the configuration download and `bgp configure refresh`.", nb.ID, nb.RemoteAS, awsIP)
	}
	if c.InsideAddress != "" && !strings.HasPrefix(c.InsideAddress, cgwIP+"/") {
		fmt.Fprintf(&b, " The tunnel's `ip tunnel address %s` should be %s/30 (tunnel select %d).", c.InsideAddress, cgwIP, c.Number)
	}
	return b.String()
}

// Dialect is the RTX's dialect, for fixes about a tunnel no RTX snapshot
// describes (an AWS tunnel joined to no gateway is assumed to be an RTX's).
func Dialect() gateway.Dialect { return dialect{} }
