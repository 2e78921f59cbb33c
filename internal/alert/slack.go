package alert

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
)

// Slack posts to a Slack incoming webhook with Block Kit: a header, the
// summary, AWS side and RTX side in two columns, the fix in a code block,
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
			slackBlock{Type: "section", Text: &slackText{"mrkdwn", "*" + slackEscape(f.Subject.String()) + "*\n" + slackEscape(strings.TrimSpace(printable(f.Summary)+"\n"+f.StaleNote()))}})
		var fields []slackText
		if l := awsLines(f); len(l) > 0 {
			fields = append(fields, slackText{"mrkdwn", "*AWS side*\n" + slackEscape(strings.Join(l, "\n"))})
		}
		if l := rtxLines(f); len(l) > 0 {
			fields = append(fields, slackText{"mrkdwn", "*RTX side*\n" + slackEscape(strings.Join(l, "\n"))})
		}
		if len(fields) > 0 {
			m.Blocks = append(m.Blocks, slackBlock{Type: "section", Fields: fields})
		}
		if a.Status == StatusFiring && f.Remediation != "" {
			m.Blocks = append(m.Blocks, slackBlock{Type: "section", Text: &slackText{"mrkdwn", "*Fix*\n```" + slackEscape(f.Remediation) + "```"}})
		}
		m.Blocks = append(m.Blocks, slackBlock{Type: "context", Elements: []slackText{{"mrkdwn", "vpnwatchd · since " + a.StartsAt.UTC().Format("2006-01-02 15:04Z")}}})
	}
	m.Text = strings.Join(titles, "\n")
	return m
}

// Notify posts the alerts as one message.
func (s *Slack) Notify(ctx context.Context, alerts []Alert) (bool, error) {
	body, err := json.Marshal(SlackPayload(s.Channel, alerts))
	if err != nil {
		return false, err
	}
	return post(ctx, s.Client, s.WebhookURL, true, body, nil)
}

// slackEscape makes text from routers, AWS and the configuration inert in
// Slack mrkdwn: "&", "<" and ">" are escaped as Slack asks, so that a
// spoofed log line cannot mention <!channel> or hide a link; triple
// backquotes cannot close the fix's code block.
func slackEscape(s string) string {
	s = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
	return strings.ReplaceAll(s, "```", "`​`​`")
}
