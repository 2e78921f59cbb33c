package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"go.yaml.in/yaml/v3"
)

func TestLoadGood(t *testing.T) {
	c, err := Load("testdata/good.yaml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.Global.PollInterval != 15*time.Second {
		t.Errorf("poll_interval = %s, want 15s", c.Global.PollInterval)
	}
	r := c.Routers[0]
	if r.Timeout != DefaultRouterTimeout {
		t.Errorf("router timeout = %s, want default %s", r.Timeout, DefaultRouterTimeout)
	}
	if r.Password.Reveal() != "rtx-password" {
		t.Errorf("password = %q, want the file's contents without the newline", r.Password.Reveal())
	}
	if r.KnownHosts != filepath.Join("testdata", "known_hosts") {
		t.Errorf("known_hosts = %q, want it relative to the config file", r.KnownHosts)
	}
	if got := c.Probes[0]; got.Path != ProbePathTunnel || got.Interval != DefaultProbeInterval {
		t.Errorf("probe defaults = %+v", got)
	}
	if h := c.Rules["BGPDownIPsecUp"].Hold; h == nil || *h != 0 {
		t.Errorf("explicit hold 0s lost: %v", h)
	}
	if h := c.Rules["DPDDisabled"].Hold; h != nil {
		t.Errorf("hold not given but set to %v", *h)
	}
	if !c.Alerting.Slack[0].SendResolved || c.Alerting.Email[0].SendResolved {
		t.Errorf("send_resolved: slack %v (want default true), email %v (want false)", c.Alerting.Slack[0].SendResolved, c.Alerting.Email[0].SendResolved)
	}
	if g := c.StrongSwan[0]; g.Timeout != DefaultRouterTimeout || !g.FRR || g.KnownHosts != "" {
		t.Errorf("local strongSwan gateway = %+v, want default timeout, frr, no SSH login read", g)
	}
	if g := c.StrongSwan[1]; g.Password.Reveal() != "rtx-password" || g.KnownHosts != filepath.Join("testdata", "known_hosts") || g.Timeout != 5*time.Second {
		t.Errorf("remote strongSwan gateway: password %q, known_hosts %q, timeout %s", g.Password.Reveal(), g.KnownHosts, g.Timeout)
	}
	if r, ok := c.StrongSwan[1].Remote(); !ok || r != (ViciSSH{User: "monitor", Address: "192.0.2.20:22", Path: "/var/run/charon.vici"}) {
		t.Errorf("Remote() = %+v, %v", r, ok)
	}
	if _, ok := c.StrongSwan[0].Remote(); ok {
		t.Error("a socket path is remote")
	}
	if c.Alerting.Webhook[0].ResolvedURL.Reveal() != "https://hooks.example.com/vpn" {
		t.Errorf("webhook url = %q", c.Alerting.Webhook[0].ResolvedURL.Reveal())
	}
}

