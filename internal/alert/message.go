package alert

import (
	"fmt"
	"html"
	"slices"
	"strings"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/correlate"
)

// A grouped message (Grouping) reads as one story: the root causes first,
// each with its evidence and fix, the symptoms it explains under it, then
// what resolved since the last message. Findings that differ only by
// tunnel read as one line ("tunnels 1 and 2").

// entry is one line of a message: alerts of one rule, status and cause.
type entry struct {
	alerts []Alert
	root   bool
	cause  string // the rule of the root cause, for explained entries
}

func (e entry) lead() Alert { return e.alerts[0] }

// changed reports whether the entry is new or changed since the group's
// last message.
func (e entry) changed() bool {
	return slices.ContainsFunc(e.alerts, func(a Alert) bool { return a.Changed })
}

// entries splits an ordered message (OrderByCause) into its lines.
func entries(alerts []Alert) []entry {
	var out []entry
	for _, a := range OrderByCause(alerts) {
		i := slices.IndexFunc(alerts, func(b Alert) bool { return a.Finding.ExplainedBy != "" && b.Fingerprint == a.Finding.ExplainedBy })
		root, cause := i < 0, ""
		if !root {
			cause = alerts[i].Finding.Rule
		}
		if i := slices.IndexFunc(out, func(e entry) bool {
			l := e.lead()
			return l.Finding.Rule == a.Finding.Rule && l.Status == a.Status && e.root == root && e.cause == cause &&
				l.Finding.Subject.VPNConnectionID == a.Finding.Subject.VPNConnectionID && l.Finding.Subject.Router == a.Finding.Subject.Router
		}); i >= 0 {
			out[i].alerts = append(out[i].alerts, a)
			continue
		}
		out = append(out, entry{alerts: []Alert{a}, root: root, cause: cause})
	}
	return out
}

// subjects names what an entry's alerts are about, tunnels merged.
func subjects(e entry) string {
	var ss []correlate.Subject
	for _, a := range e.alerts {
		ss = append(ss, a.Finding.Subject)
	}
	return correlate.Tunnels(ss, true)
}

// firingOf reports whether anything in the message fires.
func firingOf(alerts []Alert) bool {
	return slices.ContainsFunc(alerts, func(a Alert) bool { return a.Status == StatusFiring })
}

// MessageTitle names a grouped message: status, worst severity, what the
// group is about and its root causes.
func MessageTitle(alerts []Alert) string {
	es := entries(alerts)
	status, sev := "RESOLVED", ""
	var roots []string
	for _, e := range es {
		if e.lead().Status == StatusFiring {
			status = "FIRING"
			if e.root {
				roots = append(roots, e.lead().Finding.Rule)
			}
			if sev == "" || correlate.SeverityRank(e.lead().Finding.Severity) > correlate.SeverityRank(sev) {
				sev = e.lead().Finding.Severity
			}
		}
	}
	if alerts[0].Repeat && status == "FIRING" {
		status = "STILL FIRING"
	}
	about := groupSubject(alerts)
	if status == "RESOLVED" {
		return fmt.Sprintf("[RESOLVED] %s: all clear", about)
	}
	explained := 0
	for _, a := range alerts {
		if a.Status == StatusFiring && a.Finding.ExplainedBy != "" {
			explained++
		}
	}
	t := fmt.Sprintf("[%s %s] %s: %s", status, sev, about, strings.Join(slices.Compact(roots), ", "))
	if explained > 0 {
		t += fmt.Sprintf(" (+%d explained)", explained)
	}
	return t
}

// groupSubject is what a group is about, as people name it: the VPN
// connection with its Name tag, the router, else the group's labels.
func groupSubject(alerts []Alert) string {
	for _, a := range alerts {
		if s := a.Finding.Subject; s.VPNConnectionID != "" {
			if s.VPNName != "" {
				return s.VPNConnectionID + " (" + s.VPNName + ")"
			}
			return s.VPNConnectionID
		}
	}
	for _, a := range alerts {
		if s := a.Finding.Subject; s.Router != "" {
			return "RTX " + s.Router
		}
	}
	return alerts[0].Finding.Subject.String()
}

