package rtx

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/vpnwatchd/vpnwatchd/internal/backoff"
	"github.com/vpnwatchd/vpnwatchd/internal/config"
	"github.com/vpnwatchd/vpnwatchd/internal/sshlogin"
)

// Snapshot is one poll of one router. A failed poll has Err set and no
// tunnels: it is never mistaken for "all quiet".
type Snapshot struct {
	Router  string
	TakenAt time.Time
	Took    time.Duration
	Err     error
	Config  RouterConfig
	Tunnels []Tunnel
	SAs     SATable
	BGP     BGPStatus
	Routes  RouteTable
	// Warnings are lines of status outputs the parsers did not
	// understand (RouterOutputUnreadable). Lines of `show config` that
	// vpnwatchd does not use are not warnings: see Config.Unused.
	Warnings []Unreadable
	// Syslog holds the router's recent syslog events, when vpnwatchd
	// receives them.
	Syslog []Event
}

// Tunnel is one IPsec tunnel interface as the router sees it.
type Tunnel struct {
	// Config points into the snapshot's RouterConfig.Tunnels (shared by
	// the polls until `show config` is read again; never changed).
	Config *TunnelConfig
	Status TunnelStatus
	SAs    []SA // ESP SAs of this tunnel, old and rekeyed
	// InstalledRoutes counts the BGP routes out of this tunnel in `show ip
	// route`: best paths only, so 0 on a healthy standby tunnel. What the
	// neighbor sent is BGP.ReceivedPrefixes.
	InstalledRoutes int
	// BGP is the neighbor whose address is the tunnel's inside remote
	// address, when there is one.
	BGP *BGPNeighbor
	// Rekeys counts new ESP SAs seen for this tunnel since vpnwatchd
	// started (SAHistory).
	Rekeys int
	// Rekeyed is set when this poll saw a new SA of the tunnel since the
	// last good poll (SAHistory).
	Rekeyed bool
	// SAsRanOutAt is when the tunnel's SAs reached the end of their
	// lifetime with no new SA to replace them (a failed rekey); zero while
	// it has SAs (SAHistory).
	SAsRanOutAt time.Time
}

// Options are the poller's collaborators.
type Options struct {
	Logger *zap.Logger
	Now    func() time.Time
	// Location is the router's clock zone for `show status tunnel` times.
	Location *time.Location
	// OnConnect is called after each login attempt (result "ok" or "error").
	OnConnect func(router, result string)
	// ConfigEvery: `show config` (slow on big configs) is read on the
	// first poll and then every this many polls.
	ConfigEvery int
	// KeepOutputs keeps the raw outputs of the last poll for LastOutputs
	// (support bundles); a daemon does not need them between polls.
	KeepOutputs bool
	// MaxOutput bounds one command's output (DefaultMaxOutput when zero);
	// OnOversize is called when a command passes it.
	MaxOutput  int
	OnOversize func(router string)
	// OnUnsupported is called when the router answers a command with an
	// error: its firmware does not offer it (CmdReceivedRoutes on older
	// firmware), and what it would tell is unknown.
	OnUnsupported func(router, command string)
	// History carries a router's SA history over from an earlier poller
	// of it (a reload that changed its settings); nil starts a new one.
	History *SAHistory
}

// Poller polls one router over a persistent SSH session.
type Poller struct {
	r     config.Router
	opts  Options
	sess  *Session
	polls int
	// config is the last `show config` output parsed, re-read every
	// ConfigEvery polls; configText is the text, kept with KeepOutputs.
	config     RouterConfig
	haveConfig bool
	configText string
	last       Outputs
	// history is the router's SA history, applied to every good poll.
	history *SAHistory
	backoff time.Time
	fails   int
	// noReceived: the router answered received-routes with an error; it
	// is not asked again in this SSH session (a firmware update reboots
	// the router, so a new session asks again).
	noReceived bool
}

