package deploy

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vpnwatchd/vpnwatchd/internal/testenv"
)

// make deb and make dist, checked as Debian and an operator would: lintian
// clean, an aarch64 binary for arm64, byte-identical rebuilds, archives
// that match SHA256SUMS; then the amd64 package is installed on this machine
// with dpkg, its units verified and its configuration validated as
// installed, and purged without a trace.
func TestPackages(t *testing.T) {
	testenv.Binary(t, "make")
	lintian := testenv.Binary(t, "lintian")
	dpkg := testenv.Binary(t, "dpkg")
	dist := t.TempDir()
	build := func(dir string, targets ...string) {
		t.Helper()
		cmd := exec.Command("make", append([]string{"-C", "..", "DIST=" + dir}, targets...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("make %v: %v\n%s", targets, err, out)
		}
	}
	build(dist, "deb", "dist")
	debs, _ := filepath.Glob(filepath.Join(dist, "vpnwatchd_*_*.deb"))
	if len(debs) != 2 {
		t.Fatalf("packages: %v", debs)
	}
	for _, deb := range debs {
		out, _ := exec.Command(lintian, "--tag-display-limit", "0", deb).CombinedOutput()
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, "E: ") || strings.HasPrefix(l, "W: ") {
				t.Errorf("lintian %s: %s", filepath.Base(deb), l)
			}
		}
	}
	f, err := elf.Open(filepath.Join(dist, "arm64", "vpnwatchd"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Machine != elf.EM_AARCH64 {
		t.Errorf("arm64 binary is for %v", f.Machine)
	}
	f.Close()
	// Reproducible: the same commit built again gives the same bytes.
	again := t.TempDir()
	build(again, "deb", "dist")
	for _, name := range append(globBase(t, dist, "*.deb"), append(globBase(t, dist, "*.tar.gz"), "SHA256SUMS")...) {
		a, _ := os.ReadFile(filepath.Join(dist, name))
		b, _ := os.ReadFile(filepath.Join(again, name))
		if len(a) == 0 || string(a) != string(b) {
			t.Errorf("%s differs between two builds of the same commit", name)
		}
	}
	sums := exec.Command("sha256sum", "-c", "SHA256SUMS")
	sums.Dir = dist
	if out, err := sums.CombinedOutput(); err != nil {
		t.Errorf("SHA256SUMS: %v\n%s", err, out)
	}
	tars := globBase(t, dist, "vpnwatchd-*-linux-amd64.tar.gz")
	if len(tars) != 1 {
		t.Fatalf("archives: %v", tars)
	}
	x := t.TempDir()
	if out, err := exec.Command("tar", "-xzf", filepath.Join(dist, tars[0]), "-C", x).CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	dir := filepath.Join(x, strings.TrimSuffix(tars[0], ".tar.gz"))
	for _, want := range []string{"vpnwatchd", "vpnwatchd.service", "vpnwatchd-syslog.socket", "vpnwatchd.yaml", "example.yaml", "README.md", "LICENSE",
		"examples/vpnwatchd-rules.yml", "examples/alertmanager.yml", "examples/vpnwatchd.json", "examples/iam-policy.json", "examples/iam-policy-cloudwatch.json"} {
		if _, err := os.Stat(filepath.Join(dir, want)); err != nil {
			t.Errorf("archive lacks %s", want)
		}
	}
	if out, err := exec.Command(filepath.Join(dir, "vpnwatchd"), "version").CombinedOutput(); err != nil || !strings.Contains(string(out), "revision: ") || strings.Contains(string(out), "version devel") {
		t.Errorf("archived binary: %v %s", err, out)
	}

	if os.Geteuid() != 0 {
		t.Skip("installing the package needs root")
	}
	var amd64 string
	for _, d := range debs {
		if strings.HasSuffix(d, "_amd64.deb") {
			amd64 = d
		}
	}
	run := func(name string, args ...string) string {
		t.Helper()
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return string(out)
	}
	out := run(dpkg, "-i", amd64)
	defer exec.Command(dpkg, "--purge", "vpnwatchd").Run() // whatever happens below
	if !strings.Contains(out, "enabled, not started; edit /etc/vpnwatchd/vpnwatchd.yaml") {
		t.Errorf("install did not say what to do next:\n%s", out)
	}
	run(testenv.Binary(t, "systemd-analyze"), "verify", "/usr/lib/systemd/system/vpnwatchd.service", "/usr/lib/systemd/system/vpnwatchd-syslog.socket")
	run("/usr/bin/vpnwatchd", "config", "validate", "/etc/vpnwatchd/vpnwatchd.yaml")
	if st, err := os.Stat("/etc/vpnwatchd/credentials"); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("credentials directory: %v", err)
	}
	for _, f := range []string{"/etc/default/vpnwatchd", "/usr/share/doc/vpnwatchd/examples/probes.conf", "/usr/share/doc/vpnwatchd/examples/alertmanager.yml", "/usr/share/man/man1/vpnwatchd.1.gz", "/usr/share/doc/vpnwatchd/copyright"} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("not installed: %s", f)
		}
	}
	// Removing keeps the configuration; purging leaves nothing.
	os.WriteFile("/etc/vpnwatchd/credentials/rtx", []byte("s3cret\n"), 0o600)
	run(dpkg, "--remove", "vpnwatchd")
	if _, err := os.Stat("/etc/vpnwatchd/vpnwatchd.yaml"); err != nil {
		t.Errorf("remove took the configuration: %v", err)
	}
	run(dpkg, "--purge", "vpnwatchd")
	for _, f := range []string{"/usr/bin/vpnwatchd", "/etc/vpnwatchd", "/etc/default/vpnwatchd", "/usr/share/doc/vpnwatchd", "/usr/lib/systemd/system/vpnwatchd.service",
		"/usr/lib/systemd/system/vpnwatchd-syslog.socket", "/usr/share/man/man1/vpnwatchd.1.gz", "/var/lib/vpnwatchd"} {
		if _, err := os.Lstat(f); err == nil {
			t.Errorf("left behind after purge: %s", f)
		}
	}
}

func globBase(t *testing.T, dir, pattern string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, pattern))
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	return m
}
