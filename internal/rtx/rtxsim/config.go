package rtxsim

import (
	"fmt"
	"strings"
)

// SampleConfig describes an RTX configuration as AWS's sample for Yamaha
// routers sets it up, one tunnel per outside IP: tunnel N uses security
// gateway N, `ipsec tunnel 20N`, inside addresses 169.254.N0.2/30 with the
// AWS side at .1, and a BGP neighbor per tunnel.
type SampleConfig struct {
	WAN        string   // the router's WAN address (`ipsec ike local address`)
	OutsideIPs []string // the AWS tunnels' outside IPs
	// MSS is the `ip tunnel tcp mss limit` value: "1379" as in the seed
	// incident, "auto", …
	MSS string
	// IPsecSALifetime is `ipsec ike duration ipsec-sa` in seconds.
	IPsecSALifetime int
	// DPD turns on `ipsec ike keepalive use N on dpd 10 3`.
	DPD bool
}

// SamplePSK is the pre-shared key text of tunnel n in a SampleConfig, for
// tests that check it never leaves vpnwatchd.
func SamplePSK(n int) string { return fmt.Sprintf("sample-psk-tunnel-%d", n) }

// Text renders the configuration as `show config` prints its body.
func (c SampleConfig) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ip lan2 address %s/24\n", c.WAN)
	for i, remote := range c.OutsideIPs {
		n := i + 1
		fmt.Fprintf(&b, "tunnel select %d\n ipsec tunnel 20%d\n  ipsec sa policy 20%d %d esp aes-cbc sha-hmac\n", n, n, n, n)
		fmt.Fprintf(&b, "  ipsec ike duration ipsec-sa %d %d\n", n, c.IPsecSALifetime)
		if c.DPD {
			fmt.Fprintf(&b, "  ipsec ike keepalive use %d on dpd 10 3\n", n)
		}
		fmt.Fprintf(&b, "  ipsec ike local address %d %s\n  ipsec ike pre-shared-key %d text %s\n  ipsec ike remote address %d %s\n", n, c.WAN, n, SamplePSK(n), n, remote)
		fmt.Fprintf(&b, " ipsec tunnel outer df-bit clear\n ip tunnel address 169.254.%d0.2/30\n ip tunnel remote address 169.254.%d0.1\n", n, n)
		fmt.Fprintf(&b, " ip tunnel tcp mss limit %s\n tunnel enable %d\n", c.MSS, n)
	}
	b.WriteString("tunnel select none\nipsec auto refresh on\nbgp use on\nbgp autonomous-system 65000\n")
	for i := range c.OutsideIPs {
		fmt.Fprintf(&b, "bgp neighbor %d 64512 169.254.%d0.1 hold-time=30 local-address=169.254.%d0.2\n", i+1, i+1, i+1)
	}
	b.WriteString("bgp import filter 1 equal 0.0.0.0/0\nbgp import 64512 static filter 1\nbgp configure refresh\n")
	return b.String()
}

// SecretLines are one credential of each kind an RTX configuration can
// hold (Yamaha command reference: pre-shared keys as text, hex and bare
// 0x…, login and administrator passwords, PPP and L2TP auth, SNMP
// communities and SNMPv3 keys, RADIUS secret, XAUTH, `auth user`, DDNS /
// NetVolante, BGP MD5 keys), with the secret each hides: tests plant them in a router's configuration
// and check that none leaves vpnwatchd.
var SecretLines = map[string]string{
	"ipsec ike pre-shared-key 1 text s3cret-text-psk":                                "s3cret-text-psk",
	"ipsec ike pre-shared-key 2 hex 0xdeadbeefcafe0101":                              "deadbeefcafe0101",
	"ipsec ike pre-shared-key 3 0xfeedface00112233":                                  "feedface00112233",
	"login password s3cret-login":                                                    "s3cret-login",
	"login password encrypted AbCdEf0123456789":                                      "AbCdEf0123456789",
	"administrator password s3cret-admin":                                            "s3cret-admin",
	"login user monitor s3cret-user-pass":                                            "s3cret-user-pass",
	"pp auth myname user@isp.example s3cret-pp-pass":                                 "s3cret-pp-pass",
	"pp auth username guest s3cret-pp-user":                                          "s3cret-pp-user",
	"snmp community read-only s3cretro":                                              "s3cretro",
	"snmp community read-write s3cretrw":                                             "s3cretrw",
	"snmpv3 usm user 1 admin group 1 sha s3cret-auth-key aes128-cfb s3cret-priv-key": "s3cret-priv-key",
	"radius secret s3cret-radius":                                                    "s3cret-radius",
	"ipsec ike xauth myname 1 xuser s3cret-xauth":                                    "s3cret-xauth",
	"auth user 1 guest s3cret-auth-user":                                             "s3cret-auth-user",
	"netvolante-dns hostname host pp server=1 s3cret-host.aa0.netvolante.jp":         "s3cret-host",
	"ddns server user ddnsuser s3cret-ddns":                                          "s3cret-ddns",
	"bgp neighbor pre-shared-key 1 text s3cret-bgp-md5":                              "s3cret-bgp-md5",
	"ipsec ike local name 1 office key-id s3cret-keyid":                              "s3cret-keyid",
	"description 1 s3cret-in-a-description":                                          "s3cret-in-a-description",
	"l2tp tunnel auth on s3cret-l2tp":                                                "s3cret-l2tp",
	"some future-command with s3cret-unknown-form":                                   "s3cret-unknown-form",
}