// NewPoller returns a poller for r; nothing is dialled until Poll.
func NewPoller(r config.Router, opts Options) *Poller {
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Location == nil {
		opts.Location = time.Local
	}
	if opts.ConfigEvery == 0 {
		opts.ConfigEvery = 10
	}
	history := opts.History
	if history == nil {
		history = &SAHistory{}
	}
	return &Poller{r: r, opts: opts, history: history}
}

// Commands estimates how many commands one poll sends, from the tunnels
// of the last `show config` read (a login's and `show config`'s worth when
// none was read yet): a status and a received-routes command per tunnel,
// and the few for the whole router. Not to be called while Poll runs.
func (p *Poller) Commands() int { return 6 + 2*len(p.config.Tunnels) }

// Router returns the configuration the poller was built from.
func (p *Poller) Router() config.Router { return p.r }

// Close ends the SSH session.
func (p *Poller) Close() {
	if p.sess != nil {
		p.sess.Close()
		p.sess = nil
	}
}

// reconnect backoff bounds after failed logins.
const (
	reconnectBase = 5 * time.Second
	reconnectMax  = 5 * time.Minute
)

// Poll runs the show commands and parses them. It reuses the session and
// reconnects (with backoff after failures) when it broke.
func (p *Poller) Poll(ctx context.Context) Snapshot {
	start := p.opts.Now()
	snap := Snapshot{Router: p.r.Name, TakenAt: start}
	if err := p.poll(ctx, &snap); err != nil {
		snap.Err = fmt.Errorf("rtx %s: %w", p.r.Name, err)
		snap.Tunnels = nil
	}
	snap.Took = p.opts.Now().Sub(start)
	return snap
}

func (p *Poller) poll(ctx context.Context, snap *Snapshot) error {
	if p.sess == nil {
		if now := p.opts.Now(); now.Before(p.backoff) {
			return fmt.Errorf("not reconnecting before %s after %d failed logins", p.backoff.Format(time.RFC3339), p.fails)
		}
		sess, err := Dial(ctx, SessionConfig{Config: sshlogin.Config{
			Address: p.r.Address, User: p.r.User, Password: p.r.Password.Reveal(),
			PrivateKey: []byte(p.r.PrivateKey.Reveal()), Passphrase: []byte(p.r.PrivateKeyPassphrase.Reveal()),
			KnownHosts: p.r.KnownHosts, Legacy: p.r.LegacyAlgorithms, Timeout: p.r.Timeout,
		}, MaxOutput: p.opts.MaxOutput})
		if p.opts.OnConnect != nil {
			p.opts.OnConnect(p.r.Name, sshlogin.Result(err))
		}
		if err != nil {
			p.fails++
			p.backoff = p.opts.Now().Add(backoff.Policy{Base: reconnectBase, Max: reconnectMax}.Jittered(p.fails))
			return err
		}
		p.fails = 0
		p.sess = sess
		p.noReceived = false
		p.opts.Logger.Info("ssh session open")
	}
	run := func(cmd string) (string, error) {
		cctx, cancel := context.WithTimeout(ctx, p.r.Timeout)
		defer cancel()
		out, err := p.sess.Run(cctx, cmd)
		if err != nil {
			p.sess.Close()
			p.sess = nil
			if errors.Is(err, ErrOutputTooLarge) && p.opts.OnOversize != nil {
				p.opts.OnOversize(p.r.Name)
			}
		}
		return out, err
	}
	outputs := Outputs{}
	if !p.haveConfig || p.polls%p.opts.ConfigEvery == 0 {
		out, err := run(CmdConfig)
		if err != nil {
			return err
		}
		c, err := ParseConfig(out)
		if err != nil {
			return err
		}
		p.config, p.haveConfig = c, true
		if p.opts.KeepOutputs {
			p.configText = out
		}
	}
	p.polls++
	if p.opts.KeepOutputs {
		outputs[CmdConfig] = p.configText
	}
	for _, cmd := range []string{CmdIPsecSA, CmdBGPNeighbor, CmdIPRoute} {
		out, err := run(cmd)
		if err != nil {
			return err
		}
		outputs[cmd] = out
	}
	for _, tc := range p.config.Tunnels {
		if tc.RemoteAddress == "" {
			continue // not an IPsec tunnel to a peer (ipip, map-e, L2TP)
		}
		cmd := TunnelStatusCommand(tc.Number)
		out, err := run(cmd)
		if err != nil {
			return err
		}
		outputs[cmd] = out
	}
	if p.opts.KeepOutputs {
		p.last = outputs
	}
	built, missing, err := assemble(p.r.Name, p.config, outputs, p.opts.Location)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return fmt.Errorf("internal error: outputs missing: %v", missing)
	}
	// What each established neighbor sent: `show ip route` has best paths
	// only, so a standby tunnel's routes are seen here alone.
	if !p.noReceived {
		for _, t := range built.Tunnels {
			if t.BGP == nil || !t.BGP.Established() {
				continue
			}
			cmd := ReceivedRoutesCommand(t.BGP.Address)
			out, err := run(cmd)
			if err != nil {
				return err
			}
			if commandRejected(out) {
				p.noReceived = true
				p.opts.Logger.Debug("the router's firmware does not offer received-routes; routes received per neighbor are unknown",
					zap.String("command", cmd), zap.String("answer", firstLine(out)))
				if p.opts.OnUnsupported != nil {
					p.opts.OnUnsupported(p.r.Name, CmdReceivedRoutes)
				}
				break
			}
			outputs[cmd] = out
		}
		applyReceived(&built, outputs)
		if p.opts.KeepOutputs {
			p.last = outputs
		}
	}
	built.TakenAt = snap.TakenAt
	*snap = built
	p.history.Apply(snap)
	return nil
}

