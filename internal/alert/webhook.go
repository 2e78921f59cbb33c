package alert

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
)

// WebhookPayload is the documented body of the generic webhook:
//
//	{"version": "1", "status": "firing", "alerts": [{...}, ...]}
//
// status is "firing" when any alert fires, else "resolved". Each alert
// carries the finding whole (rule, severity, subject, summary, evidence,
// remediation), the plain-text rendering and its times.
type WebhookPayload struct {
	Version string `json:"version"`
	Status  string `json:"status"`
	// Group, Title and Text are a grouped message's (alerting.group_by):
	// its group, and the message as a person reads it. Each alert says
	// whether it changed since the group's last message.
	Group  string         `json:"group,omitempty"`
	Title  string         `json:"title,omitempty"`
	Text   string         `json:"text,omitempty"`
	Alerts []WebhookAlert `json:"alerts"`
}

// WebhookAlert is one alert in the webhook payload.
type WebhookAlert struct {
	Alert
	Title string `json:"title"`
	Text  string `json:"text"`
}

// SignatureHeader carries "sha256=" + hex HMAC-SHA256 of the body with the
// configured secret.
const SignatureHeader = "X-Vpnwatchd-Signature"

// Webhook posts JSON to any URL.
type Webhook struct {
	URL string
	// SecretURL: the URL came from url_file (it holds a token) and is
	// shown as scheme and host only.
	SecretURL bool
	Secret    []byte
	Client    *http.Client
}

// Notify posts the alerts.
func (w *Webhook) Notify(ctx context.Context, alerts []Alert) (bool, error) {
	p := WebhookPayload{Version: "1", Status: StatusResolved}
	for _, a := range alerts {
		if a.Status == StatusFiring {
			p.Status = StatusFiring
		}
		p.Alerts = append(p.Alerts, WebhookAlert{Alert: a, Title: Title(a), Text: Text(a)})
	}
	if len(alerts) > 0 && alerts[0].Group != "" {
		p.Group, p.Title, p.Text = alerts[0].Group, MessageTitle(alerts), MessageText(alerts)
	}
	body, err := json.Marshal(p)
	if err != nil {
		return false, err
	}
	h := http.Header{}
	if len(w.Secret) > 0 {
		m := hmac.New(sha256.New, w.Secret)
		m.Write(body)
		h.Set(SignatureHeader, "sha256="+hex.EncodeToString(m.Sum(nil)))
	}
	return post(ctx, w.Client, w.URL, w.SecretURL, body, h)
}
