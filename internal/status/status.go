// Package status renders the status page and its JSON twin: both ends of
// every tunnel side by side, the active findings with their fixes, recent
// events and the health of every source. Rendering is pure; the daemon
// gathers the data and serves it.
package status

import (
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/config"
	"github.com/vpnwatchd/vpnwatchd/internal/correlate"
)

// Source is one polled source's health.
type Source struct {
	config.SourceID
	// Target is a probe's target address.
	Target      string    `json:"target,omitempty"`
	Up          bool      `json:"up"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
}

// Event is one thing that happened (a finding fired or resolved, a source
// failed or recovered, a notification was sent or failed).
type Event struct {
	Time time.Time `json:"time"`
	Text string    `json:"text"`
}

// Status is everything the page shows.
type Status struct {
	GeneratedAt time.Time           `json:"generated_at"`
	Version     string              `json:"version"`
	Findings    []correlate.Finding `json:"findings"`
	// Connections is the overview: one row per VPN connection, worst
	// first, each with its incident (Incidents); filled by HTML and JSON
	// when empty.
	Connections []Connection           `json:"connections"`
	Tunnels     []correlate.TunnelView `json:"tunnels"`
	Unjoined    []correlate.TunnelView `json:"unjoined"`
	Unchecked   []string               `json:"unchecked"`
	Sources     []Source               `json:"sources"`
	Events      []Event                `json:"events"`
}

//go:embed page.html
var files embed.FS

var page = template.Must(template.New("page.html").Funcs(template.FuncMap{
	// prose renders a summary or a remediation with its `quoted` settings
	// and commands as code.
	"prose": func(s string) template.HTML {
		parts := strings.Split(s, "`")
		var b strings.Builder
		for i, p := range parts {
			if i%2 == 1 && i < len(parts)-1 {
				b.WriteString("<code>" + template.HTMLEscapeString(p) + "</code>")
			} else {
				if i%2 == 1 {
					b.WriteString("`") // an unmatched quote stays as typed
				}
				b.WriteString(template.HTMLEscapeString(p))
			}
		}
		return template.HTML(b.String())
	},
	"lines": func(l []string) string { return strings.Join(l, "\n") },
	// anchor makes an element id of a label.
	"anchor": func(s string) string {
		return "c-" + strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
				return r
			}
			return '-'
		}, s)
	},
	"upper": strings.ToUpper,
	"ago": func(now, t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return now.Sub(t).Round(time.Second).String() + " ago"
	},
	"ts": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"secs": func(n int) string {
		if n < 0 {
			return "—"
		}
		return fmt.Sprintf("%ds", n)
	},
}).ParseFS(files, "page.html"))

// HTML writes the page. refresh is the auto-refresh interval in seconds,
// 0 for none. Names, tags, ids and what the sources said are untrusted:
// the page is passed through correlate.PrintableLines as a whole (the
// template's own text has nothing it changes), so that no string shown can
// carry an invisible or right-to-left character, whichever field it is in.
func HTML(w io.Writer, s Status, refresh int) error {
	s.fill()
	var b strings.Builder
	if err := page.Execute(&b, struct {
		Status
		Refresh int
	}{s, refresh}); err != nil {
		return err
	}
	_, err := io.WriteString(w, correlate.PrintableLines(b.String()))
	return err
}

// JSON writes the status for scripts.
func JSON(w io.Writer, s Status) error {
	s.fill()
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// fill builds the overview when the caller has not.
func (s *Status) fill() {
	if s.Connections == nil {
		s.Connections = Incidents(s.Findings, append(slices.Clone(s.Tunnels), s.Unjoined...))
	}
}
