// Package aws polls the AWS side of Site-to-Site VPN connections through the
// EC2 API (aws-sdk-go-v2): connection and tunnel status, accepted routes,
// tunnel options, customer gateways and pending endpoint maintenance. One
// DescribeVpnConnections and one DescribeCustomerGateways per source and
// region per poll, never one per VPN.
package aws

import (
	"regexp"
	"strconv"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/aws/vpnlog"
)

// Snapshot is what one poll of one source in one region saw. A failed poll
// has Err set and no connections: it is never mistaken for "no problems".
type Snapshot struct {
	Source  string
	Region  string
	TakenAt time.Time
	// Took is how long the poll took.
	Took        time.Duration
	Err         error
	Connections []Connection
	// Missing lists configured VPN connection ids that AWS did not return.
	Missing []string
	// LogsRead: the source reads AWS's tunnel logs (aws[].logs), so a
	// tunnel without them is worth a word.
	LogsRead bool
}

// Routing types of a VPN connection.
const (
	RoutingStatic = "static"
	RoutingBGP    = "bgp"
)

// Connection states. StateGone is vpnwatchd's own: a connection seen in an
// earlier poll that AWS no longer returns at all.
const (
	StateAvailable = "available"
	StatePending   = "pending"
	StateDeleting  = "deleting"
	StateDeleted   = "deleted"
	StateGone      = "gone"
)

// Connection is one Site-to-Site VPN connection.
type Connection struct {
	ID    string
	Name  string // the Name tag
	State string
	// Routing is RoutingBGP unless the connection uses static routes only.
	Routing            string
	Type               string
	Category           string
	CustomerGatewayID  string
	CustomerGatewayIP  string // empty when the customer gateway could not be read
	CustomerGatewayASN string
	// GatewayID is the virtual private gateway (vgw-…) or transit gateway (tgw-…).
	GatewayID    string
	StaticRoutes []string
	Tags         map[string]string
	Tunnels      []Tunnel
}

// AWS applies these tunnel options when a connection does not set them; the
// API then omits the elements.
const (
	DefaultPhase1Lifetime   = 28800 * time.Second
	DefaultPhase2Lifetime   = 3600 * time.Second
	DefaultDPDTimeout       = 30 * time.Second
	DefaultDPDTimeoutAction = "clear"
	DefaultStartupAction    = "add"
)

// Tunnel is one of the two tunnels of a connection, as AWS reports it.
type Tunnel struct {
	OutsideIP     string
	InsideCIDR    string
	Status        string // UP or DOWN
	StatusMessage string // "IPSEC IS UP", "2 BGP ROUTES", "", …
	// AcceptedRoutes is the number of routes AWS accepted from the customer
	// gateway over BGP.
	AcceptedRoutes   int
	LastStatusChange time.Time

	Phase1Lifetime   time.Duration
	Phase2Lifetime   time.Duration
	RekeyMargin      time.Duration
	DPDTimeout       time.Duration
	DPDTimeoutAction string
	StartupAction    string
	IKEVersions      []string
	Phase1Encryption []string
	Phase2Encryption []string
	Phase1Integrity  []string
	Phase2Integrity  []string
	Phase1DHGroups   []int
	Phase2DHGroups   []int

	// Maintenance is nil until GetVpnTunnelReplacementStatus has answered
	// for this tunnel.
	Maintenance *Maintenance

	// Logs is where AWS writes this tunnel's own logs, from its
	// TunnelOptions.LogOptions (nil when DescribeVpnConnections said
	// nothing about them).
	Logs *TunnelLogs
	// Traffic is the tunnel's traffic as AWS counts it (AWS/VPN
	// TunnelDataIn/Out), when aws[].cloudwatch_metrics is on and AWS has
	// published a datapoint; nil otherwise.
	Traffic *TunnelTraffic
	// LogEvents are the tunnel's recent events in those logs, oldest
	// first, when vpnwatchd reads them.
	LogEvents []vpnlog.Event
}

// Maintenance is the tunnel endpoint replacement status.
type Maintenance struct {
	// Pending is AWS's text about a pending replacement; empty when none.
	Pending          string
	AutoAppliedAfter time.Time
	LastApplied      time.Time
	CheckedAt        time.Time
}

// Up reports whether AWS says the tunnel is UP. For BGP connections that
// means IPsec up and the BGP session established.
func (t Tunnel) Up() bool { return t.Status == "UP" }

var bgpRoutesRE = regexp.MustCompile(`^([0-9]+) BGP ROUTES?$`)

// IPsecUp derives from the status message whether IPsec (phase 2) is up. AWS
// does not document the messages; seen are "IPSEC IS UP", "IPSEC IS DOWN",
// "N BGP ROUTES" (BGP established, hence IPsec up) and "" on UP static
// tunnels.
func (t Tunnel) IPsecUp() bool {
	switch {
	case t.StatusMessage == "IPSEC IS UP", bgpRoutesRE.MatchString(t.StatusMessage):
		return true
	case t.StatusMessage == "IPSEC IS DOWN":
		return false
	}
	return t.Up()
}

// BGPRoutes returns N from an "N BGP ROUTES" status message.
func (t Tunnel) BGPRoutes() (int, bool) {
	m := bgpRoutesRE.FindStringSubmatch(t.StatusMessage)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	return n, err == nil
}

// TunnelLogs are a tunnel's CloudWatch Logs settings: the tunnel activity
// log (IKE, IPsec, DPD) and the BGP log, each on or off, with its log group
// ARN and output format (json or text).
type TunnelLogs struct {
	Enabled             bool
	Group, Format       string
	BGPEnabled          bool
	BGPGroup, BGPFormat string
}

// TunnelTraffic is a tunnel's latest CloudWatch datapoints: bytes AWS
// received from the customer gateway (after decryption) and sent to it
// (before encryption) in the Period ending at At. AWS publishes them
// minutes late; they are not a liveness signal (keepalives and BGP keep
// them above zero on an idle tunnel).
type TunnelTraffic struct {
	In, Out float64
	At      time.Time
	Period  time.Duration
}
