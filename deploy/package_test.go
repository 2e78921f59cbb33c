package deploy

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/vpnwatchd/vpnwatchd/internal/testenv"
)

// make deb, make rpm and make dist, checked as Debian, Red Hat and an
// operator would: lintian clean, the RPM's files and scriptlets as rpm reads
// them, an aarch64 binary for arm64, byte-identical rebuilds, archives that
// match SHA256SUMS, a manual page with FILES, EXIT STATUS and SIGNALS; then,
// as root, the amd64 .deb installed with dpkg, its units verified, its
// configuration validated as installed, the admin's disable and mask kept
// across a reinstall and an upgrade, and purged; then the RPM installed,
// upgraded and erased with rpm the same way.
func TestPackages(t *testing.T) {
	testenv.Binary(t, "make")
	lintian := testenv.Binary(t, "lintian")
	dpkg := testenv.Binary(t, "dpkg")
	rpm := testenv.Binary(t, "rpm")
	dist := t.TempDir()
	build(t, dist, "deb", "rpm", "dist")
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
	rpms := map[string]string{} // rpm arch: file
	for _, arch := range []string{"x86_64", "aarch64"} {
		m, _ := filepath.Glob(filepath.Join(dist, "vpnwatchd-*-1."+arch+".rpm"))
		if len(m) != 1 {
			t.Fatalf("%s RPM: %v", arch, m)
		}
		rpms[arch] = m[0]
		checkRPM(t, rpm, m[0], arch)
	}
	checkManPage(t, filepath.Join(dist, "vpnwatchd.1.gz"))
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
	build(t, again, "deb", "rpm", "dist")
	names := append(globBase(t, dist, "*.deb"), globBase(t, dist, "*.rpm")...)
	for _, name := range append(names, append(globBase(t, dist, "*.tar.gz"), "SHA256SUMS")...) {
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
		t.Skip("installing the packages needs root")
	}
	var amd64 string
	for _, d := range debs {
		if strings.HasSuffix(d, "_amd64.deb") {
			amd64 = d
		}
	}
	// A later version of the same packages, to upgrade to.
	build(t, dist, "ARCHES=amd64", "DEB_VERSION=99.0.0", "deb", "rpm")
	t.Run("deb", func(t *testing.T) { installDeb(t, dpkg, amd64, filepath.Join(dist, "vpnwatchd_99.0.0_amd64.deb")) })
	t.Run("rpm", func(t *testing.T) {
		installRPM(t, rpm, rpms["x86_64"], filepath.Join(dist, "vpnwatchd-99.0.0-1.x86_64.rpm"))
	})
}

