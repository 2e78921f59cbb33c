package alert

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// AlertmanagerResend is how often firing alerts are sent again, well inside
// Alertmanager's default resolve_timeout (5m); each firing alert carries
// endsAt four resends ahead, as Prometheus does.
const AlertmanagerResend = time.Minute

// Alertmanager posts to Alertmanager's v2 API.
type Alertmanager struct {
	URL          string
	GeneratorURL string
	Client       *http.Client
	Now          func() time.Time
}

type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// AlertmanagerLabels are the labels of an alert in Alertmanager: alertname
// is the rule; the subject's fields that are set.
func AlertmanagerLabels(a Alert) map[string]string {
	s := a.Finding.Subject
	l := map[string]string{"alertname": a.Finding.Rule, "severity": a.Finding.Severity, "job": "vpnwatchd"}
	for k, v := range map[string]string{"vpn_connection_id": s.VPNConnectionID, "vpn_name": s.VPNName, "outside_ip": s.OutsideIP,
		"router": s.Router, "gateway_kind": s.GatewayKind, "tunnel": s.Tunnel, "source": s.Source, "region": s.Region, "probe": s.Probe} {
		if v != "" {
			l[k] = v
		}
	}
	if s.RTXTunnel != 0 {
		l["rtx_tunnel"] = strconv.Itoa(s.RTXTunnel)
	}
	return l
}

// Notify posts the alerts; resolved ones with endsAt at their resolve time.
func (m *Alertmanager) Notify(ctx context.Context, alerts []Alert) (bool, error) {
	now := time.Now()
	if m.Now != nil {
		now = m.Now()
	}
	var body []amAlert
	for _, a := range alerts {
		x := amAlert{Labels: AlertmanagerLabels(a), StartsAt: a.StartsAt, GeneratorURL: m.GeneratorURL,
			Annotations: map[string]string{"summary": a.Finding.Summary, "description": Text(a), "remediation": a.Finding.Remediation}}
		if n := a.Finding.StaleNote(); n != "" {
			x.Annotations["stale"] = n
		}
		if a.Status == StatusResolved {
			x.EndsAt = a.EndsAt
		} else {
			x.EndsAt = now.Add(4 * AlertmanagerResend)
		}
		body = append(body, x)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return false, err
	}
	return post(ctx, m.Client, strings.TrimRight(m.URL, "/")+"/api/v2/alerts", false, b, nil)
}
