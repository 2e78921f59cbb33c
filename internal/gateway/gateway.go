// Package gateway is the vendor-neutral view of a customer gateway: what
// vpnwatchd knows of each tunnel (its addresses, IPsec SAs with their
// lifetimes and rekeys, its BGP neighbor and routes) and of the gateway's
// settings that matter to AWS (MTU, MSS, lifetimes, DPD, proposals), in
// the same terms whatever the gateway is. Each kind of gateway (the RTX
// over its console, strongSwan over vici) maps its own observations into
// a Snapshot and supplies a Dialect: the words and commands of its own
// configuration, for the fixes. The correlator reads nothing else.
package gateway

import (
	"strconv"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/config"
)

// Snapshot is one poll of one customer gateway.
type Snapshot struct {
	Source  config.SourceID // Type is the gateway kind (config.SourceRTX, config.SourceStrongSwan)
	TakenAt time.Time
	// Took is how long the poll took.
	Took    time.Duration
	Err     error
	Tunnels []Tunnel
	BGP     BGPConfig
	// Peers are the gateway's BGP sessions not yet tied to a tunnel: the
	// correlator gives a tunnel the one at its AWS inside address.
	Peers []BGPNeighbor
	// Warnings are lines of the gateway's output vpnwatchd could not read.
	Warnings []Unreadable
	// Unchecked says what could not be read at all on this gateway (a
	// setting vpnwatchd has no way to see), for the operator.
	Unchecked []string
	Dialect   Dialect
}

// Tunnel is one tunnel to AWS as the gateway sees it.
type Tunnel struct {
	// Number is the RTX tunnel interface number; 0 on other kinds.
	Number int
	// Name is the gateway's own name of the tunnel where it has one (a
	// strongSwan connection); "" on the RTX.
	Name string
	// RemoteAddress is the peer the gateway negotiates with: the AWS
	// outside IP. LocalAddress is the gateway's own.
	RemoteAddress, LocalAddress string
	// InsideAddress (CIDR) and InsideRemote are the tunnel's inside
	// addresses, where known.
	InsideAddress, InsideRemote string
	// State is the gateway's word for the tunnel's state ("Online",
	// "ESTABLISHED", "no SA"); Known and Up say what it means.
	State string
	Known bool
	Up    bool
	// RxPackets is what the tunnel received so far, -1 when unknown.
	RxPackets int64
	// SAs are the tunnel's IPsec (child) SAs, old and rekeyed.
	SAs []SA
	// InstalledRoutes counts best routes through the tunnel, -1 unknown.
	InstalledRoutes int
	BGP             *BGPNeighbor
	// Rekeys counts new SAs since vpnwatchd started; Rekeyed is set when
	// this poll saw one; SAsRanOutAt is when the SAs reached the end of
	// their lifetime with nothing to replace them (SAHistory).
	Rekeys      int
	Rekeyed     bool
	SAsRanOutAt time.Time
	Settings    Settings
	// Log lists the gateway's recent log lines about this tunnel, newest
	// last, with their times.
	Log []LogLine
	// Native is the kind's own record of the tunnel, for its Dialect only.
	Native any
}

// Settings are the gateway's settings for a tunnel that vpnwatchd checks.
// A zero value means unknown unless its Known flag says otherwise.
type Settings struct {
	MTU           int  // tunnel MTU; 0 unknown
	MTUConfigured bool // set explicitly (not a default)
	// MSS is the TCP MSS the gateway clamps to; MSSAuto clamps to the
	// MTU; MSSKnown is false when vpnwatchd could not read it.
	MSS      int
	MSSAuto  bool
	MSSKnown bool
	// Lifetimes of the IPsec (child) SA and of the IKE SA; 0 unknown.
	ChildLifetime, IKELifetime time.Duration
	DPD                        DPD
	// Proposal: IKE and ESP algorithms, in the gateway's words.
	IKEEncryption, IKEHash, IKEGroup string
	ESPEncryption, ESPAuth           string
	NATTraversal                     bool
	// IKEFragmentation: "yes", "no", "" unknown (strongSwan).
	IKEFragmentation string
}

// DPD is dead peer detection as configured.
type DPD struct {
	Known    bool
	Enabled  bool
	Interval time.Duration
	Text     string // as the gateway says it ("dpd 10 3", "dpd_delay = 10s")
}

// SA is one IPsec SA of a tunnel.
type SA struct {
	// ID is the gateway's number for the SA: a new one for every SA, so a
	// rekey shows as a new ID.
	ID        int
	Direction string // "send", "recv", or "" for one record of both
	Remaining time.Duration
	FirstSeen time.Time // SAHistory
}

// BGPNeighbor is the tunnel's BGP session, seen from the gateway.
type BGPNeighbor struct {
	Address     string
	RemoteAS    string
	State       string // the gateway's word ("Established", "Active")
	Established bool
	// ReceivedPrefixes is what the neighbor sent, -1 when unknown.
	ReceivedPrefixes int
}

// BGPConfig is the gateway's BGP configuration.
type BGPConfig struct {
	Known     bool // read at all
	Use       bool
	AS        string
	Neighbors []NeighborConfig
}

// NeighborConfig is one configured BGP neighbor.
type NeighborConfig struct {
	ID           int // the RTX's neighbor number; 0 elsewhere
	Address      string
	RemoteAS     string
	LocalAddress string
}

// Drops are the times the gateway itself reported the tunnel down (its
// log lines marked Down), one per outage, oldest first: a drop and
// recovery between two polls is invisible to polling, and a tunnel that
// flaps so fast is still flapping.
func (t *Tunnel) Drops() []time.Time {
	var out []time.Time
	for _, l := range t.Log {
		if l.Down && (len(out) == 0 || l.Time.Sub(out[len(out)-1]) > dropWindow) {
			out = append(out, l.Time)
		}
	}
	return out
}

// dropWindow merges the down reports of one outage (strongSwan's IKE SA
// and its child SAs arrive within milliseconds) into one drop.
const dropWindow = 5 * time.Second

// LogLine is one line of the gateway's log about a tunnel.
type LogLine struct {
	Time time.Time
	Text string
	// Down marks the gateway's report that the tunnel went down.
	Down bool `json:",omitempty"`
}

// Unreadable is one line of output vpnwatchd did not understand.
type Unreadable struct {
	Command string
	Line    int
	Text    string
	// Tunnel is the tunnel the command was about, 0 for the gateway.
	Tunnel int
}

// Key identifies the tunnel on its gateway: its name, or its number.
func (t *Tunnel) Key() string {
	if t.Name != "" {
		return t.Name
	}
	return "tunnel " + strconv.Itoa(t.Number)
}
