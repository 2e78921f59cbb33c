package vpnlog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
)

// FilterFunc is the one CloudWatch Logs call the reader makes
// ((*cloudwatchlogs.Client).FilterLogEvents, held as a method value).
type FilterFunc func(context.Context, *cloudwatchlogs.FilterLogEventsInput, ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error)

// Reader reads VPN log groups with one FilterLogEvents call (and its pages)
// per group per read, never one per stream or tunnel. Each read asks again
// for the last Overlap before the previous one, since AWS delivers log
// events late (a minute or more, undocumented), and drops the events it has
// already seen by their eventId. The recent events of each tunnel are kept
// in a ring of Keep, not the whole group. Not safe for concurrent use.
type Reader struct {
	Filter  FilterFunc
	Overlap time.Duration // default 2 minutes
	Keep    int           // events kept per tunnel; default 200
	// MaxPages bounds one read of one group (default 50): a group that
	// keeps answering pages is read on at the next read.
	MaxPages int
	// Unreadable counts records that did not parse (kept as raw text).
	Unreadable int

	groups  map[string]*groupState
	tunnels map[[2]string][]Event
}

type groupState struct {
	until time.Time            // the end of the last read
	seen  map[string]time.Time // eventId → event time, while inside the overlap
}

// Read returns the events of group not seen before, up to now. The first
// read of a group starts Overlap before now: history is not read back.
func (r *Reader) Read(ctx context.Context, group string, now time.Time) ([]Event, error) {
	r.defaults()
	id := strings.TrimSuffix(group, ":*") // ARNs as DescribeVpnConnections gives them
	g := r.groups[id]
	if g == nil {
		g = &groupState{until: now.Add(-r.Overlap), seen: map[string]time.Time{}}
		r.groups[id] = g
	}
	from := g.until.Add(-r.Overlap)
	in := &cloudwatchlogs.FilterLogEventsInput{LogGroupIdentifier: awssdk.String(id),
		StartTime: awssdk.Int64(from.UnixMilli()), EndTime: awssdk.Int64(now.UnixMilli())}
	var out []Event
	for page := 0; page < r.MaxPages; page++ {
		res, err := r.Filter(ctx, in)
		if err != nil {
			return out, fmt.Errorf("FilterLogEvents %s: %w", id, err)
		}
		for _, fe := range res.Events {
			eid := awssdk.ToString(fe.EventId)
			if _, dup := g.seen[eid]; dup && eid != "" {
				continue
			}
			at := time.UnixMilli(awssdk.ToInt64(fe.Timestamp)).UTC()
			g.seen[eid] = at
			e, err := Parse(awssdk.ToString(fe.Message), awssdk.ToString(fe.LogStreamName), at)
			if errors.Is(err, ErrUnreadable) {
				r.Unreadable++
			}
			out = append(out, e)
			r.keep(e)
		}
		// A page may be empty and still have a next one.
		if res.NextToken == nil || awssdk.ToString(res.NextToken) == awssdk.ToString(in.NextToken) {
			break
		}
		in.NextToken = res.NextToken
	}
	g.until = now
	for eid, at := range g.seen {
		if at.Before(from.Add(-r.Overlap)) {
			delete(g.seen, eid) // out of every window from now on
		}
	}
	return out, nil
}

// Recent returns the kept events of a tunnel, oldest first.
func (r *Reader) Recent(vpnID, outsideIP string) []Event {
	return append([]Event(nil), r.tunnels[[2]string{vpnID, outsideIP}]...)
}

// keep puts e into its tunnel's ring in time order: a late delivery (an
// older event arriving after newer ones) goes where it happened, so that
// "newest last" holds for whoever reads the ring.
func (r *Reader) keep(e Event) {
	k := [2]string{e.VPNConnectionID, e.OutsideIP}
	ring := r.tunnels[k]
	i := len(ring)
	for i > 0 && ring[i-1].Time.After(e.Time) {
		i--
	}
	ring = slices.Insert(ring, i, e)
	if len(ring) > r.Keep {
		ring = append(ring[:0:0], ring[len(ring)-r.Keep:]...)
	}
	r.tunnels[k] = ring
}

func (r *Reader) defaults() {
	if r.Overlap <= 0 {
		r.Overlap = 2 * time.Minute
	}
	if r.Keep <= 0 {
		r.Keep = 200
	}
	if r.MaxPages <= 0 {
		r.MaxPages = 50
	}
	if r.groups == nil {
		r.groups, r.tunnels = map[string]*groupState{}, map[[2]string][]Event{}
	}
}
