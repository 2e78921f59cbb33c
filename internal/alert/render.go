package alert

import (
	"fmt"
	"html"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/correlate"
)

// Title is the one line that names an alert: status, severity, rule,
// subject.
func Title(a Alert) string {
	status := strings.ToUpper(a.Status)
	if a.Flapping && a.Status == StatusFiring {
		status = "FLAPPING"
	}
	return fmt.Sprintf("[%s %s] %s — %s", status, a.Finding.Severity, a.Finding.Rule, a.Finding.Subject)
}

// awsLines and rtxLines render each side's evidence as label: value lines.
func awsLines(f correlate.Finding) []string {
	a := f.Evidence.AWS
	if a == nil {
		return nil
	}
	l := []string{
		fmt.Sprintf("status: %s %q", a.Status, a.StatusMessage),
		fmt.Sprintf("accepted routes: %d (%s routing)", a.AcceptedRoutes, a.Routing),
	}
	if !a.LastStatusChange.IsZero() {
		l = append(l, "last change: "+a.LastStatusChange.UTC().Format(time.RFC3339))
	}
	if a.CustomerGatewayIP != "" {
		l = append(l, "customer gateway: "+a.CustomerGatewayIP)
	}
	for _, line := range a.Log {
		l = append(l, "AWS log: "+clip(correlate.Printable(line)))
	}
	return l
}

func rtxLines(f correlate.Finding) []string {
	x := f.Evidence.RTX
	if x == nil {
		return nil
	}
	var sas []string
	for _, sa := range x.SAs {
		sas = append(sas, fmt.Sprintf("#%d %s %ds", sa.ID, sa.Direction, sa.RemainingSeconds))
	}
	if len(sas) == 0 {
		sas = []string{"none"}
	}
	l := []string{
		"tunnel: " + x.TunnelState,
		"IPsec SAs: " + strings.Join(sas, ", "),
	}
	if x.BGPNeighbor != "" {
		l = append(l, fmt.Sprintf("BGP %s: %s, %s", x.BGPNeighbor, x.BGPState, x.RoutesText()))
	}
	l = append(l, fmt.Sprintf("MTU %d, MSS limit %s, DPD %s", x.MTU, x.MSSLimit, x.DPD))
	// The router's own words about the tunnel, last few: untrusted text
	// (syslog over UDP can be spoofed), escaped by each renderer.
	if n := len(x.Syslog); n > 0 {
		for _, line := range x.Syslog[max(0, n-3):] {
			l = append(l, "log: "+clip(correlate.Printable(line)))
		}
	}
	return l
}

func detailLines(f correlate.Finding) []string {
	keys := slices.Sorted(maps.Keys(f.Evidence.Detail))
	var l []string
	for _, k := range keys {
		l = append(l, k+": "+f.Evidence.Detail[k])
	}
	return l
}

// Text renders an alert as plain text (e-mail, webhook "text").
func Text(a Alert) string {
	f := a.Finding
	var b strings.Builder
	b.WriteString(Title(a) + "\n\n")
	if a.Status == StatusResolved {
		fmt.Fprintf(&b, "Resolved at %s (firing since %s).\n\n", a.EndsAt.UTC().Format(time.RFC3339), a.StartsAt.UTC().Format(time.RFC3339))
	} else {
		fmt.Fprintf(&b, "Since %s.\n\n", a.StartsAt.UTC().Format(time.RFC3339))
	}
	b.WriteString(correlate.Printable(f.Summary) + "\n")
	if n := f.StaleNote(); n != "" {
		b.WriteString(n + "\n")
	}
	writeSides(&b, f, "")
	if a.Status == StatusFiring {
		fmt.Fprintf(&b, "\nFix:\n  %s\n", f.Remediation)
	}
	return b.String()
}

// writeSides writes both sides' evidence and the details, each under its
// heading, indented by indent.
func writeSides(b *strings.Builder, f correlate.Finding, indent string) {
	for _, side := range []struct {
		name  string
		lines []string
	}{{"AWS side", awsLines(f)}, {f.GatewaySide(), rtxLines(f)}, {"Details", detailLines(f)}} {
		if len(side.lines) == 0 {
			continue
		}
		if indent == "" {
			b.WriteString("\n") // a blank line before each side in a one-finding text
		}
		fmt.Fprintf(b, "%s%s:\n", indent, side.name)
		for _, l := range side.lines {
			b.WriteString(indent + "  " + l + "\n")
		}
	}
}

// HTML renders an alert for the HTML part of an e-mail.
func HTML(a Alert) string {
	f := a.Finding
	var b strings.Builder
	color := map[string]string{correlate.SeverityCritical: "#b00020", correlate.SeverityWarning: "#b26a00", correlate.SeverityInfo: "#1d5fa8"}[f.Severity]
	if a.Status == StatusResolved {
		color = "#2e7d32"
	}
	fmt.Fprintf(&b, "<h2 style=\"color:%s\">%s</h2>\n<p>%s</p>\n", color, html.EscapeString(Title(a)), html.EscapeString(f.Summary))
	if n := f.StaleNote(); n != "" {
		fmt.Fprintf(&b, "<p><b>%s</b></p>\n", html.EscapeString(n))
	}
	b.WriteString("<table cellpadding=\"6\" style=\"border-collapse:collapse\"><tr><th align=\"left\">AWS side</th><th align=\"left\">" + f.GatewaySide() + "</th></tr><tr>")
	for _, lines := range [][]string{awsLines(f), rtxLines(f)} {
		b.WriteString("<td valign=\"top\">")
		for _, l := range lines {
			b.WriteString(html.EscapeString(l) + "<br>")
		}
		b.WriteString("</td>")
	}
	b.WriteString("</tr></table>\n")
	if d := detailLines(f); len(d) > 0 {
		b.WriteString("<p>" + html.EscapeString(strings.Join(d, "; ")) + "</p>\n")
	}
	if a.Status == StatusFiring {
		fmt.Fprintf(&b, "<h3>Fix</h3>\n<pre>%s</pre>\n", html.EscapeString(f.Remediation))
	}
	return b.String()
}

// clip shortens an untrusted line to at most 200 bytes.
func clip(s string) string {
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "") + "…"
	}
	return s
}
