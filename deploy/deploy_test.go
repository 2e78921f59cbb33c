// Package deploy holds no code: its tests check the files operators deploy
// (systemd unit, Prometheus rules, Grafana dashboard) with the real tools.
package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vpnwatchd/vpnwatchd/internal/testenv"
)

func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(testenv.Binary(t, name), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestPrometheusRules(t *testing.T) {
	runTool(t, "promtool", "check", "rules", "prometheus/vpnwatchd-rules.yml")
	runTool(t, "promtool", "test", "rules", "prometheus/vpnwatchd-rules.test.yml")
	runTool(t, "promtool", "check", "config", "prometheus/prometheus.yml")
}

// The unit must pass systemd-analyze verify (with an existing executable in
// place of the installed binary); its security exposure is logged.
func TestSystemdUnit(t *testing.T) {
	unit, err := os.ReadFile("systemd/vpnwatchd.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Type=notify", "WatchdogSec=", "ExecReload=", "DynamicUser=yes", "StateDirectory=vpnwatchd", "ProtectSystem=strict", "NoNewPrivileges=yes", "PrivateTmp=yes", "ProtectHome=yes", "RestrictAddressFamilies="} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("unit lacks %s", want)
		}
	}
	dir := t.TempDir()
	tmp := filepath.Join(dir, "vpnwatchd.service")
	os.WriteFile(tmp, []byte(strings.ReplaceAll(string(unit), "/usr/bin/vpnwatchd", "/bin/true")), 0o644)
	sock, _ := os.ReadFile("systemd/vpnwatchd-syslog.socket")
	os.WriteFile(filepath.Join(dir, "vpnwatchd-syslog.socket"), sock, 0o644)
	if out := runTool(t, "systemd-analyze", "verify", tmp, filepath.Join(dir, "vpnwatchd-syslog.socket")); strings.TrimSpace(out) != "" {
		t.Errorf("systemd-analyze verify is not clean:\n%s", out)
	}
	// The probes drop-in, applied: still a valid unit.
	dropin, _ := os.ReadFile("systemd/probes.conf")
	merged := filepath.Join(dir, "probes", "vpnwatchd.service")
	os.MkdirAll(filepath.Dir(merged), 0o755)
	body := strings.ReplaceAll(string(unit), "/usr/bin/vpnwatchd", "/bin/true")
	body = strings.Replace(body, "CapabilityBoundingSet=\n", "", 1) + "\n" + string(dropin)
	os.WriteFile(merged, []byte(body), 0o644)
	os.WriteFile(filepath.Join(dir, "probes", "vpnwatchd-syslog.socket"), sock, 0o644)
	if out := runTool(t, "systemd-analyze", "verify", merged); strings.TrimSpace(out) != "" {
		t.Errorf("unit with the probes drop-in: systemd-analyze verify is not clean:\n%s", out)
	}
	out, _ := exec.Command("systemd-analyze", "security", "--offline=true", tmp).CombinedOutput()
	if m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+) (\S+)`).FindStringSubmatch(string(out)); m != nil {
		t.Logf("systemd-analyze security: exposure %s %s", m[1], m[2])
	}
}

// make install honours DESTDIR and PREFIX and installs the binary, the unit
// and the example configuration, in the packages' layout under PREFIX.
func TestMakeInstall(t *testing.T) {
	testenv.Binary(t, "make")
	dest := t.TempDir()
	// BUILDFLAGS= drops -trimpath, so the build reuses the compile cache.
	install := exec.Command("make", "-C", "..", "install", "DESTDIR="+dest, "PREFIX=/usr/local", "VERSION=test", "BUILDFLAGS=")
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	const doc = "usr/local/share/doc/vpnwatchd/examples/"
	for _, f := range []string{"usr/local/bin/vpnwatchd", "lib/systemd/system/vpnwatchd.service", "etc/vpnwatchd/vpnwatchd.yaml",
		doc + "vpnwatchd.yaml", doc + "known_hosts.example", doc + "credentials/rtx-osaka", doc + "probes.conf"} {
		if _, err := os.Stat(filepath.Join(dest, f)); err != nil {
			t.Errorf("not installed: %s", f)
		}
	}
	if st, err := os.Stat(filepath.Join(dest, "etc/vpnwatchd/credentials")); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("credentials directory: %v %v", err, st)
	}
	bin := filepath.Join(dest, "usr/local/bin/vpnwatchd")
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "vpnwatchd, version test") {
		t.Errorf("installed binary: %v %s", err, out)
	}
	// What a newcomer runs first passes as installed, and the installed
	// configuration names the example where it is.
	for _, cfg := range []string{"etc/vpnwatchd/vpnwatchd.yaml", doc + "vpnwatchd.yaml"} {
		if out, err := exec.Command(bin, "config", "validate", filepath.Join(dest, cfg)).CombinedOutput(); err != nil {
			t.Errorf("config validate %s: %v\n%s", cfg, err, out)
		}
	}
	if p := examplePointer(t, filepath.Join(dest, "etc/vpnwatchd/vpnwatchd.yaml")); p != "/"+doc+"vpnwatchd.yaml" {
		t.Errorf("the installed configuration points at %s, make install put the example in /%svpnwatchd.yaml", p, doc)
	}
	if unit, _ := os.ReadFile(filepath.Join(dest, "lib/systemd/system/vpnwatchd.service")); !strings.Contains(string(unit), "/"+doc+")") ||
		!strings.Contains(string(unit), "ExecStart=/usr/local/bin/vpnwatchd run") {
		t.Errorf("the installed unit does not name the binary and probes.conf where they are:\n%s", unit)
	}
	// A second install keeps an edited configuration.
	edited := filepath.Join(dest, "etc/vpnwatchd/vpnwatchd.yaml")
	os.WriteFile(edited, []byte("global:\n  poll_interval: 45s\n"), 0o644)
	if out, err := exec.Command("make", "-C", "..", "install", "DESTDIR="+dest, "PREFIX=/usr/local", "VERSION=test", "BUILDFLAGS=").CombinedOutput(); err != nil {
		t.Fatalf("second make install: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(edited); !strings.Contains(string(b), "45s") {
		t.Error("make install replaced an edited configuration")
	}
}

// examplePointer returns the path of the documented example that the
// installed configuration's comment names.
func examplePointer(t *testing.T, cfg string) string {
	t.Helper()
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`/\S+/share/doc/vpnwatchd/\S+\.yaml`).FindString(string(b))
	if m == "" {
		t.Errorf("%s names no documented example", cfg)
	}
	return m
}
