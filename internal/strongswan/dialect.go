package strongswan

// strongSwan's dialect: swanctl.conf lines, swanctl commands, nftables
// and ip(8) for what lives outside strongSwan (MTU, MSS clamping), FRR's
// vtysh for BGP.

import (
	"fmt"
	"strings"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/gateway"
)

// Dialect is strongSwan's dialect.
func Dialect() gateway.Dialect { return dialect{} }

type dialect struct{}

func (dialect) Kind() string { return "strongSwan" }

func (dialect) Tunnel(t *gateway.Tunnel) string { return "connection " + t.Name }

func (dialect) Setting(t *gateway.Tunnel, s gateway.Setting) string {
	switch s {
	case gateway.SettingRemoteAddress:
		return fmt.Sprintf("`remote_addrs` of connection %s", t.Name)
	case gateway.SettingLocalAddress:
		return fmt.Sprintf("`local_addrs = %s` of connection %s", t.LocalAddress, t.Name)
	case gateway.SettingMSS:
		return fmt.Sprintf("the nftables MSS clamp `tcp option maxseg size set %d`", t.Settings.MSS)
	case gateway.SettingMTU:
		return "interface"
	}
	return ""
}

// seconds renders a lifetime as swanctl.conf writes it.
func seconds(d time.Duration) string { return fmt.Sprintf("%ds", int(d.Seconds())) }

