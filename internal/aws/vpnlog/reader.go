package vpnlog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
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
//
// What the endpoint answers is bounded, not trusted: a read makes at most
// MaxPages calls (an endpoint may answer empty pages with new tokens for a
// long time) and keeps its place for the next read; an event longer than
// MaxEventBytes is cut; an event dated after the read counts as arriving
// at the read, so that it neither stays in the de-duplication set beyond
// the window nor stays its tunnel's newest event for ever.
type Reader struct {
	Filter  FilterFunc
	Overlap time.Duration // default 2 minutes
	Keep    int           // events kept per tunnel; default 200
	// MaxPages bounds the FilterLogEvents calls of one read of one group
	// (default 5, a second of CloudWatch Logs' quota of about 5 requests/s
	// per account and region). A read cut short keeps its query and next
	// token; the next read carries on from there before it reads anything
	// newer, so that nothing behind a long run of pages is lost.
	MaxPages int
	// Pace, when set, is asked before every FilterLogEvents call: it waits
	// as the request quota needs, and says false when no call may be made
	// now (the budget of a poll is spent, or ctx ended); the read then
	// stops where it is, as at MaxPages.
	Pace func(context.Context) bool
	// Unreadable counts records that did not parse (kept as raw text).
	Unreadable int

	groups  map[string]*groupState
	tunnels map[[2]string][]Event
}

// MaxEventBytes is the largest CloudWatch Logs event (256 KiB): a longer
// message cannot come from AWS and is kept cut to this size.
const MaxEventBytes = 256 << 10

// maxSkew is how far after a read an event may be dated and keep its
// time: AWS refuses requests signed more than 5 minutes off its clock, so
// a reader whose calls succeed is no further from AWS's time than that.
const maxSkew = 5 * time.Minute

type groupState struct {
	until time.Time // the end of the last query started
	// seen: eventId → event time, held inside the window of the query that
	// returned it, while a query may still return it.
	seen map[string]time.Time
	// pending is a query cut short (MaxPages, Pace), with its next token.
	pending *cloudwatchlogs.FilterLogEventsInput
}

// Read returns the events of group not seen before: first those of a query
// an earlier read left unfinished, then those up to now. The first read of
// a group starts Overlap before now: history is not read back.
func (r *Reader) Read(ctx context.Context, group string, now time.Time) ([]Event, error) {
	r.defaults()
	id := strings.TrimSuffix(group, ":*") // ARNs as DescribeVpnConnections gives them
	g := r.groups[id]
	if g == nil {
		g = &groupState{until: now.Add(-r.Overlap), seen: map[string]time.Time{}}
		r.groups[id] = g
	}
	defer r.forget(g)
	var out []Event
	calls := 0
	if g.pending != nil {
		done, err := r.query(ctx, g, g.pending, now, &calls, &out)
		if err != nil {
			var bad *types.InvalidParameterException
			if errors.As(err, &bad) && g.pending.NextToken != nil {
				g.pending.NextToken = nil // expired or refused: the window again, from its start
			}
			return out, fmt.Errorf("FilterLogEvents %s: %w", id, err)
		}
		if !done {
			return out, nil
		}
		g.pending = nil
	}
	in := &cloudwatchlogs.FilterLogEventsInput{LogGroupIdentifier: awssdk.String(id),
		StartTime: awssdk.Int64(g.until.Add(-r.Overlap).UnixMilli()), EndTime: awssdk.Int64(now.UnixMilli())}
	done, err := r.query(ctx, g, in, now, &calls, &out)
	if err != nil {
		if in.NextToken != nil {
			g.pending, g.until = in, now // carried on from the page that failed
		}
		return out, fmt.Errorf("FilterLogEvents %s: %w", id, err)
	}
	if !done {
		g.pending = in
	}
	g.until = now
	return out, nil
}

// query reads the pages of in (from its NextToken, which it advances)
// while calls stay under MaxPages and Pace allows; done when no page is
// left.
func (r *Reader) query(ctx context.Context, g *groupState, in *cloudwatchlogs.FilterLogEventsInput, now time.Time, calls *int, out *[]Event) (bool, error) {
	from, end := time.UnixMilli(awssdk.ToInt64(in.StartTime)).UTC(), time.UnixMilli(awssdk.ToInt64(in.EndTime)).UTC()
	for *calls < r.MaxPages {
		if r.Pace != nil && !r.Pace(ctx) {
			return false, nil
		}
		*calls++
		res, err := r.Filter(ctx, in)
		if err != nil {
			return false, err
		}
		for _, fe := range res.Events {
			eid := awssdk.ToString(fe.EventId)
			if _, dup := g.seen[eid]; dup && eid != "" {
				continue
			}
			at := time.UnixMilli(awssdk.ToInt64(fe.Timestamp)).UTC()
			// The entry lives as long as a query may return it again: a
			// time outside the query's window (which AWS never answers)
			// is held to the window's edge.
			g.seen[eid] = within(at, from, end)
			e, err := Parse(cut(awssdk.ToString(fe.Message)), awssdk.ToString(fe.LogStreamName), at)
			if errors.Is(err, ErrUnreadable) {
				r.Unreadable++
			}
			if e.Time.After(now.Add(maxSkew)) {
				e.Time = now // dated after the read: counts as arriving now (Raw keeps its claim)
			}
			*out = append(*out, e)
			r.keep(e)
		}
		// A page may be empty and still have a next one.
		if res.NextToken == nil || awssdk.ToString(res.NextToken) == awssdk.ToString(in.NextToken) {
			in.NextToken = nil
			return true, nil
		}
		in.NextToken = res.NextToken
	}
	return false, nil
}

// forget drops the de-duplication entries no query can return again: older
// than the window of the next query (the unfinished one, or the next
// overlapping one), by another Overlap of margin.
func (r *Reader) forget(g *groupState) {
	next := g.until.Add(-r.Overlap)
	if g.pending != nil {
		next = time.UnixMilli(awssdk.ToInt64(g.pending.StartTime))
	}
	for eid, at := range g.seen {
		if at.Before(next.Add(-r.Overlap)) {
			delete(g.seen, eid)
		}
	}
}

// within is t held inside [from, end].
func within(t, from, end time.Time) time.Time {
	switch {
	case t.Before(from):
		return from
	case t.After(end):
		return end
	}
	return t
}

// cut keeps at most MaxEventBytes of msg, on a UTF-8 boundary, saying so at
// its end.
func cut(msg string) string {
	if len(msg) <= MaxEventBytes {
		return msg
	}
	note := fmt.Sprintf(" … [cut by vpnwatchd: %d bytes, over CloudWatch Logs' %d-byte event limit]", len(msg), MaxEventBytes)
	n := MaxEventBytes - len(note)
	for n > 0 && !utf8.RuneStart(msg[n]) {
		n--
	}
	return msg[:n] + note
}

// Behind says whether the last read of group stopped with pages left,
// which the next read carries on.
func (r *Reader) Behind(group string) bool {
	g := r.groups[strings.TrimSuffix(group, ":*")]
	return g != nil && g.pending != nil
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
		r.MaxPages = 5
	}
	if r.groups == nil {
		r.groups, r.tunnels = map[string]*groupState{}, map[[2]string][]Event{}
	}
}
