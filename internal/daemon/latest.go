package daemon

import (
	"cmp"
	"maps"
	"slices"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/aws"
	"github.com/vpnwatchd/vpnwatchd/internal/config"
	"github.com/vpnwatchd/vpnwatchd/internal/correlate"
	"github.com/vpnwatchd/vpnwatchd/internal/gateway"
	"github.com/vpnwatchd/vpnwatchd/internal/rtx"
	"github.com/vpnwatchd/vpnwatchd/internal/status"
)

// latest is the latest data of every source and its health: the one
// owner of it. Polls record into it, the correlator's observations, the
// status page and the /metrics body are built from it. Only the main loop
// touches it (the /metrics body is built there too).
type latest struct {
	aws map[config.SourceID]*record[aws.Snapshot]
	// gw are the customer gateways (routers and strongSwan gateways).
	gw map[config.SourceID]*record[gatewayPoll]
	// findings are the last evaluation's active findings.
	findings []correlate.Finding
}

// gatewayPoll is one poll of a customer gateway: in vendor-neutral terms,
// mapped once per poll for the correlator, and an RTX's own snapshot for
// its metrics.
type gatewayPoll struct {
	gateway.Snapshot
	rtx *rtx.Snapshot
}

// record is one source's latest snapshot and health.
type record[S any] struct {
	snap    S
	lastOK  time.Time // zero before the first good poll
	lastErr string    // "" while it is up
}

// health is how a recorded poll changed a source's health, for the log
// and the events.
type health int

const (
	healthSame      health = iota
	healthUp               // the first good poll
	healthFailing          // failing, or failing differently
	healthRecovered        // good again after failing
)

func newLatest() *latest {
	return &latest{aws: map[config.SourceID]*record[aws.Snapshot]{}, gw: map[config.SourceID]*record[gatewayPoll]{}}
}

// note records a poll's result in r and says how the health changed.
func note[S any](r *record[S], fresh bool, snap S, err error, at time.Time) health {
	prev := r.lastErr
	r.snap = snap
	if err == nil {
		r.lastOK, r.lastErr = at, ""
		switch {
		case fresh:
			return healthUp
		case prev != "":
			return healthRecovered
		}
		return healthSame
	}
	r.lastErr = err.Error()
	if fresh || prev != r.lastErr {
		return healthFailing
	}
	return healthSame
}

// recordAWS keeps an AWS region's snapshot.
func (l *latest) recordAWS(s aws.Snapshot, at time.Time) health {
	id := config.AWSRegion(s.Source, s.Region)
	r, ok := l.aws[id]
	if !ok {
		r = &record[aws.Snapshot]{}
		l.aws[id] = r
	}
	return note(r, !ok, s, s.Err, at)
}

// recordRTX keeps a router's snapshot, and its mapping into gateway terms.
func (l *latest) recordRTX(s rtx.Snapshot, at time.Time) health {
	return l.recordGateway(gatewayPoll{Snapshot: s.Gateway(), rtx: &s}, at)
}

// recordGateway keeps a customer gateway's snapshot.
func (l *latest) recordGateway(s gatewayPoll, at time.Time) health {
	r, ok := l.gw[s.Source]
	if !ok {
		r = &record[gatewayPoll]{}
		l.gw[s.Source] = r
	}
	return note(r, !ok, s, s.Err, at)
}

// has reports whether a source has been polled since it was configured.
func (l *latest) has(id config.SourceID) bool {
	if id.Type == config.SourceAWS {
		_, ok := l.aws[id]
		return ok
	}
	_, ok := l.gw[id]
	return ok
}

// retain drops the sources a configuration no longer has.
func (l *latest) retain(c *config.Config) {
	keep := map[config.SourceID]bool{}
	for _, id := range c.Sources() {
		keep[id] = true
	}
	maps.DeleteFunc(l.aws, func(id config.SourceID, _ *record[aws.Snapshot]) bool { return !keep[id] })
	maps.DeleteFunc(l.gw, func(id config.SourceID, _ *record[gatewayPoll]) bool { return !keep[id] })
}

// snapshots returns the latest snapshots in configuration order: AWS's,
// and every gateway's in gateway terms.
func (l *latest) snapshots(c *config.Config) (awsSnaps []aws.Snapshot, gws []gateway.Snapshot) {
	for _, id := range c.Sources() {
		if r, ok := l.aws[id]; ok {
			awsSnaps = append(awsSnaps, r.snap)
		}
		if r, ok := l.gw[id]; ok {
			gws = append(gws, r.snap.Snapshot)
		}
	}
	return awsSnaps, gws
}

// sources lists the health of the configured AWS regions and routers, in
// configuration order, for the status page.
func (l *latest) sources(c *config.Config) []status.Source {
	var out []status.Source
	for _, id := range c.Sources() {
		var lastOK time.Time
		var lastErr string
		var seen bool
		switch id.Type {
		case config.SourceAWS:
			if r, ok := l.aws[id]; ok {
				lastOK, lastErr, seen = r.lastOK, r.lastErr, true
			}
		case config.SourceRTX, config.SourceStrongSwan:
			if r, ok := l.gw[id]; ok {
				lastOK, lastErr, seen = r.lastOK, r.lastErr, true
			}
		default:
			continue // probes report their own
		}
		out = append(out, status.Source{SourceID: id, Up: seen && lastErr == "", LastSuccess: lastOK, LastError: lastErr})
	}
	return out
}

// EachAWS, EachRTX, EachGateway and ActiveFindings make the store the
// metrics' Latest, in key order.
func (l *latest) EachAWS(f func(aws.Snapshot, time.Time, bool)) {
	for _, id := range slices.SortedFunc(maps.Keys(l.aws), compareSources) {
		r := l.aws[id]
		f(r.snap, r.lastOK, !r.lastOK.IsZero())
	}
}

func (l *latest) EachRTX(f func(rtx.Snapshot, time.Time, bool)) {
	for _, id := range slices.SortedFunc(maps.Keys(l.gw), compareSources) {
		if r := l.gw[id]; r.snap.rtx != nil {
			f(*r.snap.rtx, r.lastOK, !r.lastOK.IsZero())
		}
	}
}

// EachGateway gives the gateways other than routers (whose series are
// EachRTX's).
func (l *latest) EachGateway(f func(gateway.Snapshot, time.Time, bool)) {
	for _, id := range slices.SortedFunc(maps.Keys(l.gw), compareSources) {
		if r := l.gw[id]; r.snap.rtx == nil {
			f(r.snap.Snapshot, r.lastOK, !r.lastOK.IsZero())
		}
	}
}

func (l *latest) ActiveFindings() []correlate.Finding { return l.findings }

func compareSources(a, b config.SourceID) int {
	return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Region, b.Region))
}