// The commands a poll runs.
const (
	CmdConfig      = "show config"
	CmdIPsecSA     = "show ipsec sa"
	CmdBGPNeighbor = "show status bgp neighbor"
	CmdIPRoute     = "show ip route"
	// CmdReceivedRoutes names ReceivedRoutesCommand in counters and
	// logs, whatever the neighbor.
	CmdReceivedRoutes = "show status bgp neighbor ADDR received-routes"
)

// TunnelStatusCommand is `show status tunnel N`.
func TunnelStatusCommand(n int) string { return fmt.Sprintf("show status tunnel %d", n) }

// Outputs are raw command outputs keyed by command line, as a poll got them
// or as a support bundle holds them.
type Outputs map[string]string

// LastOutputs returns the raw outputs of the last successful poll, for
// support bundles; nil unless Options.KeepOutputs.
func (p *Poller) LastOutputs() Outputs { return p.last }

// Build assembles a router snapshot from command outputs without any I/O.
// Commands whose output is absent are returned in missing and the parts
// that need them are left empty; a malformed output is an error naming the
// command and line.
func Build(router string, out Outputs, loc *time.Location) (Snapshot, []string, error) {
	// A bundle's files may be captured by hand from a Japanese console in
	// its own character set: read them as a session would.
	decoded := make(Outputs, len(out))
	cs := CharsetUnknown
	for _, k := range slices.Sorted(maps.Keys(out)) {
		decoded[k], cs = DecodeConsole(out[k], cs)
	}
	out = decoded
	var cfg RouterConfig
	var missing []string
	if text, ok := out[CmdConfig]; !ok {
		missing = append(missing, CmdConfig)
	} else {
		var err error
		if cfg, err = ParseConfig(text); err != nil {
			return Snapshot{Router: router}, missing, err
		}
	}
	snap, more, err := assemble(router, cfg, out, loc)
	return snap, append(missing, more...), err
}

