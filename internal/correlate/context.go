package correlate

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/aws"
	"github.com/vpnwatchd/vpnwatchd/internal/probe"
	"github.com/vpnwatchd/vpnwatchd/internal/rtx"
)

// awsTunnel is one AWS tunnel with where it came from.
type awsTunnel struct {
	source, region string
	conn           *aws.Connection
	tunnel         *aws.Tunnel
}

// rtxTunnel is one RTX tunnel with its router.
type rtxTunnel struct {
	router string
	snap   *rtx.Snapshot
	tunnel *rtx.Tunnel
}

// bgp returns the tunnel's BGP neighbor; nil for no tunnel or none.
func (r *rtxTunnel) bgp() *rtx.BGPNeighbor {
	if r == nil {
		return nil
	}
	return r.tunnel.BGP
}

// pair is a joined tunnel: both sides, or one when the other is unknown.
// When one side is missing because its source has no current data, the
// remembered join names it (memo), so that findings keep their subject.
type pair struct {
	aws  *awsTunnel
	rtx  *rtxTunnel
	memo *pairMemo
}

// pairMemo is the missing side of a pair, remembered from an earlier join.
type pairMemo struct {
	join      joinMemo
	router    string
	rtxTunnel int
}

// context is one evaluation's view of the observations.
type context struct {
	obs       Observations
	now       time.Time
	state     *State
	aws       []aws.Snapshot // fresh, good snapshots only
	rtx       []rtx.Snapshot
	stale     []staleSource
	staleRefs map[SourceRef]bool
	pairs     []pair
	// awsSource: VPN connection id → the source and region it is from.
	awsSource map[string]SourceRef
	unchecked []string
	// currentSAs: "router/tunnel/id" of every SA seen in this evaluation.
	currentSAs map[string]bool
}

type staleSource struct {
	ref SourceRef
	err error
	at  time.Time
}

func newContext(obs Observations, now time.Time, st *State) *context {
	c := &context{obs: obs, now: now, state: st}
	c.selectFresh()
	c.join()
	c.track()
	return c
}

func (c *context) fresh(taken time.Time) bool {
	return c.obs.PollInterval == 0 || c.now.Sub(taken) <= 3*c.obs.PollInterval
}

// selectFresh keeps the good, recent snapshots and notes the rest: stale
// data is never evaluated as if it were current.
func (c *context) selectFresh() {
	seen := map[SourceRef]bool{}
	// usable records a source and reports whether its snapshot may be used.
	usable := func(ref SourceRef, err error, taken time.Time) bool {
		seen[ref] = true
		switch {
		case err != nil:
			c.stale = append(c.stale, staleSource{ref, err, taken})
		case !c.fresh(taken):
			c.stale = append(c.stale, staleSource{ref, fmt.Errorf("last good poll at %s", taken.Format(time.RFC3339)), taken})
		default:
			return true
		}
		return false
	}
	for _, s := range c.obs.AWS {
		if usable(SourceRef{Type: "aws", Name: s.Source, Region: s.Region}, s.Err, s.TakenAt) {
			c.aws = append(c.aws, s)
		}
	}
	for _, s := range c.obs.RTX {
		if usable(SourceRef{Type: "rtx", Name: s.Router}, s.Err, s.TakenAt) {
			c.rtx = append(c.rtx, s)
		}
	}
	for _, p := range c.obs.Probes {
		if p.Err != nil && !errors.Is(p.Err, probe.ErrUnreachable) {
			c.stale = append(c.stale, staleSource{SourceRef{Type: "probe", Name: p.Name}, p.Err, p.TakenAt})
		}
	}
	for _, ref := range c.obs.Expected {
		if !seen[ref] {
			c.stale = append(c.stale, staleSource{ref, errors.New("no poll result"), time.Time{}})
		}
	}
	c.staleRefs = map[SourceRef]bool{}
	for _, s := range c.stale {
		c.staleRefs[s.ref] = true
		c.unchecked = append(c.unchecked, fmt.Sprintf("%s: not checked: %v", s.ref, s.err))
	}
	c.awsSource = map[string]SourceRef{}
	for _, s := range c.aws {
		for _, conn := range s.Connections {
			c.awsSource[conn.ID] = SourceRef{Type: "aws", Name: s.Source, Region: s.Region}
		}
	}
}

// anyStale reports whether one of refs has no current data.
func (c *context) anyStale(refs []SourceRef) bool {
	for _, r := range refs {
		if c.staleRefs[r] {
			return true
		}
	}
	return false
}

