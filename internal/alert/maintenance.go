package alert

import (
	"strconv"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/config"
)

// Window holds back matching notifications between Start and End.
type Window struct {
	Name       string
	Start, End time.Time
	Matchers   map[string]string
}

// WindowsFrom takes the maintenance windows of the configuration (already
// validated).
func WindowsFrom(a config.Alerting) []Window {
	var out []Window
	for _, w := range a.MaintenanceWindows {
		start, end, err := w.Window()
		if err != nil {
			continue // config validation reported it
		}
		out = append(out, Window{Name: w.Name, Start: start, End: end, Matchers: w.Matchers})
	}
	return out
}

// labels are the values maintenance windows match on.
func labels(a Alert) map[string]string {
	s := a.Finding.Subject
	l := map[string]string{"rule": a.Finding.Rule, "severity": a.Finding.Severity, "vpn_connection_id": s.VPNConnectionID,
		"outside_ip": s.OutsideIP, "router": s.Router, "gateway_kind": s.GatewayKind, "tunnel": s.Tunnel, "source": s.Source, "region": s.Region, "probe": s.Probe}
	if s.RTXTunnel != 0 {
		l["rtx_tunnel"] = strconv.Itoa(s.RTXTunnel)
	}
	return l
}

// silenced returns the window that holds a back at now, if any.
func silenced(ws []Window, a Alert, now time.Time) (Window, bool) {
	l := labels(a)
	for _, w := range ws {
		if now.Before(w.Start) || !now.Before(w.End) {
			continue
		}
		match := true
		for k, v := range w.Matchers {
			if l[k] != v {
				match = false
			}
		}
		if match {
			return w, true
		}
	}
	return Window{}, false
}