func TestDefaultsOfEmptySections(t *testing.T) {
	c, err := Parse([]byte("aws: []\n"), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != DefaultListen || c.Global.PollInterval != DefaultPollInterval ||
		c.Global.StateDir != DefaultStateDir || c.Alerting.RepeatInterval != DefaultRepeatInterval {
		t.Errorf("defaults not applied: %+v", c)
	}
}

func TestLoadBad(t *testing.T) {
	// Secret files as an operator keeps them (git does not keep modes; the
	// checkout's umask would decide whether a private key is "too open").
	secrets, _ := filepath.Glob("testdata/secrets/*")
	for _, f := range secrets {
		os.Chmod(f, 0o600)
	}
	for _, tc := range []struct {
		file string
		want []string // each line of the joined error, in order
	}{
		{"invalid-unknown-key.yaml", []string{"testdata/invalid-unknown-key.yaml:2: global.poll_intervall: unknown key (allowed here: poll_interval, state_dir)"}},
		{"invalid-address-missing-port.yaml", []string{`testdata/invalid-address-missing-port.yaml:3: routers[0].address: "192.0.2.10": missing port (want host:port)`}},
		{"invalid-duration.yaml", []string{`testdata/invalid-duration.yaml:2: global.poll_interval: "30" is not a duration (use a number with a unit: 30s, 5m, 1h30m)`}},
		{"invalid-negative-duration.yaml", []string{`testdata/invalid-negative-duration.yaml:7: routers[0].timeout: "-5s": duration cannot be negative`}},
		{"invalid-region.yaml", []string{`testdata/invalid-region.yaml:3: aws[0].regions[0]: "tokyo" is not an AWS region name (e.g. ap-northeast-1)`}},
		{"invalid-no-regions.yaml", []string{`testdata/invalid-no-regions.yaml:2: aws[0].regions: missing: list at least one region, e.g. [ap-northeast-1]`}},
		{"invalid-duplicate-name.yaml", []string{`testdata/invalid-duplicate-name.yaml:4: aws[1].name: "prod" is already the name of aws[0]`}},
		{"invalid-bad-name.yaml", []string{`testdata/invalid-bad-name.yaml:2: aws[0].name: "prod/tokyo": use only letters, digits, '.', '_' and '-', starting with a letter or digit`}},
		{"invalid-vpn-id.yaml", []string{`testdata/invalid-vpn-id.yaml:4: aws[0].vpn_connection_ids[0]: "vpn-xyz" is not a VPN connection id (vpn- and 8 or 17 hex digits)`}},
		{"invalid-ids-and-tags.yaml", []string{`testdata/invalid-ids-and-tags.yaml:5: aws[0].tag_filters: use either vpn_connection_ids or tag_filters, not both`}},
		{"invalid-role-arn.yaml", []string{`testdata/invalid-role-arn.yaml:4: aws[0].role_arn: "vpnwatchd" is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)`}},
		{"invalid-logs-kept.yaml", []string{`testdata/invalid-logs-kept.yaml:4: aws[0].logs_kept: 0: keep between 1 and 10000 of AWS's log events per tunnel (default 200)`}},
		{"invalid-endpoint.yaml", []string{`testdata/invalid-endpoint.yaml:4: aws[0].endpoint: "127.0.0.1:4566" is not an http:// or https:// URL`}},
		{"invalid-no-credentials.yaml", []string{`testdata/invalid-no-credentials.yaml:2: routers[0].password_file: missing: set password_file or private_key_file`}},
		{"invalid-both-credentials.yaml", []string{`testdata/invalid-both-credentials.yaml:6: routers[0].private_key_file: set password_file or private_key_file, not both`}},
		{"invalid-no-known-hosts.yaml", []string{`testdata/invalid-no-known-hosts.yaml:2: routers[0].known_hosts: missing: host keys are always verified; create the file with ssh-keyscan`}},
		{"invalid-tunnel-join.yaml", []string{`testdata/invalid-tunnel-join.yaml:9: routers[0].tunnels[0].outside_ip: "203.0.113.300" is not an IP address`}},
		{"invalid-probe-path.yaml", []string{`testdata/invalid-probe-path.yaml:4: probes[0].path: "lan": must be tunnel or wan`}},
		{"invalid-severity.yaml", []string{`testdata/invalid-severity.yaml:2: rules.TunnelDown.severity: "high": must be info, warning or critical`}},
		{"invalid-bool.yaml", []string{`testdata/invalid-bool.yaml:4: alerting.slack[0].send_resolved: "yes" is not a boolean (want true or false)`}},
		{"invalid-email.yaml", []string{
			`testdata/invalid-email.yaml:3: alerting.email[0].smarthost: "mail.example.com": missing port (want host:port)`,
			`testdata/invalid-email.yaml:4: alerting.email[0].from: "noc" is not an e-mail address`,
			`testdata/invalid-email.yaml:5: alerting.email[0].to: missing: at least one recipient`,
		}},
		{"invalid-webhook-both-urls.yaml", []string{`testdata/invalid-webhook-both-urls.yaml:4: alerting.webhook[0].url_file: set url or url_file, not both`}},
		{"invalid-type-list.yaml", []string{`testdata/invalid-type-list.yaml:2: aws: expected a list, got a mapping`}},
		{"invalid-syntax.yaml", []string{`testdata/invalid-syntax.yaml:3: YAML syntax: did not find expected key`}},
		{"invalid-empty.yaml", []string{`testdata/invalid-empty.yaml: the file is empty (see configs/example.yaml)`}},
		{"invalid-listen-port-only.yaml", []string{`testdata/invalid-listen-port-only.yaml:1: listen: "10123": a port alone needs a colon: write ":10123" (all addresses) or "127.0.0.1:10123"`}},
		{"invalid-null-document.yaml", []string{`testdata/invalid-null-document.yaml: the file has no settings (see configs/example.yaml)`}},
		{"invalid-missing-secret.yaml", []string{`testdata/invalid-missing-secret.yaml:5: routers[0].password_file: stat testdata/secrets/nope: no such file or directory`}},
		{"invalid-empty-secret.yaml", []string{`testdata/invalid-empty-secret.yaml:3: alerting.slack[0].webhook_url_file: testdata/secrets/empty: file is empty`}},
		{"invalid-credentials-directory-unset.yaml", []string{`testdata/invalid-credentials-directory-unset.yaml:5: routers[0].password_file: "${CREDENTIALS_DIRECTORY}/rtx-osaka": only $CREDENTIALS_DIRECTORY may be used in a path, and only when systemd sets it (LoadCredential=)`}},
		{"invalid-maintenance-window.yaml", []string{
			`testdata/invalid-maintenance-window.yaml:3: alerting.maintenance_windows[0]: start "tonight" is not an RFC 3339 time such as 2026-12-01T22:00:00+09:00`,
			`testdata/invalid-maintenance-window.yaml:6: alerting.maintenance_windows[0].matchers.host: unknown label (allowed: rule, severity, vpn_connection_id, outside_ip, router, rtx_tunnel, gateway_kind, tunnel, source, region, probe)`,
		}},
		{"invalid-strongswan.yaml", []string{
			`testdata/invalid-strongswan.yaml:3: strongswan[0].vici: "charon.vici": want a socket path such as /var/run/charon.vici, or ssh://USER@HOST[:PORT]/var/run/charon.vici`,
			`testdata/invalid-strongswan.yaml:5: strongswan[1].vici: ssh:// address without a user; want a socket path such as /var/run/charon.vici, or ssh://USER@HOST[:PORT]/var/run/charon.vici`,
			`testdata/invalid-strongswan.yaml:7: strongswan[2].vici: ssh:// address holds a password: put it in password_file (it is not repeated here)`,
			`testdata/invalid-strongswan.yaml:10: strongswan[3].known_hosts: only with an ssh:// vici address; /var/run/charon.vici is a socket on this host`,
			`testdata/invalid-strongswan.yaml:11: strongswan[3].vty_socket: only with frr: true`,
			`testdata/invalid-strongswan.yaml:12: strongswan[4].name: "e" is already the name of routers[0]`,
			`testdata/invalid-strongswan.yaml:12: strongswan[4].password_file: missing: set password_file or private_key_file`,
			`testdata/invalid-strongswan.yaml:12: strongswan[4].known_hosts: missing: host keys are always verified; create the file with ssh-keyscan`,
			`testdata/invalid-strongswan.yaml:14: strongswan[4].netns: only for a gateway on this host; over SSH, vpnwatchd reads the gateway's own namespace`,
			`testdata/invalid-strongswan.yaml:16: strongswan[5].vici: "unix://charon.vici": want a socket path such as /var/run/charon.vici, or ssh://USER@HOST[:PORT]/var/run/charon.vici`,
		}},
		{"invalid-several.yaml", []string{
			`testdata/invalid-several.yaml:2: global.poll_interval: 100ms is too short (minimum 1s)`,
			`testdata/invalid-several.yaml:3: listen: ":http-alt": port must be a number from 1 to 65535`,
			`testdata/invalid-several.yaml:5: probes[0].name: missing: every probe needs a name (letters, digits, '.', '_', '-')`,
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			t.Setenv("CREDENTIALS_DIRECTORY", "")
			_, err := Load(filepath.Join("testdata", tc.file))
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			if got := strings.Split(err.Error(), "\n"); strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("error:\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(tc.want, "\n      "))
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Errorf("error %T is not a *config.Error", err)
			}
		})
	}
}

// Every invalid-*.yaml in testdata must have a case above: a new file
// without an expected message would test nothing.
func TestEveryInvalidFileIsTested(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid-*.yaml")
	src, err := os.ReadFile("config_test.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !strings.Contains(string(src), `{"`+filepath.Base(f)+`"`) {
			t.Errorf("%s has no case in TestLoadBad", f)
		}
	}
}

func TestCredentialsDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rtx-osaka"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CREDENTIALS_DIRECTORY", dir)
	c, err := Load("testdata/invalid-credentials-directory-unset.yaml")
	if err != nil {
		t.Fatalf("Load with CREDENTIALS_DIRECTORY set: %v", err)
	}
	if got := c.Routers[0].Password.Reveal(); got != "s3cret" {
		t.Errorf("password = %q, want s3cret", got)
	}
}

func TestCheckRuleNames(t *testing.T) {
	c, err := Load("testdata/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	err = c.CheckRuleNames([]string{"BGPDownIPsecUp", "TunnelDown"})
	want := "testdata/good.yaml:41: rules.DPDDisabled: unknown rule (known rules: BGPDownIPsecUp, TunnelDown)"
	if err == nil || err.Error() != want {
		t.Errorf("CheckRuleNames = %v, want %s", err, want)
	}
	if err := c.CheckRuleNames([]string{"BGPDownIPsecUp", "TunnelDown", "DPDDisabled"}); err != nil {
		t.Errorf("CheckRuleNames with all known: %v", err)
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	c, err := Load("testdata/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{"rtx-password", "hooks.slack.example", "smtp-password", "hmac-secret"}
	js, _ := json.Marshal(c)
	ym, _ := yaml.Marshal(c)
	core, logs := observer.New(zap.DebugLevel)
	zap.New(core).Info("config", zap.Any("config", c), zap.Stringer("password", c.Routers[0].Password))
	var logged strings.Builder
	for _, e := range logs.All() {
		for k, v := range e.ContextMap() {
			fmt.Fprintf(&logged, "%s=%v ", k, v)
		}
	}
	for name, out := range map[string]string{
		"%v":   fmt.Sprintf("%v", c),
		"%+v":  fmt.Sprintf("%+v", c),
		"%#v":  fmt.Sprintf("%#v", c),
		"json": string(js),
		"yaml": string(ym),
		"zap":  logged.String(),
	} {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s output contains secret %q", name, s)
			}
		}
		// YAML leaves the resolved secrets out entirely (yaml:"-"); the
		// others must show that a secret is there without showing it.
		if name != "yaml" && !strings.Contains(out, redacted) && !strings.Contains(out, `\u003credacted\u003e`) {
			t.Errorf("%s output does not show %s: %s", name, redacted, out)
		}
	}
}

func TestExampleConfigIsValid(t *testing.T) {
	if _, err := Load("../../configs/example.yaml"); err != nil {
		t.Fatalf("configs/example.yaml: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	files = append(files, "../../configs/example.yaml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.yaml")
		if err == nil && c == nil {
			t.Fatal("Parse returned neither config nor error")
		}
		if err != nil && !strings.HasPrefix(err.Error(), "fuzz.yaml") {
			t.Fatalf("error does not name the file: %v", err)
		}
	})
}

// secretConfig writes a configuration with one router whose secret files
// are made by mk, and loads it.
func secretConfig(t *testing.T, routerKeys, alerting string, mk func(dir string)) (*Config, error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "known_hosts"), []byte("# none\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mk(dir)
	cfg := filepath.Join(dir, "vpnwatchd.yaml")
	body := "routers:\n  - name: osaka\n    address: 127.0.0.1:22\n    user: monitor\n    known_hosts: known_hosts\n" + routerKeys + alerting
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(cfg)
}

// A secret path that is a FIFO is refused at once, not opened: opening it
// would wait for a writer forever and freeze a reload.
func TestSecretFIFORefused(t *testing.T) {
	done := make(chan error, 1)
	go func() {
		_, err := secretConfig(t, "    password_file: pw\n", "", func(dir string) {
			if err := syscall.Mkfifo(filepath.Join(dir, "pw"), 0o600); err != nil {
				t.Error(err)
			}
		})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "routers[0].password_file") || !strings.Contains(err.Error(), "not a regular file (a FIFO)") {
			t.Errorf("FIFO: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("loading a configuration whose secret is a FIFO blocked")
	}
}

// As OpenSSH does, a private key readable by group or others is refused;
// another secret file that is is accepted with a warning.
func TestSecretPermissions(t *testing.T) {
	_, err := secretConfig(t, "    private_key_file: id_ed25519\n", "", func(dir string) {
		os.WriteFile(filepath.Join(dir, "id_ed25519"), []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nx\n"), 0o644)
	})
	if err == nil || !strings.Contains(err.Error(), "permissions 0644 are too open for a private key") || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("loose private key: %v", err)
	}
	c, err := secretConfig(t, "    password_file: pw\n", "", func(dir string) {
		os.WriteFile(filepath.Join(dir, "pw"), []byte("s3cret\n"), 0o640)
	})
	if err != nil || len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "permissions 0640 let group or others read a secret") {
		t.Errorf("loose password file: %v %v", err, c)
	}
}

// A webhook URL file whose content is not a URL is an error naming the file,
// without the content (it holds the token).
func TestWebhookURLFileChecked(t *testing.T) {
	_, err := secretConfig(t, "    password_file: pw\n", "alerting:\n  slack:\n    - webhook_url_file: slack.url\n", func(dir string) {
		os.WriteFile(filepath.Join(dir, "pw"), []byte("s3cret\n"), 0o600)
		os.WriteFile(filepath.Join(dir, "slack.url"), []byte("ftp://user:s3cret-token@hooks.example/x\n"), 0o600)
	})
	if err == nil || !strings.Contains(err.Error(), "alerting.slack[0].webhook_url_file: the file's content is not an http:// or https:// URL") || strings.Contains(err.Error(), "s3cret-token") {
		t.Errorf("bad slack URL file: %v", err)
	}
}

// One run reports the problems of every phase: a value that does not
// decode, a value that does not validate, a secret file that is missing and
// a rule that does not exist.
func TestEveryProblemAtOnce(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "known_hosts"), []byte("# none\n"), 0o600)
	cfg := filepath.Join(dir, "vpnwatchd.yaml")
	os.WriteFile(cfg, []byte(`global:
  poll_interval: soon
aws:
  - name: prod
    regions: [mars-east-1]
routers:
  - name: osaka
    address: 192.0.2.10:22
    user: monitor
    password_file: nope
    known_hosts: known_hosts
rules:
  NoSuchRule: {hold: 1m}
`), 0o600)
	_, err := LoadChecked(cfg, []string{"TunnelDown"})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{":2: global.poll_interval", ":5: aws[0].regions", "routers[0].password_file", "rules.NoSuchRule: unknown rule"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

// YAML syntax errors name the line to look at (yaml.v3 numbers its parser's
// errors from 0 and leaves line 1 unnamed).
func TestYAMLSyntaxErrorLines(t *testing.T) {
	for _, tc := range []struct {
		text string
		line int
	}{
		{"a: b: c\n", 1},
		{"global:\n  poll_interval: 30s\n   state_dir: /x\n", 3},
		{"global:\n\tpoll_interval: 30s\n", 2},
		{"global:\n  poll_interval: 30s\n state_dir: /x\n", 3},
		{"global:\n  poll_interval: [30s\nlisten: x\n", 2},
		{"aws:\n  - name: prod\n    regions: [ap-northeast-1\n  - name: x\n", 3},
		{"- a\nb: c\n", 2},
	} {
		_, err := Parse([]byte(tc.text), "f.yaml")
		var e *Error
		if !errors.As(err, &e) || e.Line != tc.line || !strings.Contains(e.Msg, "YAML syntax") {
			t.Errorf("%q: %v, want line %d", tc.text, err, tc.line)
		}
	}
}

func TestParseViciURL(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ViciSSH
		err  string
	}{
		{"/var/run/charon.vici", ViciSSH{Path: "/var/run/charon.vici"}, ""},
		{"unix:///var/run/charon.vici", ViciSSH{Path: "/var/run/charon.vici"}, ""},
		{"ssh://monitor@gw.example.com/var/run/charon.vici", ViciSSH{User: "monitor", Address: "gw.example.com:22", Path: "/var/run/charon.vici"}, ""},
		{"ssh://monitor@[2001:db8::1]:2222/run/charon.vici", ViciSSH{User: "monitor", Address: "[2001:db8::1]:2222", Path: "/run/charon.vici"}, ""},
		{"ssh://monitor@gw/", ViciSSH{}, "without the socket's path"},
		{"ssh://monitor@/run/charon.vici", ViciSSH{}, "without a host"},
		{"ssh://monitor@gw/run/charon.vici?x=1", ViciSSH{}, "query or fragment"},
		{"ssh://monitor:s3cret@gw/run/charon.vici", ViciSSH{}, "holds a password"},
		{"tcp://gw:4502", ViciSSH{}, "want a socket path"},
		{"sftp://monitor:s3cret@gw/run/charon.vici", ViciSSH{}, "it is not repeated here"},
	} {
		got, err := parseViciURL(tc.in)
		if tc.err == "" && (err != nil || got != tc.want) || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: %+v, %v", tc.in, got, err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: the error repeats the password: %v", tc.in, err)
		}
	}
}

