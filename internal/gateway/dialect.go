package gateway

import "time"

// Dialect is a gateway kind's words: how it names a tunnel and its
// settings, and the commands or configuration lines that fix what a rule
// found. The rules stay vendor-neutral; a new kind of gateway is a new
// Dialect and a mapping into Snapshot.
type Dialect interface {
	// Kind is how operators name the gateway: "RTX", "strongSwan".
	Kind() string
	// Tunnel names a tunnel on its gateway: "tunnel 1", "connection aws-1".
	Tunnel(t *Tunnel) string
	// Setting quotes the tunnel's setting s as it stands on the gateway:
	// "`ip tunnel tcp mss limit 1379`", "`remote_addrs = 203.0.113.1`";
	// "" when the gateway has no such setting.
	Setting(t *Tunnel, s Setting) string
	// Fix is the remediation for what a rule found on tunnel t (nil for
	// the gateway as a whole), in the gateway's own commands.
	Fix(t *Tunnel, f Fix) string
}

// Setting names a setting for Dialect.Setting.
type Setting int

const (
	SettingRemoteAddress Setting = iota
	SettingLocalAddress
	SettingMSS
	SettingMTU
)

// FixKind names what a fix is for.
type FixKind int

const (
	// FixInspect: how to look at the gateway's tunnels (status, SAs, BGP, log).
	FixInspect FixKind = iota
	// FixInspectTunnel: how to look at one tunnel.
	FixInspectTunnel
	// FixBGPCheck: where the gateway shows its BGP neighbor's state.
	FixBGPCheck
	// FixGatewayThinksDown: AWS has the tunnel up, the gateway not.
	FixGatewayThinksDown
	// FixAdvertise: AWS received no routes from the gateway.
	FixAdvertise
	// FixAcceptRoutes: the gateway's BGP neighbor sent no routes.
	FixAcceptRoutes
	// FixBGP: BGP is not established (AWSInside, CustomerInside).
	FixBGP
	// FixMSS: the MSS clamp exceeds the tunnel MTU (Limit: largest MSS).
	FixMSS
	// FixMTU: the tunnel MTU is too large (MTU: the largest that fits).
	FixMTU
	// FixLifetimes: match the lifetimes to AWS's (Phase1, Phase2; zero: same).
	FixLifetimes
	// FixDPD: turn on dead peer detection.
	FixDPD
	// FixRestart: renegotiate the tunnel now.
	FixRestart
	// FixNeverRekeyed: an SA outlived its lifetime.
	FixNeverRekeyed
	// FixLocalAddress: the gateway's local address is wrong (Address: AWS's).
	FixLocalAddress
	// FixNotJoined: the tunnel's remote address is no AWS outside IP.
	FixNotJoined
	// FixPSK: the pre-shared key differs from AWS's.
	FixPSK
	// FixProposal: AWS refuses the proposal.
	FixProposal
	// FixTrafficSelectors: AWS refuses the traffic selectors.
	FixTrafficSelectors
	// FixAuth: IKE_AUTH failed (Address: the customer gateway IP in AWS).
	FixAuth
	// FixASN: the gateway's AS differs from AWS's (ASN: the one AWS expects).
	FixASN
	// FixHoldTime: keep BGP's hold time at AWS's 30 s.
	FixHoldTime
	// FixUnreadable: output the parser did not know (nothing to change).
	FixUnreadable
	// FixIKEFragmentation: IKE messages too big for the path are lost.
	FixIKEFragmentation
	// FixStale: the gateway cannot be read.
	FixStale
	// FixHostKey: the SSH host key changed; Address is the known_hosts file.
	FixHostKey
)

// Fix is one fix request and what it needs to know.
type Fix struct {
	Kind FixKind
	// Limit, MTU: sizes (FixMSS, FixMTU).
	Limit, MTU int
	// Phase1, Phase2: AWS's lifetimes where they differ (FixLifetimes).
	Phase1, Phase2 time.Duration
	// AWSInside, CustomerInside: the /30's addresses (FixBGP).
	AWSInside, CustomerInside string
	// Address: an address the fix names (FixLocalAddress, FixAuth).
	Address string
	// ASN: FixASN.
	ASN string
	// BGP is the gateway's BGP configuration (FixBGP).
	BGP BGPConfig
}
