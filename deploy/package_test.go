package deploy

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
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
	serviceReadsSecrets(t)
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

// serviceReadsSecrets checks the installed layout for secrets: the file in
// /etc/vpnwatchd/credentials/ (root only), the configuration naming it
// credentials/NAME, the unit loading that folder. The service's dynamic user
// (some uid, no groups) cannot read the folder; it reads the copy systemd
// hands it at start, $CREDENTIALS_DIRECTORY/vpnwatchd_NAME (its own, mode
// 0400) — made here by hand, as systemd would, since no systemd runs here.
func serviceReadsSecrets(t *testing.T) {
	t.Helper()
	unit, err := os.ReadFile("/usr/lib/systemd/system/vpnwatchd.service")
	if err != nil || !strings.Contains(string(unit), "\nLoadCredential=vpnwatchd:/etc/vpnwatchd/credentials\n") {
		t.Errorf("the installed unit does not load the credentials folder: %v", err)
	}
	const uid = 61234 // as DynamicUser= picks: no name, no groups
	os.WriteFile("/etc/vpnwatchd/credentials/rtx-osaka", []byte("s3cret\n"), 0o600)
	os.WriteFile("/etc/vpnwatchd/known_hosts", []byte("192.0.2.10 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"), 0o644)
	cfg := "/etc/vpnwatchd/secrets-test.yaml"
	os.WriteFile(cfg, []byte("routers:\n  - name: osaka-rtx1200\n    address: 192.0.2.10:22\n    user: monitor\n    password_file: credentials/rtx-osaka\n    known_hosts: known_hosts\n"), 0o644)
	validate := func(env ...string) (string, error) {
		cmd := exec.Command("/usr/bin/vpnwatchd", "config", "validate", cfg)
		cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, env...) // not the test's environment
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid, Groups: []uint32{}}}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := validate(); err == nil || !strings.Contains(out, "permission denied") {
		t.Errorf("the service's user reads /etc/vpnwatchd/credentials itself: %v\n%s", err, out)
	}
	creds, err := os.MkdirTemp("/run", "vpnwatchd-credentials-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(creds)
	os.WriteFile(filepath.Join(creds, "vpnwatchd_rtx-osaka"), []byte("s3cret\n"), 0o400)
	for _, p := range []string{creds, filepath.Join(creds, "vpnwatchd_rtx-osaka")} {
		os.Chown(p, uid, uid)
	}
	if out, err := validate("CREDENTIALS_DIRECTORY=" + creds); err != nil || !strings.Contains(out, "secrets-test.yaml: OK") || strings.Contains(out, "warning") {
		t.Errorf("the service's user with its credentials: %v\n%s", err, out)
	}
	out, err := exec.Command("/usr/bin/vpnwatchd", "config", "validate", cfg).CombinedOutput()
	if err != nil || strings.Contains(string(out), "warning") {
		t.Errorf("root validates the service's layout with a warning: %v\n%s", err, out)
	}
	// A secret where the service cannot read it: root is told.
	os.MkdirAll("/etc/vpnwatchd/secrets", 0o700)
	os.WriteFile("/etc/vpnwatchd/secrets/rtx-osaka", []byte("s3cret\n"), 0o600)
	os.WriteFile(cfg, []byte("routers:\n  - name: osaka-rtx1200\n    address: 192.0.2.10:22\n    user: monitor\n    password_file: secrets/rtx-osaka\n    known_hosts: known_hosts\n"), 0o644)
	out, _ = exec.Command("/usr/bin/vpnwatchd", "config", "validate", cfg).CombinedOutput()
	if !strings.Contains(string(out), "warning: as the service: routers[0].password_file: /etc/vpnwatchd/secrets/rtx-osaka: the service cannot read it: its folder /etc/vpnwatchd/secrets is mode 0700") {
		t.Errorf("no warning for a secret the service cannot read:\n%s", out)
	}
	os.RemoveAll("/etc/vpnwatchd/secrets")
	os.Remove(cfg)
}