// build runs make TARGETS with DIST=dir in the source tree.
func build(t *testing.T, dir string, targets ...string) {
	t.Helper()
	cmd := exec.Command("make", append([]string{"-C", "..", "DIST=" + dir}, targets...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make %v: %v\n%s", targets, err, out)
	}
}

// run runs a command that must succeed and returns its output.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// The symlinks systemctl enable and mask write for the service.
const (
	wantsLink = "/etc/systemd/system/multi-user.target.wants/vpnwatchd.service"
	maskLink  = "/etc/systemd/system/vpnwatchd.service"
)

// cleanInstall removes what a failed run may have left: the package, the
// admin's files the purge keeps, a mask.
func cleanInstall(t *testing.T, remove func()) {
	t.Cleanup(func() {
		remove()
		os.Remove(maskLink)
		os.RemoveAll("/etc/vpnwatchd")
		os.RemoveAll("/var/lib/private/vpnwatchd")
		os.Remove("/var/lib/vpnwatchd")
	})
}

// adminChoicesSurvive disables the service, reinstalls and upgrades, then
// masks it and upgrades again: the admin's choice must stand each time.
func adminChoicesSurvive(t *testing.T, reinstall, upgrade func()) {
	t.Helper()
	run(t, "systemctl", "disable", "vpnwatchd.service")
	if _, err := os.Lstat(wantsLink); err == nil {
		t.Fatalf("systemctl disable left %s: the test cannot tell", wantsLink)
	}
	reinstall()
	if _, err := os.Lstat(wantsLink); err == nil {
		t.Error("a reinstall enabled the service the admin had disabled")
	}
	upgrade()
	if _, err := os.Lstat(wantsLink); err == nil {
		t.Error("an upgrade enabled the service the admin had disabled")
	}
	run(t, "systemctl", "enable", "vpnwatchd.service")
	run(t, "systemctl", "mask", "vpnwatchd.service")
	upgrade()
	if dst, err := os.Readlink(maskLink); err != nil || dst != "/dev/null" {
		t.Errorf("a reinstall lifted the admin's mask: %s -> %q %v", maskLink, dst, err)
	}
	run(t, "systemctl", "unmask", "vpnwatchd.service")
}

// installDeb installs the .deb with dpkg and checks what an admin sees,
// through an upgrade to next, a remove and a purge.
func installDeb(t *testing.T, dpkg, deb, next string) {
	cleanInstall(t, func() { exec.Command(dpkg, "--purge", "vpnwatchd").Run() })
	out := run(t, dpkg, "-i", deb)
	if !strings.Contains(out, "enabled, not started; edit /etc/vpnwatchd/vpnwatchd.yaml") {
		t.Errorf("install did not say what to do next:\n%s", out)
	}
	if _, err := os.Lstat(wantsLink); err != nil {
		t.Errorf("the first install did not enable the service: %v", err)
	}
	run(t, testenv.Binary(t, "systemd-analyze"), "verify", "/usr/lib/systemd/system/vpnwatchd.service", "/usr/lib/systemd/system/vpnwatchd-syslog.socket")
	run(t, "/usr/bin/vpnwatchd", "config", "validate", "/etc/vpnwatchd/vpnwatchd.yaml")
	// The installed configuration names the example where the package put
	// it, and the example validates there.
	example := examplePointer(t, "/etc/vpnwatchd/vpnwatchd.yaml")
	run(t, "/usr/bin/vpnwatchd", "config", "validate", example)
	if st, err := os.Stat("/etc/vpnwatchd/credentials"); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("credentials directory: %v", err)
	}
	for _, f := range []string{"/etc/default/vpnwatchd", "/usr/share/doc/vpnwatchd/examples/probes.conf", "/usr/share/doc/vpnwatchd/examples/alertmanager.yml", "/usr/share/man/man1/vpnwatchd.1.gz", "/usr/share/doc/vpnwatchd/copyright"} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("not installed: %s", f)
		}
	}
	adminChoicesSurvive(t, func() { run(t, dpkg, "-i", deb) }, func() { run(t, dpkg, "-i", next) })
	serviceReadsSecrets(t)
	// Removing keeps the configuration. Purging removes the package's
	// configuration and the service's state, and keeps (and names) the
	// files the admin added: secrets and host keys are not the package's.
	os.WriteFile("/etc/vpnwatchd/credentials/rtx", []byte("s3cret\n"), 0o600)
	os.MkdirAll("/var/lib/private/vpnwatchd", 0o700) // as systemd's StateDirectory= with DynamicUser=
	os.WriteFile("/var/lib/private/vpnwatchd/outbox.json", []byte("{}"), 0o600)
	os.Symlink("private/vpnwatchd", "/var/lib/vpnwatchd")
	run(t, dpkg, "--remove", "vpnwatchd")
	if _, err := os.Stat("/etc/vpnwatchd/vpnwatchd.yaml"); err != nil {
		t.Errorf("remove took the configuration: %v", err)
	}
	out = run(t, dpkg, "--purge", "vpnwatchd")
	if want := "vpnwatchd: purge kept the files you added in /etc/vpnwatchd: credentials/rtx credentials/rtx-osaka known_hosts (remove them with: rm -r /etc/vpnwatchd)"; !strings.Contains(out, want) {
		t.Errorf("purge did not name what it kept:\n%s", out)
	}
	if kept := tree(t, "/etc/vpnwatchd"); kept != "credentials/rtx credentials/rtx-osaka known_hosts" {
		t.Errorf("after purge /etc/vpnwatchd holds %q, want the admin's files only", kept)
	}
	for _, f := range []string{"/usr/bin/vpnwatchd", "/etc/vpnwatchd/vpnwatchd.yaml", "/etc/default/vpnwatchd", "/usr/share/doc/vpnwatchd", "/usr/lib/systemd/system/vpnwatchd.service",
		"/usr/lib/systemd/system/vpnwatchd-syslog.socket", "/usr/share/man/man1/vpnwatchd.1.gz", "/var/lib/vpnwatchd", "/var/lib/private/vpnwatchd", wantsLink,
		"/var/lib/systemd/deb-systemd-helper-enabled/vpnwatchd.service.dsh-also"} {
		if _, err := os.Lstat(f); err == nil {
			t.Errorf("left behind after purge: %s", f)
		}
	}
}