// assemble builds a snapshot from an already parsed configuration and the
// other outputs (the poller parses `show config` only when it re-reads it).
func assemble(router string, cfg RouterConfig, out Outputs, loc *time.Location) (snap Snapshot, missing []string, err error) {
	snap.Router, snap.Config = router, cfg
	if text, ok := out[CmdIPsecSA]; !ok {
		missing = append(missing, CmdIPsecSA)
	} else if snap.SAs, err = ParseIPsecSA(text); err != nil {
		return snap, missing, err
	}
	if text, ok := out[CmdBGPNeighbor]; !ok {
		missing = append(missing, CmdBGPNeighbor)
	} else if snap.BGP, err = ParseBGPNeighbors(text); err != nil {
		return snap, missing, err
	}
	if text, ok := out[CmdIPRoute]; !ok {
		missing = append(missing, CmdIPRoute)
	} else if snap.Routes, err = ParseIPRoute(text); err != nil {
		return snap, missing, err
	}
	routes := snap.Routes.BGPRoutesByTunnel()
	for i := range snap.Config.Tunnels {
		tc := &snap.Config.Tunnels[i]
		if tc.RemoteAddress == "" {
			continue
		}
		t := Tunnel{Config: tc, SAs: snap.SAs.ForTunnel(tc.Number), InstalledRoutes: routes[tc.Number]}
		cmd := TunnelStatusCommand(tc.Number)
		if text, ok := out[cmd]; !ok {
			missing = append(missing, cmd)
			t.Status.Status = StatusUnknown
		} else if t.Status, err = ParseTunnelStatus(text, loc); err != nil {
			if pe := (*ParseError)(nil); errors.As(err, &pe) {
				pe.Command = cmd // name the tunnel, so the bundle file is known
			}
			return snap, missing, err
		}
		for i := range snap.BGP.Neighbors {
			if tc.InsideRemote != "" && snap.BGP.Neighbors[i].Address == tc.InsideRemote {
				nb := snap.BGP.Neighbors[i]
				t.BGP = &nb
			}
		}
		snap.Tunnels = append(snap.Tunnels, t)
		for _, w := range t.Status.Warnings {
			w.Command = cmd // name the tunnel
			snap.Warnings = append(snap.Warnings, w)
		}
	}
	applyReceived(&snap, out)
	snap.Warnings = append(snap.Warnings, snap.SAs.Warnings...)
	snap.Warnings = append(snap.Warnings, snap.BGP.Warnings...)
	snap.Warnings = append(snap.Warnings, snap.Routes.Warnings...)
	return snap, missing, nil
}

// applyReceived sets each tunnel neighbor's ReceivedPrefixes from the
// received-routes outputs there are. An output the router rejected or that
// cannot be read leaves it unknown (-1), the latter with its lines as
// warnings: it never fails the poll or reads as "no routes".
func applyReceived(snap *Snapshot, out Outputs) {
	for i := range snap.Tunnels {
		nb := snap.Tunnels[i].BGP
		if nb == nil {
			continue
		}
		cmd := ReceivedRoutesCommand(nb.Address)
		text, ok := out[cmd]
		if !ok {
			continue
		}
		r, err := ParseReceivedRoutes(text)
		var pe *ParseError
		switch {
		case errors.As(err, &pe):
			snap.Warnings = append(snap.Warnings, Unreadable{cmd, pe.Line, pe.Text})
			continue
		case err != nil:
			continue
		}
		for _, w := range r.Warnings {
			w.Command = cmd
			snap.Warnings = append(snap.Warnings, w)
		}
		if r.Total < 0 {
			continue
		}
		nb.ReceivedPrefixes = r.Total
		for j := range snap.BGP.Neighbors {
			if snap.BGP.Neighbors[j].Address == nb.Address {
				snap.BGP.Neighbors[j].ReceivedPrefixes = r.Total
			}
		}
	}
}

// History returns the poller's SA history, for a poller that replaces it.
func (p *Poller) History() *SAHistory { return p.history }
