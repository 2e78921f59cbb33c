package daemon

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/version"

	"github.com/vpnwatchd/vpnwatchd/internal/config"
	"github.com/vpnwatchd/vpnwatchd/internal/correlate"
	"github.com/vpnwatchd/vpnwatchd/internal/status"
)

// eventsKept bounds the status page's event list (24 h and this many).
const eventsKept = 500

func (d *Daemon) addEvent(text string) {
	d.eventsMu.Lock()
	defer d.eventsMu.Unlock()
	now := d.now()
	d.events = append(d.events, status.Event{Time: now, Text: text})
	i := 0
	for i < len(d.events) && (now.Sub(d.events[i].Time) > 24*time.Hour || len(d.events)-i > eventsKept) {
		i++
	}
	d.events = d.events[i:]
}

// buildStatus gathers the status page's data after an evaluation.
func (d *Daemon) buildStatus(c *config.Config, active []correlate.Finding) {
	now := d.now()
	s := status.Status{GeneratedAt: now, Version: version.Info(), Findings: active, Unchecked: d.state.Unchecked}
	for _, t := range d.views {
		if t.Joined() {
			s.Tunnels = append(s.Tunnels, t)
		} else {
			s.Unjoined = append(s.Unjoined, t)
		}
	}
	for _, ref := range Expected(c) {
		key := "rtx/" + ref.Name
		if ref.Type == correlate.SourceAWS {
			key = "aws/" + ref.Name + "/" + ref.Region
		}
		errText, seen := d.sourceErr[key]
		s.Sources = append(s.Sources, status.Source{Type: ref.Type, Name: ref.Name, Region: ref.Region,
			Up: seen && errText == "", LastSuccess: d.lastOK[key], LastError: errText})
	}
	for _, p := range d.probes.snapshot() {
		src := status.Source{Type: correlate.SourceProbe, Name: p.Name, Region: p.Target, Up: p.Err == nil}
		if p.Err != nil {
			src.LastError = p.Err.Error()
		} else {
			src.LastSuccess = p.TakenAt
		}
		s.Sources = append(s.Sources, src)
	}
	d.eventsMu.Lock()
	s.Events = append([]status.Event(nil), d.events...)
	d.eventsMu.Unlock()
	sort.SliceStable(s.Events, func(i, j int) bool { return s.Events[i].Time.After(s.Events[j].Time) })
	d.page.Store(&s)
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
