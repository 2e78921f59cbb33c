package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// credentialsSetup writes a configuration naming credentials/rtx-osaka in
// dir, with the secret file there holding secret.
func credentialsSetup(t *testing.T, dir, secret string) string {
	t.Helper()
	os.MkdirAll(filepath.Join(dir, "credentials"), 0o700)
	if secret != "" {
		os.WriteFile(filepath.Join(dir, "credentials", "rtx-osaka"), []byte(secret+"\n"), 0o600)
	}
	os.WriteFile(filepath.Join(dir, "known_hosts"), []byte("192.0.2.10 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"), 0o644)
	cfg := filepath.Join(dir, "vpnwatchd.yaml")
	os.WriteFile(cfg, []byte("routers:\n  - name: osaka-rtx1200\n    address: 192.0.2.10:22\n    user: monitor\n    password_file: credentials/rtx-osaka\n    known_hosts: known_hosts\n"), 0o644)
	return cfg
}

// One configuration serves root at a shell and the service: credentials/NAME
// is the file itself for root, and the credential systemd loaded from it
// (vpnwatchd_NAME in $CREDENTIALS_DIRECTORY) for the service.
func TestCredentialsFolder(t *testing.T) {
	cfg := credentialsSetup(t, t.TempDir(), "read-by-root")
	t.Setenv("CREDENTIALS_DIRECTORY", "")
	c, err := Load(cfg)
	if err != nil || c.Routers[0].Password.Reveal() != "read-by-root" {
		t.Fatalf("root at a shell: %v", err)
	}

	creds := t.TempDir()
	os.WriteFile(filepath.Join(creds, "vpnwatchd_rtx-osaka"), []byte("read-by-the-service\n"), 0o400)
	t.Setenv("CREDENTIALS_DIRECTORY", creds)
	c, err = Load(cfg)
	if err != nil || c.Routers[0].Password.Reveal() != "read-by-the-service" {
		t.Fatalf("the service: %v", err)
	}

	// A secret file added after the service started: not among its
	// credentials. Root could still read the file; the service cannot, and
	// is told why (here the file is gone, as the service would not see it).
	os.Remove(filepath.Join(creds, "vpnwatchd_rtx-osaka"))
	cfg = credentialsSetup(t, t.TempDir(), "")
	_, err = Load(cfg)
	if err == nil || !strings.Contains(err.Error(), "the service has no credential vpnwatchd_rtx-osaka: systemd loads") || !strings.Contains(err.Error(), "restart vpnwatchd") {
		t.Errorf("missing credential: %v", err)
	}
}

// config validate run by root warns about each file the service could not
// read: a secret outside the credentials folder, a file in a folder others
// cannot enter, anything under /tmp (PrivateTmp); not about the credentials
// folder, which systemd loads for it.
func TestServiceWarnings(t *testing.T) {
	t.Setenv("CREDENTIALS_DIRECTORY", "")
	dir := t.TempDir()
	cfg := credentialsSetup(t, dir, "s3cret")
	os.WriteFile(filepath.Join(dir, "smtp-password"), []byte("p\n"), 0o600)
	body, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, append(body, []byte("alerting:\n  email:\n    - smarthost: mail.example.com:587\n      from: vpnwatchd@example.com\n      to: [noc@example.com]\n      username: vpnwatchd\n      password_file: smtp-password\n")...), 0o644)
	c, err := Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(c.ServiceWarnings(), "\n")
	for _, want := range []string{
		"routers[0].known_hosts: " + filepath.Join(dir, "known_hosts") + ": the service cannot read it: PrivateTmp=yes gives the service a /tmp of its own; make it readable",
		"alerting.email[0].password_file: " + filepath.Join(dir, "smtp-password") + ": the service cannot read it: PrivateTmp=yes gives the service a /tmp of its own; move it to " + filepath.Join(dir, "credentials") + "/ (root only; the unit loads that folder with LoadCredential=vpnwatchd:" + filepath.Join(dir, "credentials") + ") and name it credentials/smtp-password",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no warning %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "password_file: "+filepath.Join(dir, "credentials")) {
		t.Errorf("a warning for the credentials folder:\n%s", got)
	}
}

func TestOthersCannotRead(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755) // the test's own folder in the temporary directory
	closed := filepath.Join(dir, "secrets")
	os.Mkdir(closed, 0o700)
	os.WriteFile(filepath.Join(closed, "x"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, "private"), []byte("x"), 0o600)
	os.WriteFile(filepath.Join(dir, "public"), []byte("x"), 0o644)
	for p, want := range map[string]string{
		filepath.Join(closed, "x"):    "its folder " + closed + " is mode 0700: others cannot enter it",
		filepath.Join(dir, "private"): "it is mode 0600: others cannot read it",
		filepath.Join(dir, "public"):  "",
	} {
		if got := othersCannotRead(p); got != want {
			t.Errorf("%s: %q, want %q", p, got, want)
		}
	}
	if got := hiddenByUnit("/home/ops/known_hosts"); got != "ProtectHome=yes hides /home" {
		t.Errorf("/home: %q", got)
	}
}
