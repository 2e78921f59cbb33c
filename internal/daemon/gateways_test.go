package daemon

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zaptest"

	"github.com/vpnwatchd/vpnwatchd/internal/config"
	"github.com/vpnwatchd/vpnwatchd/internal/metrics"
)

// A reload keeps a strongSwan gateway whose settings did not change (its
// event watch and SSH connection with it) and replaces one whose settings
// did, carrying its SA history over; a gateway removed is closed.
func TestStrongSwanSourcesFollowReload(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "vpnwatchd.yaml")
	gw := func(name, socket string) string {
		return "  - name: " + name + "\n    vici: " + filepath.Join(dir, socket) + "\n"
	}
	writeConfig(t, cfg, minimalConfig(dir, "1h")+"strongswan:\n"+gw("a", "a.vici")+gw("b", "b.vici"))
	d, err := New(Options{ConfigFile: cfg, Once: true, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	a, b := d.main.sources.swan[0], d.main.sources.swan[1]
	writeConfig(t, cfg, minimalConfig(dir, "1h")+"strongswan:\n"+gw("a", "a.vici")+gw("b", "b2.vici"))
	if err := d.reload(); err != nil {
		t.Fatal(err)
	}
	now := d.main.sources.swan
	if len(now) != 2 || now[0] != a {
		t.Errorf("unchanged gateway a was replaced")
	}
	if now[1] == b || now[1].cfg.Vici != filepath.Join(dir, "b2.vici") || now[1].src.History() != b.src.History() {
		t.Errorf("changed gateway b: kept %v, vici %s, history carried %v", now[1] == b, now[1].cfg.Vici, now[1].src.History() == b.src.History())
	}
	writeConfig(t, cfg, minimalConfig(dir, "1h")+"strongswan:\n"+gw("a", "a.vici")+"  - name: a\n    vici: /x\n")
	if err := d.reload(); err == nil {
		t.Error("two gateways named a accepted")
	}
	if len(d.main.sources.swan) != 2 {
		t.Error("a failed reload changed the sources")
	}
}

// A rekey asks for a poll of its gateway only; an up or down event, or a
// router's syslog, asks AWS's side too; merged requests keep the wider.
func TestTriggersAskAWSOnlyForUpDown(t *testing.T) {
	d := &Daemon{triggers: newTriggers(), metrics: &exported{daemon: metrics.NewDaemon(prometheus.NewRegistry())}}
	gw := config.StrongSwanSource("tokyo")
	d.trigger(gw, false)
	d.trigger(config.RouterSource("osaka"), true)
	due, _ := d.triggers.take(time.Now().Add(time.Minute))
	if len(due) != 2 || due["tokyo"] || !due["osaka"] {
		t.Errorf("due = %v", due)
	}
	d.trigger(gw, false)
	d.trigger(gw, true)
	d.trigger(gw, false)
	if due, _ = d.triggers.take(time.Now().Add(time.Hour)); !due["tokyo"] {
		t.Errorf("a merged up/down request lost AWS: %v", due)
	}
}