// MessageText renders a grouped message as plain text (e-mail, webhook
// "text").
func MessageText(alerts []Alert) string {
	var b strings.Builder
	b.WriteString(MessageTitle(alerts) + "\n")
	es := entries(alerts)
	for _, e := range es {
		if !e.root || e.lead().Status != StatusFiring {
			continue
		}
		writeRoot(&b, e)
		var under []entry
		for _, x := range es {
			if !x.root && x.lead().Status == StatusFiring && x.lead().Finding.ExplainedBy == e.lead().Fingerprint ||
				!x.root && x.lead().Status == StatusFiring && slices.ContainsFunc(e.alerts, func(a Alert) bool { return a.Fingerprint == x.lead().Finding.ExplainedBy }) {
				under = append(under, x)
			}
		}
		if len(under) > 0 {
			b.WriteString("\n  Because of it:\n")
			for _, x := range under {
				fmt.Fprintf(&b, "  - %s %s — %s%s\n", strings.ToUpper(x.lead().Finding.Severity), x.lead().Finding.Rule, subjects(x), newMark(x))
				for _, a := range x.alerts {
					fmt.Fprintf(&b, "      %s\n", correlate.Printable(a.Finding.Summary))
				}
			}
		}
	}
	var resolved []entry
	for _, e := range es {
		if e.lead().Status == StatusResolved {
			resolved = append(resolved, e)
		}
	}
	if len(resolved) > 0 {
		b.WriteString("\nResolved since the last message:\n")
		for _, e := range resolved {
			fmt.Fprintf(&b, "  - %s — %s (firing since %s)\n", e.lead().Finding.Rule, subjects(e), e.lead().StartsAt.UTC().Format(time.RFC3339))
		}
	}
	return b.String()
}

func newMark(e entry) string {
	if e.changed() {
		return "  [new]"
	}
	return ""
}

// writeRoot writes a root cause: what, where, both sides, the fix.
func writeRoot(b *strings.Builder, e entry) {
	l := e.lead()
	f := l.Finding
	status := strings.ToUpper(f.Severity)
	if l.Flapping {
		status += " FLAPPING"
	}
	fmt.Fprintf(b, "\n● %s %s — %s%s\n", status, f.Rule, subjects(e), newMark(e))
	fmt.Fprintf(b, "  since %s\n", l.StartsAt.UTC().Format(time.RFC3339))
	for _, a := range e.alerts {
		fmt.Fprintf(b, "  %s\n", correlate.Printable(a.Finding.Summary))
		if n := a.Finding.StaleNote(); n != "" {
			fmt.Fprintf(b, "  %s\n", n)
		}
	}
	writeSides(b, f, "  ")
	fmt.Fprintf(b, "  Fix: %s\n", f.Remediation)
	for _, a := range e.alerts[1:] {
		if a.Finding.Remediation != f.Remediation {
			fmt.Fprintf(b, "  Fix for %s: %s\n", a.Finding.Subject, a.Finding.Remediation)
		}
	}
	var cmds []string
	for _, a := range e.alerts {
		for _, c := range a.Finding.Commands() {
			if !slices.Contains(cmds, c) {
				cmds = append(cmds, c)
			}
		}
	}
	if len(cmds) > 0 {
		b.WriteString("  Commands:\n")
		for _, c := range cmds {
			b.WriteString("    " + c + "\n")
		}
	}
}

// MessageHTML renders a grouped message for the HTML part of an e-mail.
func MessageHTML(alerts []Alert) string {
	return "<pre style=\"font-family:ui-monospace,Menlo,Consolas,monospace;white-space:pre-wrap\">" + html.EscapeString(MessageText(alerts)) + "</pre>\n"
}
