package vpnlog

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"

	"github.com/vpnwatchd/vpnwatchd/internal/aws/ec2sim"
)

const group = "arn:aws:logs:ap-northeast-1:123456789012:log-group:/aws/vpn/osaka"

func logsClient(t *testing.T, url string, attempts int) *cloudwatchlogs.Client {
	t.Helper()
	cfg, err := awsconfig.LoadDefaultConfig(context.Background(), awsconfig.WithRegion("ap-northeast-1"), awsconfig.WithRetryMaxAttempts(attempts))
	if err != nil {
		t.Fatal(err)
	}
	return cloudwatchlogs.NewFromConfig(cfg, func(o *cloudwatchlogs.Options) { o.BaseEndpoint = awssdk.String(url) })
}

// The real SDK against the simulator's CloudWatch Logs: one call per group
// and its pages (an empty page with a token included), late deliveries
// caught by the overlapping window, nothing twice, a bounded ring per
// tunnel, unreadable records kept.
func TestReaderAgainstSimulator(t *testing.T) {
	sim, url := ec2sim.Start(t, nil)
	c := logsClient(t, url, 1)
	r := &Reader{Filter: c.FilterLogEvents, Keep: 5}
	t0 := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	stream := "vpn-0123456789abcdef0_203.0.113.10-IKE.log"
	for i := range 8 {
		sim.AddLogEvent(group, stream, t0.Add(time.Duration(i)*time.Second), fmt.Sprintf(`{"event_timestamp":%d,"details":"AWS tunnel is sending request (id=%d) for CREATE_CHILD_SA"}`, t0.Add(time.Duration(i)*time.Second).Unix(), i))
	}
	sim.AddLogEvent(group, stream, t0.Add(9*time.Second), `{"details": broken`)
	sim.SetLogPage(3, true)
	got, err := r.Read(context.Background(), group+":*", t0.Add(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 9 || r.Unreadable != 1 || got[0].Class != ClassRekeyRequest || got[0].OutsideIP != "203.0.113.10" {
		t.Fatalf("first read: %d events, %d unreadable: %+v", len(got), r.Unreadable, got)
	}
	if calls := sim.Requests("FilterLogEvents", ""); calls != 4 { // an empty page, then 9 events in pages of 3
		t.Errorf("%d calls for one group read", calls)
	}
	// A late delivery: an event stamped before the last read arrives now.
	sim.AddLogEvent(group, stream, t0.Add(5500*time.Millisecond), `{"details":"AWS tunnel DPD timed out after 3 retransmits"}`)
	sim.AddLogEvent(group, stream, t0.Add(20*time.Second), `{"details":"Peer is not responsive - Declaring peer dead"}`)
	got, err = r.Read(context.Background(), group, t0.Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Class != ClassDPDTimeout || got[1].Class != ClassPeerDead {
		t.Errorf("second read (late event and a new one, nothing twice): %+v", got)
	}
	recent := r.Recent("vpn-0123456789abcdef0", "203.0.113.10")
	if len(recent) != 5 || recent[4].Class != ClassPeerDead {
		t.Errorf("ring: %d events, last %+v", len(recent), recent[len(recent)-1])
	}
	// The late event sits where it happened, not where it arrived.
	for i := 1; i < len(recent); i++ {
		if recent[i].Time.Before(recent[i-1].Time) {
			t.Errorf("ring out of time order at %d: %v after %v", i, recent[i].Time, recent[i-1].Time)
		}
	}
}

// hostilePage is a FilterLogEvents answer with n events of poll p, all
// dated at (a hostile or broken endpoint decides what it sends).
func hostilePage(p, n int, at time.Time) []byte {
	var b strings.Builder
	b.WriteString(`{"events":[`)
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"eventId":"poll%d-event%d","timestamp":%d,"ingestionTime":%d,"logStreamName":"vpn-0123456789abcdef0_203.0.113.10-IKE.log","message":"{\"details\":\"AWS tunnel DPD timed out after 3 retransmits\"}"}`,
			p, i, at.UnixMilli(), at.UnixMilli())
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// An endpoint that sends new events dated far in the future at every poll
// does not grow the de-duplication set without end: its entries expire by
// the reader's own window, not by the time the events claim. Nor does such
// an event stay the "newest" of its tunnel for ever: it counts as arriving
// when it was read.
func TestReaderFutureDatedEventsBounded(t *testing.T) {
	sim, url := ec2sim.Start(t, nil)
	r := &Reader{Filter: logsClient(t, url, 3).FilterLogEvents, Keep: 5}
	t0 := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	future := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	const perPoll, polls, interval = 50, 120, 15 * time.Second
	most, ahead := 0, 0
	for p := range polls {
		now := t0.Add(time.Duration(p) * interval)
		sim.ServeRaw("FilterLogEvents", http.StatusOK, hostilePage(p, perPoll, future))
		got, err := r.Read(t.Context(), group, now)
		if err != nil {
			t.Fatalf("poll %d: %v", p, err)
		}
		if len(got) != perPoll {
			t.Fatalf("poll %d: %d new events, want %d", p, len(got), perPoll)
		}
		for _, e := range r.Recent("vpn-0123456789abcdef0", "203.0.113.10") {
			if e.Time.After(now.Add(maxSkew)) {
				ahead++
			}
		}
		most = max(most, len(r.groups[group].seen))
	}
	if ahead > 0 {
		t.Errorf("%d times an event was kept as of a time after its read", ahead)
	}
	// What one overlap window can return again, with a poll of margin.
	bound := perPoll * int(2*r.Overlap/interval+2)
	t.Logf("de-duplication set: at most %d entries over %d polls of %d new future-dated events (bound %d)", most, polls, perPoll, bound)
	if most > bound {
		t.Errorf("the de-duplication set grew to %d entries (bound %d): future-dated events are never forgotten", most, bound)
	}
	// Repeats of what was just read are still dropped.
	sim.ServeRaw("FilterLogEvents", http.StatusOK, hostilePage(polls-1, perPoll, future))
	if got, err := r.Read(t.Context(), group, t0.Add(polls*interval)); err != nil || len(got) != 0 {
		t.Errorf("the last poll's events again: %d returned (%v), want none", len(got), err)
	}
}

// One event longer than CloudWatch Logs' limit (256 KiB, which AWS never
// exceeds) is kept cut to that size and says so; the events beside it are
// read as usual.
func TestReaderCutsOversizedEvent(t *testing.T) {
	sim, url := ec2sim.Start(t, nil)
	r := &Reader{Filter: logsClient(t, url, 3).FilterLogEvents}
	t0 := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	stream := "vpn-0123456789abcdef0_203.0.113.10-IKE.log"
	huge := `{"details":"AWS tunnel DPD timed out after 3 retransmits ` + strings.Repeat("é", 2<<20) + `"}`
	exact := strings.Repeat("x", MaxEventBytes)
	sim.AddLogEvent(group, stream, t0.Add(-3*time.Second), huge)
	sim.AddLogEvent(group, stream, t0.Add(-2*time.Second), exact)
	sim.AddLogEvent(group, stream, t0.Add(-time.Second), `{"details":"Peer is not responsive - Declaring peer dead"}`)
	got, err := r.Read(t.Context(), group, t0)
	if err != nil || len(got) != 3 {
		t.Fatalf("%d events, %v", len(got), err)
	}
	cut := got[0]
	if len(cut.Raw) > MaxEventBytes || len(cut.Details) > MaxEventBytes || !strings.Contains(cut.Raw, "cut by vpnwatchd") ||
		!strings.HasPrefix(cut.Raw, `{"details":"AWS tunnel DPD timed out`) || !utf8.ValidString(cut.Raw) {
		t.Errorf("oversized event kept as %d bytes (valid UTF-8 %v), ending %q", len(cut.Raw), utf8.ValidString(cut.Raw), cut.Raw[max(0, len(cut.Raw)-120):])
	}
	if got[1].Raw != exact {
		t.Errorf("an event of exactly %d bytes was changed to %d bytes", MaxEventBytes, len(got[1].Raw))
	}
	if got[2].Class != ClassPeerDead {
		t.Errorf("the event after the oversized one: %+v", got[2])
	}
}

// An endpoint answering empty pages, each with a new token, without end
// costs at most MaxPages calls a read; the read keeps its place and the
// next read carries on from the token, so that the events behind the run
// are read, however long ago they happened.
func TestReaderEmptyPagesBoundedAndCarriedOn(t *testing.T) {
	sim, url := ec2sim.Start(t, nil)
	c := logsClient(t, url, 3)
	// calls counts the reader's calls (the SDK's retries of a broken
	// connection would be more requests, none more calls).
	calls := 0
	r := &Reader{Filter: func(ctx context.Context, in *cloudwatchlogs.FilterLogEventsInput, o ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error) {
		calls++
		return c.FilterLogEvents(ctx, in, o...)
	}}
	t0 := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	stream := "vpn-0123456789abcdef0_203.0.113.10-IKE.log"
	sim.AddLogEvent(group, stream, t0.Add(-30*time.Second), `{"details":"AWS tunnel DPD timed out after 3 retransmits"}`)
	sim.EmptyLogPages(1 << 30)
	for p := range 4 {
		calls = 0
		got, err := r.Read(t.Context(), group, t0.Add(time.Duration(p)*10*time.Minute))
		if err != nil || len(got) != 0 || calls != 5 {
			t.Fatalf("read %d in the run of empty pages: %d calls (want 5), %d events, %v", p, calls, len(got), err)
		}
	}
	if n := sim.Requests("FilterLogEvents", ""); n < 20 {
		t.Errorf("the simulator saw %d requests for 20 calls", n)
	}
	// The run ends: the event of 40 minutes ago, far outside any window
	// read since, is read from where the run stopped.
	sim.EmptyLogPages(2)
	calls = 0
	got, err := r.Read(t.Context(), group, t0.Add(40*time.Minute))
	if err != nil || len(got) != 1 || got[0].Class != ClassDPDTimeout {
		t.Fatalf("after the run: %+v, %v", got, err)
	}
	if calls > 5 {
		t.Errorf("%d calls in the read after the run, want at most 5", calls)
	}
	// Later reads go on from the time the carried-on read ended.
	sim.AddLogEvent(group, stream, t0.Add(41*time.Minute), `{"details":"Peer is not responsive - Declaring peer dead"}`)
	got, err = r.Read(t.Context(), group, t0.Add(42*time.Minute))
	if err != nil || len(got) != 1 || got[0].Class != ClassPeerDead {
		t.Errorf("the read after: %+v, %v", got, err)
	}
}
