package correlate

// One evaluation: which sources are current, and which sources a finding
// rests on.

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/aws"
	"github.com/vpnwatchd/vpnwatchd/internal/config"
	"github.com/vpnwatchd/vpnwatchd/internal/gateway"
	"github.com/vpnwatchd/vpnwatchd/internal/probe"
)

// evaluation is one evaluation's view of the observations.
type evaluation struct {
	obs       Observations
	now       time.Time
	state     *State
	aws       []aws.Snapshot     // fresh, good snapshots only
	gws       []gateway.Snapshot // customer gateways, fresh and good
	stale     []staleSource
	staleRefs map[SourceRef]bool
	pairs     []pair
	// awsSource: VPN connection id → the source and region it is from.
	awsSource map[string]SourceRef
	unchecked []string
}

type staleSource struct {
	ref SourceRef
	err error
	at  time.Time
}

// newEvaluation selects the current data, joins the two sides and updates
// the history the time-based rules read.
func newEvaluation(obs Observations, now time.Time, st *State) *evaluation {
	c := &evaluation{obs: obs, now: now, state: st}
	c.selectFresh()
	c.join()
	c.track()
	return c
}

func (c *evaluation) fresh(taken time.Time) bool {
	return c.obs.PollInterval == 0 || c.now.Sub(taken) <= 3*c.obs.PollInterval
}

// selectFresh keeps the good, recent snapshots and notes the rest: stale
// data is never evaluated as if it were current.
func (c *evaluation) selectFresh() {
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
		if usable(SourceRef{Type: SourceAWS, Name: s.Source, Region: s.Region}, s.Err, s.TakenAt) {
			c.aws = append(c.aws, s)
		}
	}
	gws := make([]gateway.Snapshot, 0, len(c.obs.RTX)+len(c.obs.Gateways))
	for i := range c.obs.RTX {
		gws = append(gws, c.obs.RTX[i].Gateway())
	}
	for _, s := range c.obs.Gateways {
		s.Tunnels = slices.Clone(s.Tunnels) // the join fills in BGP sessions: the caller's stay as given
		gws = append(gws, s)
	}
	for _, s := range gws {
		if usable(s.Source, s.Err, s.TakenAt) {
			c.gws = append(c.gws, s)
			for _, u := range s.Unchecked {
				c.unchecked = append(c.unchecked, fmt.Sprintf("%s: %s", s.Source, u))
			}
		}
	}
	for _, p := range c.obs.Probes {
		if p.Err != nil && !errors.Is(p.Err, probe.ErrUnreachable) {
			c.stale = append(c.stale, staleSource{SourceRef{Type: SourceProbe, Name: p.Name}, p.Err, p.TakenAt})
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
			c.awsSource[conn.ID] = SourceRef{Type: SourceAWS, Name: s.Source, Region: s.Region}
		}
	}
}

// anyStale reports whether one of refs has no current data.
func (c *evaluation) anyStale(refs []SourceRef) bool {
	for _, r := range refs {
		if c.staleRefs[r] {
			return true
		}
	}
	return false
}

// sourcesOf names the sources a finding about s rests on.
func (c *evaluation) sourcesOf(s Subject) []SourceRef {
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
			for _, k := range slices.SortedFunc(maps.Keys(c.state.joins), tunnelKey.compare) {
				if j := c.state.joins[k]; j.ConnID == s.VPNConnectionID {
					add(j.AWS)
				}
			}
		}
	}
	if s.Probe != "" {
		add(config.ProbeSource(s.Probe))
	}
	if s.Source != "" && s.Region != "" {
		add(config.AWSRegion(s.Source, s.Region))
	}
	if s.Router != "" {
		add(s.GatewaySource())
	}
	return out
}

// aboutSources are the rules whose findings are about a source's own
// health: never held on its staleness (that is what they report).
var aboutSources = map[string]bool{"SourceStale": true, "RouterHostKeyChanged": true}
