package alert

import (
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/correlate"
)

// Lifecycle decides which notifications to send as findings come and go.
// Findings arrive already past their hold (correlate applies it); here they
// become firing alerts, reminders every RepeatInterval (not for info
// findings, which are sent once), and resolved
// notices once absent for ResolveHold. An alert that toggles more than
// FlapThreshold times within FlapWindow is held firing and marked flapping
// instead of being re-sent at every toggle.
type Lifecycle struct {
	RepeatInterval time.Duration
	ResolveHold    time.Duration
	FlapThreshold  int
	FlapWindow     time.Duration

	States map[string]*State `json:"states"`
}

// State is one alert's lifecycle, kept in the state directory across
// restarts.
type State struct {
	Alert     Alert       `json:"alert"`
	Firing    bool        `json:"firing"`
	LastSent  time.Time   `json:"last_sent"`
	GoneSince time.Time   `json:"gone_since,omitzero"`
	Toggles   []time.Time `json:"toggles,omitempty"`
}

// Step takes the active findings at now and returns the alerts to send.
func (l *Lifecycle) Step(active []correlate.Finding, now time.Time) []Alert {
	if l.States == nil {
		l.States = map[string]*State{}
	}
	var out []Alert
	seen := map[string]bool{}
	for _, f := range inhibit(active) {
		fp := f.Fingerprint()
		seen[fp] = true
		st := l.States[fp]
		switch {
		case st != nil && st.Firing:
			st.Alert.Finding, st.GoneSince = f, time.Time{}
			if st.LastSent.After(now) {
				st.LastSent = now // the clock stepped back: repeat from now, not never
			}
			// Info findings are said once: a reminder every few hours of
			// something that needs no action would teach people to ignore
			// the channel.
			if now.Sub(st.LastSent) >= l.RepeatInterval && f.Severity != correlate.SeverityInfo {
				a := st.Alert
				a.Repeat = true
				out = append(out, a)
				st.LastSent = now
			}
		default:
			if st == nil {
				st = &State{}
				l.States[fp] = st
			}
			st.Toggles = append(prune(st.Toggles, now, l.FlapWindow), now)
			wasFlapping := st.Alert.Flapping
			st.Firing = true
			st.GoneSince = time.Time{}
			st.Alert = Alert{Fingerprint: fp, Status: StatusFiring, Finding: f, StartsAt: f.Since,
				Flapping: l.FlapThreshold > 0 && len(st.Toggles) > l.FlapThreshold}
			if st.Alert.Flapping && wasFlapping {
				continue // already told: flapping alerts are not re-sent at each toggle
			}
			out = append(out, st.Alert)
			st.LastSent = now
		}
	}
	for fp, st := range l.States {
		if seen[fp] {
			continue
		}
		if !st.Firing {
			if len(prune(st.Toggles, now, l.FlapWindow)) == 0 {
				delete(l.States, fp)
			}
			continue
		}
		if st.GoneSince.IsZero() {
			st.GoneSince = now
		}
		hold := l.ResolveHold
		if st.Alert.Flapping {
			hold = max(hold, l.FlapWindow) // resolve a flapping alert only once it has been quiet
		}
		if now.Sub(st.GoneSince) < hold {
			continue
		}
		st.Firing = false
		a := st.Alert
		a.Status, a.EndsAt, a.Repeat = StatusResolved, now, false
		st.Alert = a
		out = append(out, a)
		st.LastSent = now
	}
	return out
}

// Firing returns the alerts that are firing now.
func (l *Lifecycle) Firing() []Alert {
	var out []Alert
	for _, st := range l.States {
		if st.Firing {
			out = append(out, st.Alert)
		}
	}
	return out
}

func prune(ts []time.Time, now time.Time, window time.Duration) []time.Time {
	var out []time.Time
	for _, t := range ts {
		if now.Sub(t) < window {
			out = append(out, t)
		}
	}
	return out
}

// inhibit drops findings another one makes redundant: TunnelDown while
// ConnectionDown holds for the same VPN connection. (Stale sources need no
// inhibition here: the correlator does not judge tunnels on stale data.)
func inhibit(fs []correlate.Finding) []correlate.Finding {
	connDown := map[string]bool{}
	for _, f := range fs {
		if f.Rule == "ConnectionDown" {
			connDown[f.Subject.VPNConnectionID] = true
		}
	}
	var out []correlate.Finding
	for _, f := range fs {
		if f.Rule == "TunnelDown" && connDown[f.Subject.VPNConnectionID] {
			continue
		}
		out = append(out, f)
	}
	return out
}