// sourcesOf names the sources a finding about s rests on.
func (c *context) sourcesOf(s Subject) []SourceRef {
	var out []SourceRef
	add := func(r SourceRef) {
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	if s.VPNConnectionID != "" {
		if r, ok := c.awsSource[s.VPNConnectionID]; ok {
			add(r)
		} else {
			// Not in any current snapshot: from a remembered join.
			for _, k := range slices.Sorted(maps.Keys(c.state.Joins)) {
				if j := c.state.Joins[k]; j.ConnID == s.VPNConnectionID {
					add(j.AWS)
				}
			}
		}
	}
	switch {
	case strings.HasPrefix(s.Source, "probe "):
		add(SourceRef{Type: "probe", Name: strings.TrimPrefix(s.Source, "probe ")})
	case s.Source != "" && s.Region != "":
		add(SourceRef{Type: "aws", Name: s.Source, Region: s.Region})
	}
	if s.Router != "" {
		add(SourceRef{Type: "rtx", Name: s.Router})
	}
	return out
}

// aboutSources are the rules whose findings are about a source's own
// health: never held on its staleness (that is what they report).
var aboutSources = map[string]bool{"SourceStale": true, "RouterHostKeyChanged": true}

// join pairs AWS and RTX tunnels: explicit joins from the configuration
// first, then AWS outside IP = RTX `ipsec ike remote address`.
func (c *context) join() {
	byIP := map[string]*awsTunnel{}
	var all []*awsTunnel
	for si := range c.aws {
		s := &c.aws[si]
		for ci := range s.Connections {
			conn := &s.Connections[ci]
			for ti := range conn.Tunnels {
				at := &awsTunnel{s.Source, s.Region, conn, &conn.Tunnels[ti]}
				all = append(all, at)
				if conn.State != aws.StateGone {
					byIP[at.tunnel.OutsideIP] = at
				}
			}
		}
	}
	joined := map[*awsTunnel]bool{}
	for ri := range c.rtx {
		s := &c.rtx[ri]
		for ti := range s.Tunnels {
			t := &s.Tunnels[ti]
			rt := &rtxTunnel{s.Router, s, t}
			ip := t.Config.RemoteAddress
			for _, j := range c.obs.Joins[s.Router] {
				if j.RTXTunnel == t.Config.Number && j.OutsideIP != "" {
					ip = j.OutsideIP
				}
			}
			at := byIP[ip]
			for _, j := range c.obs.Joins[s.Router] {
				if j.RTXTunnel == t.Config.Number && j.VPNConnectionID != "" && at != nil && at.conn.ID != j.VPNConnectionID {
					at = nil // the configuration says another connection
				}
			}
			if at != nil && !joined[at] {
				joined[at] = true
				c.pairs = append(c.pairs, pair{aws: at, rtx: rt})
			} else {
				c.pairs = append(c.pairs, pair{rtx: rt})
			}
		}
	}
	for _, at := range all {
		if !joined[at] {
			c.pairs = append(c.pairs, pair{aws: at})
		}
	}
	c.rememberJoins()
}

// rememberJoins notes the joins of this evaluation, forgets those whose
// sides are both current but no longer joined, and gives a one-sided pair
// its missing side from memory when that side's source has no current
// data.
func (c *context) rememberJoins() {
	st := c.state
	current := map[string]bool{}
	for i := range c.pairs {
		p := &c.pairs[i]
		if p.aws != nil && p.rtx != nil {
			k := rtxKey(p.rtx.router, p.rtx.tunnel.Config.Number)
			current[k] = true
			st.Joins[k] = joinMemo{AWS: SourceRef{Type: "aws", Name: p.aws.source, Region: p.aws.region},
				ConnID: p.aws.conn.ID, ConnName: p.aws.conn.Name, OutsideIP: p.aws.tunnel.OutsideIP}
		}
	}
	routerStale := func(k string) bool {
		router, _, _ := strings.Cut(k, "/")
		return c.staleRefs[SourceRef{Type: "rtx", Name: router}]
	}
	// The remembered joins by AWS tunnel, of routers without current data
	// (the first in key order, should two claim one AWS tunnel).
	byAWS := map[[2]string]string{}
	anyRouterStale := false
	for ref := range c.staleRefs {
		anyRouterStale = anyRouterStale || ref.Type == "rtx"
	}
	for _, k := range sortedIf(anyRouterStale, st.Joins) {
		j := st.Joins[k]
		if _, taken := byAWS[[2]string{j.ConnID, j.OutsideIP}]; !taken && routerStale(k) {
			byAWS[[2]string{j.ConnID, j.OutsideIP}] = k
		}
	}
	for i := range c.pairs {
		p := &c.pairs[i]
		switch {
		case p.rtx != nil && p.aws == nil:
			k := rtxKey(p.rtx.router, p.rtx.tunnel.Config.Number)
			if j, ok := st.Joins[k]; ok && c.staleRefs[j.AWS] {
				p.memo = &pairMemo{join: j}
			}
		case p.aws != nil && p.rtx == nil:
			if k, ok := byAWS[[2]string{p.aws.conn.ID, p.aws.tunnel.OutsideIP}]; ok {
				router, n, _ := strings.Cut(k, "/")
				num, _ := strconv.Atoi(n)
				p.memo = &pairMemo{join: st.Joins[k], router: router, rtxTunnel: num}
			}
		}
	}
	for k, j := range st.Joins {
		if !current[k] && !c.staleRefs[j.AWS] && !routerStale(k) {
			delete(st.Joins, k) // both sides current and not joined: the join is gone
		}
	}
}

func rtxKey(router string, n int) string { return router + "/" + strconv.Itoa(n) }

// track updates the history the time-based rules need: SA expiries, rekey
// failures, tunnel state changes.
func (c *context) track() {
	st := c.state
	c.currentSAs = map[string]bool{}
	routers := map[string]bool{}
	for _, s := range c.rtx {
		routers[s.Router] = true
	}
	defer func() {
		// Forget first-seen times of the SAs the routers no longer have
		// (routers without a good snapshot keep theirs).
		for fk := range st.SAFirstSeen {
			router, _, _ := strings.Cut(fk, "/")
			if routers[router] && !c.currentSAs[fk] {
				delete(st.SAFirstSeen, fk)
			}
		}
	}()
	for _, p := range c.pairs {
		if p.rtx != nil {
			c.trackSAs(p.rtx)
		}
		if p.aws != nil && p.aws.conn.State == aws.StateAvailable {
			c.trackChange("aws/"+p.aws.tunnel.OutsideIP, p.aws.tunnel.Up())
		}
		if p.rtx != nil && p.rtx.tunnel.Status.Known() {
			c.trackChange("rtx/"+rtxKey(p.rtx.router, p.rtx.tunnel.Config.Number), p.rtx.tunnel.Status.Online())
		}
	}
	for k, times := range st.Changes {
		kept := times[:0:0]
		for _, t := range times {
			if c.now.Sub(t) <= flapWindow {
				kept = append(kept, t)
			}
		}
		if len(kept) == 0 {
			delete(st.Changes, k)
		} else {
			st.Changes[k] = kept
		}
	}
}

func (c *context) trackChange(key string, up bool) {
	st := c.state
	if prev, ok := st.Up[key]; ok && prev != up {
		st.Changes[key] = append(append([]time.Time(nil), st.Changes[key]...), c.now)
	}
	st.Up[key] = up
}

func (c *context) trackSAs(rt *rtxTunnel) {
	st := c.state
	key := rtxKey(rt.router, rt.tunnel.Config.Number)
	rec := saRecord{At: rt.snap.TakenAt}
	if rec.At.IsZero() {
		rec.At = c.now
	}
	for _, sa := range rt.tunnel.SAs {
		rec.IDs = append(rec.IDs, sa.ID)
		if exp := rec.At.Add(sa.Remaining); exp.After(rec.ExpiresAt) {
			rec.ExpiresAt = exp
		}
		fk := key + "/" + strconv.Itoa(sa.ID)
		if _, ok := st.SAFirstSeen[fk]; !ok {
			st.SAFirstSeen[fk] = c.now
		}
	}
	sort.Ints(rec.IDs)
	prev, hadPrev := st.SAs[key]
	switch {
	case len(rec.IDs) > 0:
		delete(st.RekeyFailed, key) // SAs again: recovered
	case hadPrev && len(prev.IDs) > 0 && !prev.ExpiresAt.After(c.now):
		// The SAs ran out and nothing replaced them: the rekey failed.
		if _, ok := st.RekeyFailed[key]; !ok {
			st.RekeyFailed[key] = prev.ExpiresAt
		}
	}
	for _, id := range rec.IDs {
		c.currentSAs[key+"/"+strconv.Itoa(id)] = true
	}
	if len(rec.IDs) > 0 || !hadPrev {
		st.SAs[key] = rec
	}
}

// evidence builders

func awsEvidence(a *awsTunnel) *AWSEvidence {
	if a == nil {
		return nil
	}
	e := &AWSEvidence{Status: a.tunnel.Status, StatusMessage: a.tunnel.StatusMessage, AcceptedRoutes: a.tunnel.AcceptedRoutes,
		LastStatusChange: a.tunnel.LastStatusChange, Routing: a.conn.Routing, ConnectionState: a.conn.State,
		CustomerGatewayID: a.conn.CustomerGatewayID, CustomerGatewayIP: a.conn.CustomerGatewayIP, InsideCIDR: a.tunnel.InsideCIDR,
		Phase1LifetimeSeconds: int(a.tunnel.Phase1Lifetime.Seconds()), Phase2LifetimeSeconds: int(a.tunnel.Phase2Lifetime.Seconds())}
	if m := a.tunnel.Maintenance; m != nil {
		e.MaintenancePending = m.Pending
	}
	return e
}

func mssText(t *rtx.TunnelConfig) string {
	switch {
	case t.MSSAuto:
		return "auto"
	case t.MSSConfigured:
		return strconv.Itoa(t.MSSLimit)
	}
	return "off"
}

func dpdText(k rtx.Keepalive) string {
	if !k.Configured || !k.Enabled {
		return "off"
	}
	return fmt.Sprintf("%s %d %d", k.Type, k.Interval, k.Retries)
}

func rtxEvidence(r *rtxTunnel) *RTXEvidence {
	if r == nil {
		return nil
	}
	t := r.tunnel
	e := &RTXEvidence{TunnelState: t.Status.Status, RemoteAddress: t.Config.RemoteAddress, LocalAddress: t.Config.LocalAddress,
		SAs: []SAEvidence{}, InstalledRoutes: t.InstalledRoutes, ReceivedRoutes: -1, MTU: t.Config.MTU, MSSLimit: mssText(t.Config),
		IPsecSALifetimeSecond: int(t.Config.IPsecSALifetime.Seconds()), ISAKMPLifetimeSeconds: int(t.Config.ISAKMPLifetime.Seconds()),
		DPD: dpdText(t.Config.Keepalive)}
	for _, sa := range t.SAs {
		e.SAs = append(e.SAs, SAEvidence{sa.ID, sa.Direction, int(sa.Remaining.Seconds())})
	}
	for _, ev := range r.snap.Syslog {
		if ev.Tunnel == t.Config.Number || (ev.Peer != "" && ev.Peer == t.Config.RemoteAddress) {
			e.Syslog = append(e.Syslog, ev.Text)
		}
	}
	if t.BGP != nil {
		e.BGPNeighbor, e.BGPState, e.ReceivedRoutes = t.BGP.Address, t.BGP.State, t.BGP.ReceivedPrefixes
	} else if t.Config.InsideRemote != "" {
		e.BGPNeighbor, e.BGPState = t.Config.InsideRemote, "no session"
	}
	return e
}

func (p pair) subject() Subject {
	var s Subject
	switch {
	case p.aws != nil:
		s.VPNConnectionID, s.VPNName, s.OutsideIP = p.aws.conn.ID, p.aws.conn.Name, p.aws.tunnel.OutsideIP
	case p.memo != nil: // AWS has no current data: as last joined
		s.VPNConnectionID, s.VPNName, s.OutsideIP = p.memo.join.ConnID, p.memo.join.ConnName, p.memo.join.OutsideIP
	}
	switch {
	case p.rtx != nil:
		s.Router, s.RTXTunnel = p.rtx.router, p.rtx.tunnel.Config.Number
		if s.OutsideIP == "" {
			s.OutsideIP = p.rtx.tunnel.Config.RemoteAddress
		}
	case p.memo != nil && p.memo.router != "": // the router has no current data
		s.Router, s.RTXTunnel = p.memo.router, p.memo.rtxTunnel
	}
	return s
}

func (p pair) evidence() Evidence {
	return Evidence{AWS: awsEvidence(p.aws), RTX: rtxEvidence(p.rtx)}
}

// awsInside returns the AWS-side and customer-side inside addresses of a
// tunnel's /30 (AWS takes the first usable address, the router the second).
func awsInside(cidr string) (awsSide, cgwSide string, ok bool) {
	pfx, err := netip.ParsePrefix(cidr)
	if err != nil || !pfx.Addr().Is4() || pfx.Bits() != 30 {
		return "", "", false
	}
	a := pfx.Masked().Addr().Next()
	return a.String(), a.Next().String(), true
}

// publicIP reports whether s is an address a customer gateway could have on
// the internet (not private, CGNAT, loopback or a placeholder).
func publicIP(s string) bool {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return false
	}
	cgnat := netip.MustParsePrefix("100.64.0.0/10")
	return !a.IsPrivate() && !a.IsLoopback() && !a.IsLinkLocalUnicast() && !a.IsUnspecified() && !cgnat.Contains(a)
}

// sortedIf returns m's keys in order, or none when want is false.
func sortedIf[V any](want bool, m map[string]V) []string {
	if !want {
		return nil
	}
	return slices.Sorted(maps.Keys(m))
}