// installRPM installs the RPM with rpm (its own database in a temporary
// folder; --nodeps, as this is Debian), so that its scriptlets run for
// real, and checks the same as installDeb through an upgrade and an erase.
func installRPM(t *testing.T, rpm, pkg, next string) {
	db := t.TempDir()
	rpmRun := func(args ...string) string {
		t.Helper()
		return run(t, rpm, append([]string{"--dbpath", db}, args...)...)
	}
	cleanInstall(t, func() { exec.Command(rpm, "--dbpath", db, "-e", "--nodeps", "vpnwatchd").Run() })
	rpmRun("--initdb")
	out := rpmRun("-i", "--nodeps", pkg)
	if !strings.Contains(out, "vpnwatchd: installed, not started; edit /etc/vpnwatchd/vpnwatchd.yaml, then: systemctl enable --now vpnwatchd") {
		t.Errorf("install did not say what to do next:\n%s", out)
	}
	for _, f := range []string{"/usr/bin/vpnwatchd", "/etc/sysconfig/vpnwatchd", "/usr/lib/systemd/system/vpnwatchd.service", "/usr/share/licenses/vpnwatchd/LICENSE"} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("not installed: %s", f)
		}
	}
	run(t, "/usr/bin/vpnwatchd", "config", "validate", examplePointer(t, "/etc/vpnwatchd/vpnwatchd.yaml"))
	run(t, "systemctl", "enable", "vpnwatchd.service") // whatever this machine's preset said
	adminChoicesSurvive(t, func() { rpmRun("-i", "--nodeps", "--replacepkgs", pkg) }, func() { rpmRun("-U", "--nodeps", "--replacepkgs", next) })
	if v := rpmRun("-q", "--qf", "%{VERSION}", "vpnwatchd"); v != "99.0.0" {
		t.Errorf("installed after the upgrade: %s", v)
	}
	// Erase keeps what you changed or added, as rpm does, and says so.
	os.WriteFile("/etc/vpnwatchd/vpnwatchd.yaml", []byte("listen: \":10124\"\n"), 0o644)
	os.WriteFile("/etc/vpnwatchd/known_hosts", []byte("192.0.2.10 ssh-ed25519 AAAA\n"), 0o644)
	os.WriteFile("/etc/vpnwatchd/credentials/rtx", []byte("s3cret\n"), 0o600)
	out = rpmRun("-e", "--nodeps", "vpnwatchd")
	if want := "vpnwatchd: erase kept /etc/vpnwatchd/credentials/rtx /etc/vpnwatchd/known_hosts /etc/vpnwatchd/vpnwatchd.yaml.rpmsave "; !strings.Contains(out, want) {
		t.Errorf("erase did not name what it kept:\n%s", out)
	}
	for _, f := range []string{"/usr/bin/vpnwatchd", "/etc/sysconfig/vpnwatchd", "/usr/share/doc/vpnwatchd", "/usr/lib/systemd/system/vpnwatchd.service", "/usr/share/licenses/vpnwatchd", wantsLink} {
		if _, err := os.Lstat(f); err == nil {
			t.Errorf("left behind after erase: %s", f)
		}
	}
}

