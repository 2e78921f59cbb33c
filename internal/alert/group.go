package alert

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/correlate"
)

// Grouping is how the notifications of direct receivers (Slack, e-mail,
// webhook) are grouped, as Alertmanager groups them: one message per
// group carries every finding of the group and what changed since the
// last message. Alertmanager receivers get one alert per finding instead
// (Alertmanager groups them itself).
type Grouping struct {
	// By are the labels that make a group (default vpn_connection_id); a
	// finding whose labels are all empty falls back to its router, then
	// its AWS source and region, then its probe. Empty: one group.
	By []string
	// Wait is how long a new group waits for more before its first
	// message; Interval is the least time between two messages of a group
	// that changes.
	Wait, Interval time.Duration
}

// group is one group's state: what its last message said, and what
// changed since.
type group struct {
	key     string
	firing  []Alert          // the group's firing alerts at the last Update
	changes map[string]Alert // fingerprint → its latest change since the last message
	// waiting is when a change that warrants a message first waited (a new
	// or resolved root cause, the severity changing, the group clearing);
	// zero when none waits.
	waiting  time.Time
	lastSent time.Time
	roots    []string // root causes in the last message
	severity int      // the highest severity in the last message
	open     bool     // the last message had something firing
}

// groupKey names the group of a finding: its group_by labels, with the
// fallbacks for findings about a router, an AWS region or a probe.
func (g Grouping) groupKey(a Alert) string {
	l := labels(a)
	by := g.By
	switch {
	case by == nil:
		by = []string{"vpn_connection_id"} // the default
	case len(by) == 0:
		return "all" // group_by: [] puts everything in one group, as in Alertmanager
	}
	var parts []string
	for _, k := range by {
		if l[k] != "" {
			parts = append(parts, k+"="+l[k])
		}
	}
	if len(parts) == 0 {
		for _, k := range [][]string{{"router"}, {"source", "region"}, {"probe"}} {
			for _, kk := range k {
				if l[kk] != "" {
					parts = append(parts, kk+"="+l[kk])
				}
			}
			if len(parts) > 0 {
				break
			}
		}
	}
	if len(parts) == 0 {
		return "vpnwatchd"
	}
	return strings.Join(parts, ",")
}

// rootsOf are the fingerprints of the firing alerts nothing else explains,
// sorted, and the highest severity among all.
func rootsOf(firing []Alert) (roots []string, severity int) {
	for _, a := range firing {
		if a.Finding.ExplainedBy == "" {
			roots = append(roots, a.Fingerprint)
		}
		severity = max(severity, correlate.SeverityRank(a.Finding.Severity))
	}
	slices.Sort(roots)
	return roots, severity
}

