package probe

import (
	"fmt"
	"strings"
)

// TCPIPHeaders is what TCP MSS leaves out of the MTU: IPv4 20 + TCP 20.
const TCPIPHeaders = 40

// TCPIPv6Headers is the same over IPv6: IPv6 40 + TCP 20.
const TCPIPv6Headers = 60

// AWSMaxMTU is the largest tunnel MTU AWS Site-to-Site VPN supports for the
// ESP algorithms, from AWS's customer gateway best-practice table
// (AES-GCM 1446, AES-CBC with SHA1/SHA2-256 1438, with SHA2-384/512 1422;
// NAT-T takes 8 or 16 more).
func AWSMaxMTU(encryption, auth string, natt bool) (int, string) {
	enc, a := strings.ToLower(encryption), strings.ToLower(auth)
	switch {
	case strings.Contains(enc, "gcm"):
		if natt {
			return 1438, "AES-GCM with NAT-T"
		}
		return 1446, "AES-GCM"
	case strings.Contains(a, "512"):
		if natt {
			return 1406, "AES-CBC/SHA2-512 with NAT-T"
		}
		return 1422, "AES-CBC/SHA2-512"
	case strings.Contains(a, "384"):
		return 1422, "AES-CBC/SHA2-384"
	default:
		if natt {
			return 1422, "AES-CBC/SHA1 or SHA2-256 with NAT-T"
		}
		return 1438, "AES-CBC/SHA1 or SHA2-256"
	}
}

// ESP algorithms an RTX `ipsec sa policy` names (Yamaha command reference).
var (
	ESPEncryptions = []string{"des-cbc", "3des-cbc", "aes-cbc", "aes256-cbc", "aes-gcm", "aes256-gcm"}
	ESPAuths       = []string{"md5-hmac", "sha-hmac", "sha256-hmac", "sha384-hmac", "sha512-hmac"}
)

// ESPOverhead is the worst-case bytes ESP tunnel mode adds to a packet:
// outer IPv4 20, SPI and sequence 8, IV, padding to the block, pad length
// and next header 2, ICV, and 8 for NAT-T's UDP header.
func ESPOverhead(encryption, auth string, natt bool) int {
	enc, a := strings.ToLower(encryption), strings.ToLower(auth)
	iv, block, icv := 16, 16, 12 // AES-CBC, HMAC-SHA1-96
	if strings.Contains(enc, "gcm") {
		iv, block, icv = 8, 4, 16
	}
	switch {
	case strings.Contains(a, "512"):
		icv = 32
	case strings.Contains(a, "384"):
		icv = 24
	case strings.Contains(a, "256"):
		icv = 16
	}
	n := 20 + 8 + iv + (block - 1) + 2 + icv
	if natt {
		n += 8
	}
	return n
}

// Input is what the recommendation is made from. Zero values are unknown.
type Input struct {
	// TunnelPathMTU is measured through the tunnel (to a VPC host),
	// WANPathMTU outside it (toward the AWS outside IP).
	TunnelPathMTU, WANPathMTU int
	// The RTX tunnel's configuration.
	Tunnel    int
	TunnelMTU int
	MSSLimit  int
	MSSAuto   bool
	// The RTX's WAN interface (lan2) and its configured MTU (0: default
	// 1500).
	WANInterface string
	WANMTU       int
	// ESP algorithms of `ipsec sa policy` and NAT traversal.
	ESPEncryption, ESPAuth string
	NATTraversal           bool
}

// Advice is one command to type and the arithmetic behind it.
type Advice struct {
	Command string `json:"command"`
	Why     string `json:"why"`
}

// Recommend turns measured path MTUs and the RTX configuration into the
// RTX commands that make TCP fit: the tunnel MTU from the path through the
// tunnel (capped at what AWS supports), the MSS at MTU − 40, and the WAN
// interface's MTU and MSS from the path outside the tunnel.
func Recommend(in Input) []Advice {
	var out []Advice
	tsel := ""
	if in.Tunnel > 0 {
		tsel = fmt.Sprintf("tunnel select %d; ", in.Tunnel)
	}
	mtu := 0
	if in.TunnelPathMTU > 0 {
		awsMax, algo := AWSMaxMTU(in.ESPEncryption, in.ESPAuth, in.NATTraversal)
		mtu = min(in.TunnelPathMTU, awsMax)
		why := fmt.Sprintf("measured path MTU through the tunnel %d (largest DF ping payload %d + %d)", in.TunnelPathMTU, in.TunnelPathMTU-HeaderIPv4, HeaderIPv4)
		if mtu < in.TunnelPathMTU {
			why += fmt.Sprintf(", capped at AWS's maximum %d for %s", awsMax, algo)
		}
		if in.TunnelMTU != mtu {
			out = append(out, Advice{tsel + fmt.Sprintf("ip tunnel mtu %d", mtu), why})
		}
	}
	if in.WANPathMTU > 0 {
		overhead := ESPOverhead(in.ESPEncryption, in.ESPAuth, in.NATTraversal)
		fit := in.WANPathMTU - overhead
		if mtu == 0 || fit < mtu {
			cur := in.TunnelMTU
			if mtu != 0 {
				cur = mtu
			}
			if cur > fit {
				mtu = fit
				out = append(out, Advice{tsel + fmt.Sprintf("ip tunnel mtu %d", fit),
					fmt.Sprintf("WAN path MTU %d − ESP overhead %d (outer IP, ESP header, IV, padding, ICV%s) = %d", in.WANPathMTU, overhead, map[bool]string{true: ", NAT-T", false: ""}[in.NATTraversal], fit)})
			}
		}
		wan := in.WANInterface
		if wan == "" {
			wan = "lanN"
		}
		cur := in.WANMTU
		if cur == 0 {
			cur = 1500
		}
		if in.WANPathMTU < cur {
			out = append(out, Advice{fmt.Sprintf("ip %s mtu %d", wan, in.WANPathMTU),
				fmt.Sprintf("measured WAN path MTU %d (largest DF ping payload %d + %d) is below the interface's %d", in.WANPathMTU, in.WANPathMTU-HeaderIPv4, HeaderIPv4, cur)})
			out = append(out, Advice{fmt.Sprintf("ip %s tcp mss limit %d", wan, in.WANPathMTU-TCPIPHeaders),
				fmt.Sprintf("%d − %d (IPv4 20 + TCP 20)", in.WANPathMTU, TCPIPHeaders)})
		}
	}
	if mtu == 0 {
		mtu = in.TunnelMTU
	}
	if mtu > 0 {
		mss := mtu - TCPIPHeaders
		if in.MSSAuto || in.MSSLimit != mss {
			why := fmt.Sprintf("tunnel MTU %d − %d (IPv4 20 + TCP 20) = %d", mtu, TCPIPHeaders, mss)
			if in.MSSLimit > mss && !in.MSSAuto {
				why += fmt.Sprintf("; the configured %d is larger than the tunnel can carry", in.MSSLimit)
			}
			if !(in.MSSAuto && in.TunnelMTU == mtu) {
				out = append(out, Advice{tsel + fmt.Sprintf("ip tunnel tcp mss limit %d", mss), why + " (or `auto`, which derives it from the tunnel MTU)"})
			}
		}
	}
	return out
}