// checkRPM reads the RPM as rpm does: its architecture, digests, files with
// their flags (configuration files %config(noreplace), the licence
// %license), the Debian-only files left out and the scriptlets rpm runs.
func checkRPM(t *testing.T, rpm, pkg, arch string) {
	t.Helper()
	run(t, rpm, "-K", "--nosignature", pkg)
	if a := run(t, rpm, "-qp", "--qf", "%{ARCH}", pkg); a != arch {
		t.Errorf("%s: arch %s, want %s", filepath.Base(pkg), a, arch)
	}
	files := map[string]string{} // name: "flags perms"
	for _, l := range strings.Split(strings.TrimSpace(run(t, rpm, "-qp", "--qf", "[%{FILENAMES} %{FILEFLAGS:fflags} %{FILEMODES:perms}\n]", pkg)), "\n") {
		name, rest, _ := strings.Cut(l, " ")
		files[name] = rest
	}
	for name, want := range map[string]string{
		"/etc/vpnwatchd/vpnwatchd.yaml":                           "cn -rw-r--r--",
		"/etc/sysconfig/vpnwatchd":                                "cn -rw-r--r--",
		"/etc/vpnwatchd/credentials":                              " drwx------",
		"/usr/bin/vpnwatchd":                                      " -rwxr-xr-x",
		"/usr/lib/systemd/system/vpnwatchd.service":               " -rw-r--r--",
		"/usr/lib/systemd/system/vpnwatchd-syslog.socket":         " -rw-r--r--",
		"/usr/share/man/man1/vpnwatchd.1.gz":                      " -rw-r--r--",
		"/usr/share/licenses/vpnwatchd/LICENSE":                   "l -rw-r--r--",
		"/usr/share/doc/vpnwatchd/examples/vpnwatchd.yaml":        " -rw-r--r--",
		"/usr/share/doc/vpnwatchd/examples/probes.conf":           " -rw-r--r--",
		"/usr/share/doc/vpnwatchd/examples/credentials/rtx-osaka": " -rw-r--r--",
	} {
		if got, ok := files[name]; !ok || got != want {
			t.Errorf("%s: %s is %q, want %q", filepath.Base(pkg), name, got, want)
		}
	}
	for _, name := range []string{"/etc/default/vpnwatchd", "/usr/share/lintian/overrides/vpnwatchd", "/usr/share/doc/vpnwatchd/changelog.gz", "/usr/share/doc/vpnwatchd/copyright"} {
		if _, ok := files[name]; ok {
			t.Errorf("%s holds Debian's %s", filepath.Base(pkg), name)
		}
	}
	scripts := run(t, rpm, "-qp", "--scripts", pkg)
	for _, want := range []string{"postinstall scriptlet", "systemctl --no-reload preset vpnwatchd.service", "preuninstall scriptlet", "postuninstall scriptlet"} {
		if !strings.Contains(scripts, want) {
			t.Errorf("%s: scriptlets lack %q", filepath.Base(pkg), want)
		}
	}
	if strings.Contains(scripts, "deb-systemd") {
		t.Errorf("%s: Debian's maintainer scripts in the RPM", filepath.Base(pkg))
	}
}

// checkManPage renders the manual page as man does and looks for the
// sections an admin looks for.
func checkManPage(t *testing.T, page string) {
	t.Helper()
	cmd := exec.Command(testenv.Binary(t, "man"), "--warnings", "-l", page)
	cmd.Env = append(os.Environ(), "MANWIDTH=80", "MANPAGER=cat", "PAGER=cat")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Errorf("man -l %s: %v\n%s", page, err, stderr.String())
	}
	for _, want := range []string{"\nEXIT STATUS\n", "\nSIGNALS\n", "\nFILES\n", "3 UNKNOWN", "SIGHUP", "/etc/vpnwatchd/known_hosts", "/etc/vpnwatchd/credentials/", "/var/lib/vpnwatchd/"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the manual page lacks %q", want)
		}
	}
}

// tree lists the files under dir, relative and sorted, space-separated.
func tree(t *testing.T, dir string) string {
	t.Helper()
	var names []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			names = append(names, rel)
		}
		return nil
	})
	sort.Strings(names)
	return strings.Join(names, " ")
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