func (d dialect) Fix(t *gateway.Tunnel, f gateway.Fix) string {
	if t == nil {
		t = &gateway.Tunnel{}
	}
	conn := t.Name
	if conn == "" {
		conn = "CONN"
	}
	reload := "then `swanctl --load-all`"
	switch f.Kind {
	case gateway.FixInspect:
		return "On the strongSwan host: `swanctl --list-sas`, `swanctl --list-conns`, and charon's log (`journalctl -u strongswan`)" +
			"; for BGP `vtysh -c 'show bgp summary'`."
	case gateway.FixInspectTunnel:
		return fmt.Sprintf("On the strongSwan host: `swanctl --list-sas --ike %s` and charon's log for this connection; see any SA, BGP or MTU finding for the same tunnel.", conn)
	case gateway.FixBGPCheck:
		return "In FRR, `vtysh -c 'show bgp summary'` must show the AWS neighbor Established."
	case gateway.FixGatewayThinksDown:
		return fmt.Sprintf("strongSwan has no installed child SA while AWS has the tunnel up: `swanctl --list-sas --ike %s` and charon's log; `swanctl --initiate --child %s` starts it again.", conn, conn)
	case gateway.FixAdvertise:
		return "FRR advertises nothing to AWS: add your office networks under `router bgp YOUR_ASN` → `address-family ipv4 unicast` → `network YOUR_LAN/NN` (and a route-map that permits them), then `clear bgp * soft out` in vtysh."
	case gateway.FixAcceptRoutes:
		return "Check that FRR's inbound route-map or prefix-list for the AWS neighbor accepts the VPC prefixes (`show bgp neighbors ADDRESS` in vtysh; FRR refuses eBGP routes without a policy unless `no bgp ebgp-requires-policy`), and that the VPC's route table propagates the virtual private gateway."
	case gateway.FixBGP:
		return d.bgpFix(t, f)
	case gateway.FixMSS:
		return fmt.Sprintf("Clamp TCP MSS to %d in nftables (`tcp flags syn tcp option maxseg size set %d` in the forward chain, or `set rt mtu` to follow the route MTU), then `nft -f` your ruleset.", f.Limit, f.Limit)
	case gateway.FixMTU:
		return fmt.Sprintf("Set the tunnel interface's MTU to %d (`ip link set dev IFACE mtu %d`, and in its persistent network configuration) and clamp TCP MSS to %d in nftables (`tcp option maxseg size set %d`).", f.MTU, f.MTU, f.MTU-40, f.MTU-40)
	case gateway.FixLifetimes:
		var lines []string
		if f.Phase2 != 0 {
			lines = append(lines, fmt.Sprintf("`life_time = %s` in children.%s (and `rekey_time` below it, e.g. %s)", seconds(f.Phase2), conn, seconds(f.Phase2*9/10)))
		}
		if f.Phase1 != 0 {
			lines = append(lines, fmt.Sprintf("`rekey_time = %s` in connections.%s", seconds(f.Phase1), conn))
		}
		return fmt.Sprintf("In swanctl.conf set %s, %s, so that both ends rekey on the same schedule.", strings.Join(lines, " and "), reload)
	case gateway.FixDPD:
		return fmt.Sprintf("In swanctl.conf set `dpd_delay = 10s` in connections.%s and `dpd_action = restart` in its children, %s (AWS sends DPD every 10 s and gives up after 3 misses).", conn, reload)
	case gateway.FixRestart:
		return fmt.Sprintf("`swanctl --terminate --ike %s` then `swanctl --initiate --child %s`", conn, conn)
	case gateway.FixNeverRekeyed:
		return fmt.Sprintf("Check `rekey_time` and `life_time` in children.%s of swanctl.conf (strongSwan rekeys at rekey_time); `swanctl --list-sas --ike %s` shows the SA's rekey time.", conn, conn)
	case gateway.FixLocalAddress:
		return fmt.Sprintf("fix `local_addrs` in connections.%s of swanctl.conf, %s", conn, reload)
	case gateway.FixNotJoined:
		return "If the VPN connection was recreated, its tunnels have new outside IPs and pre-shared keys: put them in `remote_addrs` and the secrets of swanctl.conf, then `swanctl --load-all`. " +
			"Otherwise add the AWS account/region to vpnwatchd."
	case gateway.FixPSK:
		return fmt.Sprintf(" and put it in swanctl.conf: `secrets { ike-%s { id = %s secret = \"KEY\" } }`, then `swanctl --load-creds` and `swanctl --initiate --child %s`", conn, t.RemoteAddress, conn)
	case gateway.FixProposal:
		return fmt.Sprintf(" In swanctl.conf use e.g. `proposals = aes128-sha256-modp2048` in connections.%s and `esp_proposals = aes128-sha256-modp2048` in its children (the current ones: IKE %s, ESP %s %s), %s.",
			conn, orUnknown(strings.TrimSpace(t.Settings.IKEEncryption+" "+t.Settings.IKEHash+" "+t.Settings.IKEGroup)), orUnknown(t.Settings.ESPEncryption), t.Settings.ESPAuth, reload)
	case gateway.FixTrafficSelectors:
		return fmt.Sprintf(". In swanctl.conf: `local_ts = 0.0.0.0/0` and `remote_ts = 0.0.0.0/0` in children.%s (or the CIDRs of the tunnel options), %s", conn, reload)
	case gateway.FixAuth:
		s := fmt.Sprintf(". In swanctl.conf: `local { auth = psk id = %s }` in connections.%s and the tunnel's key in its secret", f.Address, conn)
		if t.LocalAddress != "" && f.Address != "" && t.LocalAddress != f.Address {
			s += fmt.Sprintf(" (local_addrs is %s now)", t.LocalAddress)
		}
		return s + ", " + reload
	case gateway.FixASN:
		return fmt.Sprintf(": in FRR, `router bgp %s` (vtysh `show running-config`)", f.ASN)
	case gateway.FixHoldTime:
		return ". In FRR keep `neighbor ADDRESS timers 10 30` for AWS"
	case gateway.FixUnreadable:
		return "Nothing on the gateway needs to change. strongSwan answered in a way vpnwatchd does not know yet: send the quoted lines to the vpnwatchd maintainers."
	case gateway.FixIKEFragmentation:
		return fmt.Sprintf("IKE messages larger than the path are fragmented by IP and often lost (a large DH group makes CREATE_CHILD_SA about 1,300 bytes): set `fragmentation = yes` in connections.%s and a lower `charon.fragment_size` (e.g. 1100) in strongswan.conf, or raise the path MTU; measure it with `vpnwatchd probe mtu`.", conn)
	case gateway.FixStale:
		return "Check that charon runs and that vpnwatchd may open its vici socket (`swanctl --stats --uri unix://PATH`; the socket's group, usually root, must include the vpnwatchd user); for an ssh:// gateway also the SSH login, the known_hosts entry and sshd's `AllowStreamLocalForwarding yes`. vpnwatchd reconnects by itself."
	case gateway.FixHostKey:
		return "Confirm on the gateway's console (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`) that the new key is the gateway's own — a reinstalled host or a regenerated key — " +
			"and only then replace its line in " + f.Address + ". If you did not change the gateway, treat this as a possible man-in-the-middle."
	}
	return ""
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func (dialect) bgpFix(t *gateway.Tunnel, f gateway.Fix) string {
	if !f.BGP.Known {
		return " vpnwatchd does not read this gateway's BGP (set `frr: true` for FRR); in FRR: `neighbor " + f.AWSInside + " remote-as AWS_ASN` under `router bgp YOUR_ASN` with `update-source " + f.CustomerInside + "`."
	}
	for _, n := range f.BGP.Neighbors {
		if n.Address == f.AWSInside {
			return fmt.Sprintf(" FRR has `neighbor %s remote-as %s`; check `show bgp neighbors %s` in vtysh for why it is not Established, and that the inside address %s is on the gateway.", n.Address, n.RemoteAS, n.Address, f.CustomerInside)
		}
	}
	return fmt.Sprintf(" FRR has no neighbor %s: in vtysh, `configure`, `router bgp YOUR_ASN`, `neighbor %s remote-as AWS_ASN`, `neighbor %s update-source %s`, `neighbor %s timers 10 30`.", f.AWSInside, f.AWSInside, f.AWSInside, f.CustomerInside, f.AWSInside)
}
