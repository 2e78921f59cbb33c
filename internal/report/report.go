// Package report renders findings for people (text) and for scripts
// (JSON), as `check` and `diagnose` print them.
package report

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/correlate"
)

// Report is the findings of one evaluation and what it could not check.
type Report struct {
	Findings  []correlate.Finding `json:"findings"`
	Unchecked []string            `json:"unchecked"`
	// Timelines, when set (diagnose), are the tunnels with what happened
	// to them, both sides merged.
	Timelines []correlate.TunnelView `json:"tunnels,omitempty"`
}

// JSON writes {"findings": [...], "unchecked": [...]}.
func JSON(w io.Writer, r Report) error {
	if r.Findings == nil {
		r.Findings = []correlate.Finding{}
	}
	if r.Unchecked == nil {
		r.Unchecked = []string{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Text writes the findings as an operator reads them: what, both sides,
// the fix. Every line goes through correlate.Printable: names, log lines
// and error messages come from routers, AWS and support bundles, and an
// escape sequence or a newline in them must not reach the terminal as one.
func Text(w io.Writer, r Report) error {
	var b strings.Builder
	line := func(format string, args ...any) {
		b.WriteString(correlate.Printable(fmt.Sprintf(format, args...)))
		b.WriteString("\n")
	}
	counts := map[string]int{}
	for _, f := range r.Findings {
		counts[f.Severity]++
		line("%s %s — %s", strings.ToUpper(f.Severity), f.Rule, f.Subject)
		line("  %s", f.Summary)
		if n := f.StaleNote(); n != "" {
			line("  %s", n)
		}
		if a := f.Evidence.AWS; a != nil {
			l := fmt.Sprintf("  AWS: %s %q, %d accepted routes, %s routing", a.Status, a.StatusMessage, a.AcceptedRoutes, a.Routing)
			if !a.LastStatusChange.IsZero() {
				l += fmt.Sprintf(", last change %s", a.LastStatusChange.UTC().Format("2006-01-02 15:04:05Z"))
			}
			if a.CustomerGatewayIP != "" {
				l += fmt.Sprintf(", customer gateway %s", a.CustomerGatewayIP)
			}
			line("%s", l)
			for _, l := range a.Log {
				line("  AWS log: %s", l)
			}
		}
		if x := f.Evidence.RTX; x != nil {
			l := fmt.Sprintf("  %s: tunnel %s", cmp.Or(x.Kind, "RTX"), x.TunnelState)
			if len(x.SAs) == 0 {
				l += ", no IPsec SA"
			} else {
				var sas []string
				for _, sa := range x.SAs {
					sas = append(sas, fmt.Sprintf("#%d %s %ds", sa.ID, sa.Direction, sa.RemainingSeconds))
				}
				l += ", SAs " + strings.Join(sas, " ")
			}
			if x.BGPNeighbor != "" {
				l += fmt.Sprintf(", BGP %s %s", x.BGPNeighbor, x.BGPState)
			}
			line("%s, %s, MTU %d, MSS limit %s, DPD %s", l, x.RoutesText(), x.MTU, x.MSSLimit, x.DPD)
		}
		for _, k := range slices.Sorted(maps.Keys(f.Evidence.Detail)) {
			if k == "error" && strings.Contains(f.Summary, errorText(f.Evidence.Detail[k])) {
				continue // the summary says it already: each error once
			}
			line("  %s: %s", k, f.Evidence.Detail[k])
		}
		line("  Fix: %s", f.Remediation)
		b.WriteString("\n")
	}
	if len(r.Unchecked) > 0 {
		b.WriteString("Not checked:\n")
		for _, u := range r.Unchecked {
			// "SOURCE: not checked: ERROR": the error is in the SourceStale
			// finding above; name the source only.
			if src, reason, ok := strings.Cut(u, ": not checked: "); ok && strings.Contains(b.String(), correlate.Printable(errorText(reason))) {
				u = src + " (no current data: see SourceStale above)"
			}
			line("  - %s", u)
		}
		b.WriteString("\n")
	}
	for _, t := range r.Timelines {
		if len(t.Timeline) == 0 {
			continue
		}
		name := "tunnel " + t.OutsideIP
		if t.Router != "" {
			name += fmt.Sprintf(" (RTX %s tunnel %d)", t.Router, t.RTXTunnel)
		}
		line("Timeline of %s:", name)
		for _, e := range t.Timeline {
			line("  %s  %-9s %s", e.Time.UTC().Format(time.RFC3339), e.Side, e.Text)
		}
		b.WriteString("\n")
	}
	if len(r.Findings) == 0 {
		b.WriteString("OK: no findings.\n")
	} else {
		fmt.Fprintf(&b, "%d critical, %d warning, %d info\n", counts[correlate.SeverityCritical], counts[correlate.SeverityWarning], counts[correlate.SeverityInfo])
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// errorText is an error message without the source name it starts with
// ("rtx osaka: connect: …" → "connect: …"), as summaries quote it.
func errorText(msg string) string {
	for _, prefix := range []string{"rtx ", "aws "} {
		if strings.HasPrefix(msg, prefix) {
			if i := strings.Index(msg, ": "); i >= 0 {
				return msg[i+2:]
			}
		}
	}
	return msg
}
