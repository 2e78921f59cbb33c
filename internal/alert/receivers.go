package alert

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/config"
)

// Receivers builds a notifier for every receiver in the configuration,
// named "slack[0]", "email[1]", … Every problem is reported at once.
func Receivers(a config.Alerting, generatorURL string) ([]Receiver, error) {
	client := &http.Client{Timeout: 30 * time.Second}
	var out []Receiver
	var errs []error
	for i, s := range a.Slack {
		out = append(out, Receiver{Name: fmt.Sprintf("slack[%d]", i), Integration: "slack", SendResolved: s.SendResolved,
			Notifier: &Slack{WebhookURL: s.WebhookURL.Reveal(), Channel: s.Channel, Client: client}})
	}
	for i, e := range a.Email {
		n := &Email{Smarthost: e.Smarthost, From: e.From, To: e.To, Username: e.Username, Password: e.Password.Reveal(), RequireTLS: e.RequireTLS}
		if e.CAFile != "" {
			pem, err := os.ReadFile(e.CAFile)
			pool := x509.NewCertPool()
			if err != nil || !pool.AppendCertsFromPEM(pem) {
				errs = append(errs, fmt.Errorf("alerting.email[%d].ca_file %s: no PEM certificate could be read (%v)", i, e.CAFile, err))
				continue
			}
			n.RootCAs = pool
		}
		out = append(out, Receiver{Name: fmt.Sprintf("email[%d]", i), Integration: "email", SendResolved: e.SendResolved, Notifier: n})
	}
	for i, am := range a.Alertmanager {
		out = append(out, Receiver{Name: fmt.Sprintf("alertmanager[%d]", i), Integration: "alertmanager", SendResolved: true,
			Notifier: &Alertmanager{URL: am.URL, GeneratorURL: generatorURL, Client: client}})
	}
	for i, w := range a.Webhook {
		out = append(out, Receiver{Name: fmt.Sprintf("webhook[%d]", i), Integration: "webhook", SendResolved: w.SendResolved,
			Notifier: &Webhook{URL: w.ResolvedURL.Reveal(), SecretURL: w.URLFile != "", Secret: []byte(w.HMACSecret.Reveal()), Client: client}})
	}
	return out, errors.Join(errs...)
}

// LifecycleFrom takes the lifecycle settings of the configuration.
func LifecycleFrom(a config.Alerting) Lifecycle {
	return Lifecycle{RepeatInterval: a.RepeatInterval, ResolveHold: a.ResolveHold, FlapThreshold: a.FlapThreshold, FlapWindow: a.FlapWindow}
}

// GroupingFrom takes the grouping settings of the configuration.
func GroupingFrom(a config.Alerting) Grouping {
	return Grouping{By: a.GroupBy, Wait: a.GroupWait, Interval: a.GroupInterval}
}

// SetGrouping applies grouping settings (start-up and reloads); call it
// from the goroutine that calls Update.
func (m *Manager) SetGrouping(g Grouping) { m.grouping = g }

// Configure applies new lifecycle settings, maintenance windows and
// receivers (start-up and reloads).
func (m *Manager) Configure(l Lifecycle, ws []Window, rs []Receiver) {
	m.life.RepeatInterval, m.life.ResolveHold, m.life.FlapThreshold, m.life.FlapWindow = l.RepeatInterval, l.ResolveHold, l.FlapThreshold, l.FlapWindow
	m.windows = ws
	m.SetReceivers(rs)
}
