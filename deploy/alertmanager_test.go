package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/testenv"
)

// The example Alertmanager configuration is valid and routes vpnwatchd's
// own health to its admins and critical VPN alerts to the pager.
func TestAlertmanagerExampleRoutes(t *testing.T) {
	runTool(t, "amtool", "check-config", "alertmanager/alertmanager.yml")
	for labels, receiver := range map[string]string{
		"alertname=VPNWatchBGPDownIPsecUp severity=critical":      "network-ops-page",
		"alertname=VPNWatchFindingCritical severity=critical":     "network-ops-page",
		"alertname=VPNWatchTunnelDown severity=warning":           "network-ops",
		"alertname=VPNWatchCycleStale severity=critical":          "vpnwatchd-admins",
		"alertname=VPNWatchAbsent severity=critical":              "vpnwatchd-admins",
		"alertname=VPNWatchNotificationsFailing severity=warning": "vpnwatchd-admins",
	} {
		args := append([]string{"config", "routes", "test", "--config.file=alertmanager/alertmanager.yml", "--verify.receivers=" + receiver}, strings.Fields(labels)...)
		runTool(t, "amtool", args...)
	}
}

// With the real Alertmanager and the example's inhibition: vpnwatchd's own
// finding silences the metric alerts for the same tunnel (not another
// tunnel's), and two vpnwatchd instances' alerts reach the receiver as one
// notification.
func TestAlertmanagerExampleInhibits(t *testing.T) {
	got := make(chan []map[string]string, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p struct {
			Alerts []struct {
				Labels map[string]string `json:"labels"`
			} `json:"alerts"`
		}
		json.NewDecoder(r.Body).Decode(&p)
		var labels []map[string]string
		for _, a := range p.Alerts {
			labels = append(labels, a.Labels)
		}
		got <- labels
	}))
	t.Cleanup(hook.Close)
	example, err := os.ReadFile("alertmanager/alertmanager.yml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(example)
	for _, u := range []string{"https://chat.example.com/hooks/network-ops", "https://pager.example.com/hooks/network-ops", "https://chat.example.com/hooks/vpnwatchd-admins"} {
		if !strings.Contains(cfg, u) {
			t.Fatalf("the example has no receiver URL %s", u)
		}
		cfg = strings.ReplaceAll(cfg, u, hook.URL+"/")
	}
	cfg = strings.Replace(cfg, "group_wait: 30s", "group_wait: 1s", 1)
	addr := testenv.StartAlertmanager(t, cfg)

	alert := func(name, instance, vpn, ip string) map[string]any {
		return map[string]any{"labels": map[string]string{"alertname": name, "severity": "critical", "job": "vpnwatchd", "instance": instance,
			"vpn_connection_id": vpn, "outside_ip": ip, "rule": "BGPDownIPsecUp"}}
	}
	body, _ := json.Marshal([]map[string]any{
		alert("VPNWatchFindingCritical", "a:10123", "vpn-1", "203.0.113.10"),
		alert("VPNWatchFindingCritical", "b:10123", "vpn-1", "203.0.113.10"),
		alert("VPNWatchBGPDownIPsecUp", "a:10123", "vpn-1", "203.0.113.10"),
		alert("VPNWatchBGPDownIPsecUp", "a:10123", "vpn-2", "203.0.113.30"),
	})
	resp, err := http.Post("http://"+addr+"/api/v2/alerts", "application/json", bytes.NewReader(body))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("post alerts: %v %v", err, resp)
	}
	resp.Body.Close()

	// Inhibition as Alertmanager reports it.
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/api/v2/alerts")
		if err != nil {
			t.Fatal(err)
		}
		var alerts []struct {
			Labels map[string]string `json:"labels"`
			Status struct {
				InhibitedBy []string `json:"inhibitedBy"`
			} `json:"status"`
		}
		json.NewDecoder(resp.Body).Decode(&alerts)
		resp.Body.Close()
		state := map[string]bool{}
		for _, a := range alerts {
			state[a.Labels["alertname"]+" "+a.Labels["vpn_connection_id"]+" "+a.Labels["instance"]] = len(a.Status.InhibitedBy) > 0
		}
		want := map[string]bool{
			"VPNWatchFindingCritical vpn-1 a:10123": false,
			"VPNWatchFindingCritical vpn-1 b:10123": false,
			"VPNWatchBGPDownIPsecUp vpn-1 a:10123":  true,
			"VPNWatchBGPDownIPsecUp vpn-2 a:10123":  false,
		}
		if fmt.Sprint(state) == fmt.Sprint(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("inhibited: %v, want %v", state, want)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// The receiver gets one notification for vpn-1's finding, both
	// instances in it, and one for vpn-2's metric alert; nothing for the
	// inhibited one.
	var groups []string
	timeout := time.After(20 * time.Second)
	for len(groups) < 2 {
		select {
		case labels := <-got:
			var g []string
			for _, l := range labels {
				g = append(g, l["alertname"]+" "+l["vpn_connection_id"]+" "+l["instance"])
			}
			slices.Sort(g)
			groups = append(groups, strings.Join(g, ", "))
		case <-timeout:
			t.Fatalf("notifications so far: %q", groups)
		}
	}
	slices.Sort(groups)
	want := []string{"VPNWatchBGPDownIPsecUp vpn-2 a:10123", "VPNWatchFindingCritical vpn-1 a:10123, VPNWatchFindingCritical vpn-1 b:10123"}
	if !slices.Equal(groups, want) {
		t.Errorf("notifications: %q, want %q", groups, want)
	}
}
