package daemon

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/version"

	"github.com/vpnwatchd/vpnwatchd/internal/config"
	"github.com/vpnwatchd/vpnwatchd/internal/correlate"
	"github.com/vpnwatchd/vpnwatchd/internal/status"
)

// eventsKept bounds the status page's event list (24 h and this many).
const eventsKept = 500

// eventLog is the status page's list of what happened, written by the
// main loop and the notification workers.
type eventLog struct {
	now  func() time.Time
	mu   sync.Mutex
	list []status.Event
}

func (e *eventLog) add(text string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	e.list = append(e.list, status.Event{Time: now, Text: text})
	i := 0
	for i < len(e.list) && (now.Sub(e.list[i].Time) > 24*time.Hour || len(e.list)-i > eventsKept) {
		i++
	}
	e.list = e.list[i:]
}

// newestFirst returns a copy of the events, newest first.
func (e *eventLog) newestFirst() []status.Event {
	e.mu.Lock()
	out := slices.Clone(e.list)
	e.mu.Unlock()
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	return out
}

// buildStatus gathers the status page's data after an evaluation.
func (d *Daemon) buildStatus(c *config.Config, active []correlate.Finding) {
	s := status.Status{GeneratedAt: d.now(), Version: version.Info(), Findings: active, Unchecked: d.main.unchecked}
	for _, t := range d.main.views {
		t.Timeline = d.withResolved(t)
		if t.Joined() {
			s.Tunnels = append(s.Tunnels, t)
		} else {
			s.Unjoined = append(s.Unjoined, t)
		}
	}
	s.Sources = d.main.latest.sources(c)
	for _, p := range d.probes.snapshot() {
		src := status.Source{SourceID: config.ProbeSource(p.Name), Target: p.Target, Up: p.Err == nil}
		if p.Err != nil {
			src.LastError = p.Err.Error()
		} else {
			src.LastSuccess = p.TakenAt
		}
		s.Sources = append(s.Sources, src)
	}
	s.Events = d.events.newestFirst()
	d.page.Store(&s)
}

// withResolved adds the findings about a tunnel that fired and ended to
// its timeline (those still active are there already).
func (d *Daemon) withResolved(t correlate.TunnelView) []correlate.TimelineEvent {
	out := t.Timeline
	for _, r := range d.main.resolved {
		if t.Matches(r.finding.Subject) {
			f := r.finding
			out = append(out[:len(out):len(out)],
				correlate.TimelineEvent{Time: f.Since, Side: "vpnwatchd", Text: fmt.Sprintf("%s %s firing", strings.ToUpper(f.Severity), f.Rule)},
				correlate.TimelineEvent{Time: r.at, Side: "vpnwatchd", Text: f.Rule + " resolved"})
		}
	}
	if len(out) == len(t.Timeline) {
		return out
	}
	return correlate.SortTimeline(out)
}

// statusPage serves / and /api/v1/status.
func (d *Daemon) statusPage(w http.ResponseWriter, r *http.Request) {
	s := d.page.Load()
	if s == nil {
		s = &status.Status{GeneratedAt: d.now(), Version: version.Info(), Unchecked: []string{"the first poll cycle has not completed yet"}}
	}
	if strings.HasPrefix(r.URL.Path, "/api/") {
		w.Header().Set("Content-Type", "application/json")
		status.JSON(w, *s)
		return
	}
	refresh := 30
	if v := r.URL.Query().Get("refresh"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			http.Error(w, fmt.Sprintf("refresh=%q: seconds, 0 for none", v), http.StatusBadRequest)
			return
		}
		refresh = n
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	status.HTML(w, *s, refresh)
}
