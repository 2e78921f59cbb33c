package alert

import (
	"context"
	"encoding/json"
	"github.com/vpnwatchd/vpnwatchd/internal/correlate"
	"net/http"
	"slices"
	"strings"
)

// Slack posts to a Slack incoming webhook with Block Kit: a header, the
// summary, AWS side and the gateway side in two columns, the fix in a code block,
// and a plain-text fallback for notifications.
type Slack struct {
	WebhookURL string
	Channel    string
	Client     *http.Client
}

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type slackBlock struct {
	Type     string      `json:"type"`
	Text     *slackText  `json:"text,omitempty"`
	Fields   []slackText `json:"fields,omitempty"`
	Elements []slackText `json:"elements,omitempty"`
}

// SlackMessage is the body posted to the webhook.
type SlackMessage struct {
	Channel string       `json:"channel,omitempty"`
	Text    string       `json:"text"`
	Blocks  []slackBlock `json:"blocks"`
}

// SlackPayload renders alerts as one Slack message.
func SlackPayload(channel string, alerts []Alert) SlackMessage {
	m := SlackMessage{Channel: channel}
	var titles []string
	for i, a := range alerts {
		f := a.Finding
		titles = append(titles, Title(a))
		if i > 0 {
			m.Blocks = append(m.Blocks, slackBlock{Type: "divider"})
		}
		emoji := map[string]string{"critical": ":red_circle:", "warning": ":large_orange_circle:", "info": ":large_blue_circle:"}[f.Severity]
		if a.Status == StatusResolved {
			emoji = ":white_check_mark:"
		}
		header := strings.TrimSpace(emoji + " " + strings.ToUpper(a.Status) + " " + f.Rule + " (" + f.Severity + ")")
		if len(header) > 150 {
			header = header[:150]
		}
		m.Blocks = append(m.Blocks,
			slackBlock{Type: "header", Text: &slackText{"plain_text", header}},
			slackBlock{Type: "section", Text: &slackText{"mrkdwn", "*" + slackEscape(f.Subject.String()) + "*\n" + slackEscape(strings.TrimSpace(correlate.Printable(f.Summary)+"\n"+f.StaleNote()))}})
		m.Blocks = append(m.Blocks, slackSides(f)...)
		if a.Status == StatusFiring && f.Remediation != "" {
			m.Blocks = append(m.Blocks, slackBlock{Type: "section", Text: &slackText{"mrkdwn", "*Fix*\n```" + slackEscape(f.Remediation) + "```"}})
		}
		m.Blocks = append(m.Blocks, slackBlock{Type: "context", Elements: []slackText{{"mrkdwn", "vpnwatchd · since " + a.StartsAt.UTC().Format("2006-01-02 15:04Z")}}})
	}
	m.Text = strings.Join(titles, "\n")
	return m
}

// SlackGroupPayload renders a grouped message: root causes first with
// both sides and the fix, what each explains under it, what resolved.
func SlackGroupPayload(channel string, alerts []Alert) SlackMessage {
	m := SlackMessage{Channel: channel, Text: MessageTitle(alerts)}
	header := m.Text
	if len(header) > 150 {
		header = header[:150]
	}
	m.Blocks = append(m.Blocks, slackBlock{Type: "header", Text: &slackText{"plain_text", header}})
	es := entries(alerts)
	for _, e := range es {
		if !e.root || e.lead().Status != StatusFiring {
			continue
		}
		f := e.lead().Finding
		emoji := map[string]string{"critical": ":red_circle:", "warning": ":large_orange_circle:", "info": ":large_blue_circle:"}[f.Severity]
		var sums []string
		for _, a := range e.alerts {
			sums = append(sums, slackEscape(strings.TrimSpace(correlate.Printable(a.Finding.Summary)+"\n"+a.Finding.StaleNote())))
		}
		m.Blocks = append(m.Blocks, slackBlock{Type: "divider"},
			slackBlock{Type: "section", Text: &slackText{"mrkdwn", emoji + " *" + strings.ToUpper(f.Severity) + " " + f.Rule + "* — " + slackEscape(subjects(e)) + newMark(e) + "\n" + strings.Join(sums, "\n")}})
		m.Blocks = append(m.Blocks, slackSides(f)...)
		fix := f.Remediation
		for _, a := range e.alerts[1:] {
			if a.Finding.Remediation != f.Remediation {
				fix += "\n" + a.Finding.Subject.String() + ": " + a.Finding.Remediation
			}
		}
		m.Blocks = append(m.Blocks, slackBlock{Type: "section", Text: &slackText{"mrkdwn", "*Fix*\n```" + slackEscape(fix) + "```"}})
		var under []string
		for _, x := range es {
			if !x.root && x.lead().Status == StatusFiring && slices.ContainsFunc(e.alerts, func(a Alert) bool { return a.Fingerprint == x.lead().Finding.ExplainedBy }) {
				under = append(under, "• "+strings.ToUpper(x.lead().Finding.Severity)+" "+x.lead().Finding.Rule+" — "+slackEscape(subjects(x))+newMark(x)+": "+slackEscape(correlate.Printable(x.lead().Finding.Summary)))
			}
		}
		if len(under) > 0 {
			m.Blocks = append(m.Blocks, slackBlock{Type: "section", Text: &slackText{"mrkdwn", "*Because of it*\n" + strings.Join(under, "\n")}})
		}
	}
	var resolved []string
	for _, e := range es {
		if e.lead().Status == StatusResolved {
			resolved = append(resolved, ":white_check_mark: "+e.lead().Finding.Rule+" — "+slackEscape(subjects(e)))
		}
	}
	if len(resolved) > 0 {
		m.Blocks = append(m.Blocks, slackBlock{Type: "divider"}, slackBlock{Type: "section", Text: &slackText{"mrkdwn", "*Resolved since the last message*\n" + strings.Join(resolved, "\n")}})
	}
	m.Blocks = append(m.Blocks, slackBlock{Type: "context", Elements: []slackText{{"mrkdwn", "vpnwatchd · " + slackEscape(alerts[0].Group)}}})
	return m
}

// Notify posts the alerts as one message.
func (s *Slack) Notify(ctx context.Context, alerts []Alert) (bool, error) {
	msg := SlackPayload(s.Channel, alerts)
	if len(alerts) > 0 && alerts[0].Group != "" {
		msg = SlackGroupPayload(s.Channel, alerts)
	}
	body, err := json.Marshal(msg)
	if err != nil {
		return false, err
	}
	return post(ctx, s.Client, s.WebhookURL, true, body, nil)
}

// slackSides is a finding's evidence as two columns, AWS and RTX; none
// when neither side has any.
func slackSides(f correlate.Finding) []slackBlock {
	var fields []slackText
	if l := awsLines(f); len(l) > 0 {
		fields = append(fields, slackText{"mrkdwn", "*AWS side*\n" + slackEscape(strings.Join(l, "\n"))})
	}
	if l := rtxLines(f); len(l) > 0 {
		fields = append(fields, slackText{"mrkdwn", "*" + f.GatewaySide() + "*\n" + slackEscape(strings.Join(l, "\n"))})
	}
	if len(fields) == 0 {
		return nil
	}
	return []slackBlock{{Type: "section", Fields: fields}}
}

// slackEscape makes text from routers, AWS and the configuration inert in
// Slack mrkdwn: "&", "<" and ">" are escaped as Slack asks, so that a
// spoofed log line cannot mention <!channel> or hide a link; triple
// backquotes cannot close the fix's code block.
func slackEscape(s string) string {
	s = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
	return strings.ReplaceAll(s, "```", "`\u200b`\u200b`") // zero-width spaces
}