// A configuration over MaxFileSize is refused by its size, before it is
// read or decoded (decoding 100 MiB took 500 MiB to 2.4 GiB of memory);
// one of exactly MaxFileSize loads. A pipe, which has no size, is read no
// further than the limit.
func TestConfigTooLarge(t *testing.T) {
	dir := t.TempDir()
	padded := func(name string, size int) string {
		head := "global:\n  poll_interval: 30s\n"
		line := "# " + strings.Repeat("x", 77) + "\n"
		body := head + strings.Repeat(line, (size-len(head))/len(line))
		body += "#" + strings.Repeat("x", size-len(body)-2) + "\n"
		if len(body) != size {
			t.Fatalf("padded to %d bytes, want %d", len(body), size)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	sparse := filepath.Join(dir, "sparse.yaml")
	f, err := os.Create(sparse)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(100 << 20); err != nil { // no disk space used
		t.Fatal(err)
	}
	f.Close()
	for _, tc := range []struct{ path, want string }{
		{sparse, sparse + ": the configuration is 100 MiB; vpnwatchd reads at most 4 MiB"},
		{padded("over.yaml", MaxFileSize+1), dir + "/over.yaml: the configuration is 4.1 MiB; vpnwatchd reads at most 4 MiB"},
		{padded("limit.yaml", MaxFileSize), ""},
	} {
		_, err := Load(tc.path)
		var ce *Error
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.path, err)
		case tc.want != "" && (err == nil || err.Error() != tc.want || !errors.As(err, &ce)):
			t.Errorf("%s:\n got: %v\nwant: %s", tc.path, err, tc.want)
		}
	}
	if _, err := Parse(make([]byte, MaxFileSize+1), "big.yaml"); err == nil || err.Error() != "big.yaml: the configuration is 4.1 MiB; vpnwatchd reads at most 4 MiB" {
		t.Errorf("Parse of more than the limit: %v", err)
	}

	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	go func() {
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer w.Close()
		line := []byte("# " + strings.Repeat("x", 77) + "\n")
		for range (MaxFileSize * 2) / len(line) {
			if _, err := w.Write(line); err != nil {
				return // the reader stopped at the limit
			}
		}
	}()
	done := make(chan error, 1)
	go func() { _, err := Load(fifo); done <- err }()
	select {
	case err := <-done:
		if want := fifo + ": the configuration is more than 4 MiB; vpnwatchd reads at most 4 MiB"; err == nil || err.Error() != want {
			t.Errorf("pipe:\n got: %v\nwant: %s", err, want)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Load of a pipe did not return within 20 s")
	}
}