// group feeds a cycle's changes (per-finding alerts from the lifecycle,
// silenced ones already dropped) and the firing alerts into the groups,
// and returns the messages due at now, each a group's alerts in order.
func (m *Manager) groupMessages(changes []Alert, now time.Time) [][]Alert {
	if m.groups == nil {
		m.groups = map[string]*group{}
	}
	firing := map[string][]Alert{}
	for _, a := range m.life.Firing() {
		if _, held := silenced(m.windows, a, now); held {
			continue // a maintenance window holds it back
		}
		k := m.grouping.groupKey(a)
		firing[k] = append(firing[k], a)
	}
	for k, g := range m.groups {
		g.firing = firing[k]
	}
	for _, a := range changes {
		if a.Repeat {
			continue // groups repeat as a whole
		}
		k := m.grouping.groupKey(a)
		g := m.groups[k]
		if g == nil {
			g = &group{key: k, changes: map[string]Alert{}, firing: firing[k]}
			m.groups[k] = g
		}
		g.changes[a.Fingerprint] = a
	}
	// Alerts firing with no change now were told before this process
	// started (the lifecycle is kept in the state directory): their group
	// is as its last message left it, and is reminded of from now on.
	for k, fs := range firing {
		if m.groups[k] == nil {
			roots, sev := rootsOf(fs)
			m.groups[k] = &group{key: k, changes: map[string]Alert{}, firing: fs, lastSent: now, roots: roots, severity: sev, open: true}
		}
	}
	var out [][]Alert
	for _, k := range slices.Sorted(maps.Keys(m.groups)) {
		g := m.groups[k]
		roots, sev := rootsOf(g.firing)
		significant := len(g.changes) > 0 &&
			(!slices.Equal(roots, g.roots) || sev != g.severity || g.open && len(g.firing) == 0 || !g.open && len(g.firing) > 0)
		if significant && g.waiting.IsZero() {
			g.waiting = now
		}
		repeat := false
		switch {
		case !g.waiting.IsZero():
			if now.Before(g.due(m.grouping)) {
				continue
			}
		case g.open && len(g.firing) > 0 && sev > 0 && now.Sub(g.lastSent) >= m.life.RepeatInterval:
			repeat = true // reminders of what still fires; info is said once
		default:
			if len(g.firing) == 0 && len(g.changes) == 0 && !g.open {
				delete(m.groups, k)
			}
			continue
		}
		msg := groupMessage(g, repeat)
		g.changes, g.waiting, g.lastSent = map[string]Alert{}, time.Time{}, now
		g.roots, g.severity, g.open = roots, sev, len(g.firing) > 0
		if len(msg) > 0 {
			out = append(out, msg)
		}
	}
	return out
}

// nextDue is when the earliest waiting group's message is due (zero: none
// waits), so that the caller evaluates again then.
func (m *Manager) nextDue() time.Time {
	var next time.Time
	for _, g := range m.groups {
		if g.waiting.IsZero() {
			continue
		}
		if due := g.due(m.grouping); next.IsZero() || due.Before(next) {
			next = due
		}
	}
	return next
}

// due is when a waiting group's message goes: group_wait after the change
// for a group with nothing told, else group_interval after its last message.
func (g *group) due(gr Grouping) time.Time {
	if g.open {
		return maxTime(g.waiting, g.lastSent.Add(gr.Interval))
	}
	return g.waiting.Add(gr.Wait)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// groupMessage is a group's message: every firing alert (marked Changed
// when it is new or changed since the last message) then the alerts that
// resolved since; root causes first, each followed by what it explains.
func groupMessage(g *group, repeat bool) []Alert {
	var msg []Alert
	for _, a := range g.firing {
		_, a.Changed = g.changes[a.Fingerprint]
		a.Group, a.Repeat = g.key, repeat
		msg = append(msg, a)
	}
	for _, fp := range slices.Sorted(maps.Keys(g.changes)) {
		if a := g.changes[fp]; a.Status == StatusResolved {
			a.Group, a.Changed = g.key, true
			msg = append(msg, a)
		}
	}
	return OrderByCause(msg)
}

// OrderByCause orders alerts as a message shows them: firing before
// resolved; root causes by severity, each followed by what it explains.
func OrderByCause(alerts []Alert) []Alert {
	rank := func(a Alert) int {
		r := correlate.SeverityRank(a.Finding.Severity)
		if a.Status == StatusResolved {
			r -= 10
		}
		return r
	}
	byFP := map[string]int{}
	for i, a := range alerts {
		byFP[a.Fingerprint] = i
	}
	var roots []Alert
	under := map[string][]Alert{}
	for _, a := range alerts {
		if c := a.Finding.ExplainedBy; c != "" {
			if _, ok := byFP[c]; ok {
				under[c] = append(under[c], a)
				continue
			}
		}
		roots = append(roots, a)
	}
	sortAlerts := func(as []Alert) {
		slices.SortStableFunc(as, func(x, y Alert) int {
			if d := rank(y) - rank(x); d != 0 {
				return d
			}
			return strings.Compare(x.Fingerprint, y.Fingerprint)
		})
	}
	sortAlerts(roots)
	var out []Alert
	for _, r := range roots {
		out = append(out, r)
		sub := under[r.Fingerprint]
		sortAlerts(sub)
		out = append(out, sub...)
	}
	return out
}
