package main

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/testenv"
)

// The test binary doubles as vpnwatchd: with VPNWATCHD_MAIN=1 it runs Main,
// so the tests can start the real program and send it real signals.
func TestMain(m *testing.M) {
	if os.Getenv("VPNWATCHD_MAIN") == "1" {
		os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func vpnwatchd(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "VPNWATCHD_MAIN=1")
	return cmd
}

func TestSIGTERMShutsDownCleanly(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "vpnwatchd.yaml")
	if err := os.WriteFile(cfg, []byte("global:\n  poll_interval: 1s\n  state_dir: "+dir+"/state\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := vpnwatchd("run", "--config.file", cfg, "--web.listen-address", "127.0.0.1:0", "--log.format", "json")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	// The start-up log line names the port the OS picked.
	var logs bytes.Buffer
	addrRE := regexp.MustCompile(`"listen":\["(127\.0\.0\.1:[0-9]+)"\]`)
	sc := bufio.NewScanner(stderr)
	var addr string
	for sc.Scan() {
		logs.WriteString(sc.Text() + "\n")
		if m := addrRE.FindStringSubmatch(sc.Text()); m != nil {
			addr = m[1]
			break
		}
	}
	if addr == "" {
		t.Fatalf("no start-up line with the listen address:\n%s", logs.String())
	}
	rest := make(chan struct{})
	go func() { io.Copy(&logs, stderr); close(rest) }()

	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("never ready")
		}
		time.Sleep(20 * time.Millisecond)
	}

	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { <-rest; done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("still running 10s after SIGTERM\n%s", logs.String())
	}
	t.Logf("stopped %s after SIGTERM", time.Since(sent).Round(time.Millisecond))
	if !strings.Contains(logs.String(), `"msg":"vpnwatchd stopping","signal":"terminated"`) {
		t.Errorf("no stopping log line:\n%s", logs.String())
	}
	if _, err := http.Get("http://" + addr + "/-/healthy"); err == nil {
		t.Error("still serving HTTP after exit")
	}
}

func runMain(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := Main(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestConfigValidate(t *testing.T) {
	code, out, errOut := runMain("config", "validate", "../../configs/example.yaml")
	if code != 0 || !strings.Contains(out, "../../configs/example.yaml: OK (1 AWS source, 1 router, 1 strongSwan gateway, 1 probe, 4 receivers)") {
		t.Errorf("validate example: %d %q %q", code, out, errOut)
	}
	code, _, errOut = runMain("config", "validate", "../../internal/config/testdata/invalid-several.yaml", "../../configs/example.yaml")
	if code != 1 || strings.Count(errOut, "invalid-several.yaml:") != 3 {
		t.Errorf("validate bad: exit %d, stderr %q; want 1 and three located errors", code, errOut)
	}
	// Without a file, the one --config.file names.
	if code, out, errOut := runMain("--config.file", "../../configs/example.yaml", "config", "validate"); code != 0 || !strings.Contains(out, "example.yaml: OK") {
		t.Errorf("validate without a file: exit %d %q %q", code, out, errOut)
	}
	if code, _, _ := runMain("config", "check", "x"); code != 2 {
		t.Errorf("unknown config subcommand: exit %d, want 2", code)
	}
}

func TestHelpForEveryCommand(t *testing.T) {
	for _, args := range [][]string{{"run", "--help"}, {"config", "--help"}, {"config", "validate", "--help"}, {"version", "--help"}, {"help"}, {"--help"}} {
		code, out, _ := runMain(args...)
		if code != 0 || !strings.HasPrefix(out, "usage: vpnwatchd") || !strings.Contains(out, "--config.file") || !strings.Contains(out, "--log.level") {
			t.Errorf("%v: exit %d, stdout %q", args, code, out)
		}
	}
	code, _, errOut := runMain("frobnicate")
	if code != 2 || !strings.Contains(errOut, `unknown subcommand "frobnicate"`) {
		t.Errorf("unknown command: %d %q", code, errOut)
	}
	code, _, errOut = runMain("run", "--no-such-flag")
	if code != 2 || !strings.Contains(errOut, "unknown flag --no-such-flag") {
		t.Errorf("unknown flag: %d %q", code, errOut)
	}
	// The old spelling, --config, still works (hidden from the help).
	if code, out, errOut := runMain("config", "validate", "--config", "../../configs/example.yaml"); code != 0 || !strings.Contains(out, "example.yaml: OK") {
		t.Errorf("--config: %d %q %q", code, out, errOut)
	}
	// Exporters' conventions: --version and -h at top level, --log.* on
	// every subcommand, usage errors exit 2.
	if code, out, _ := runMain("--version"); code != 0 || !strings.HasPrefix(out, "vpnwatchd, version ") {
		t.Errorf("--version: %d %q", code, out)
	}
	if code, out, _ := runMain("check", "-h"); code != 0 || !strings.Contains(out, "--timeout") {
		t.Errorf("check -h: %d %q", code, out)
	}
	for _, cmd := range [][]string{{"check"}, {"collect", "--out", "x"}, {"diagnose", "x"}, {"config", "validate", "x"}, {"probe", "mtu", "198.18.0.1"}, {"demo"}} {
		code, _, errOut := runMain(append(cmd, "--log.level", "loud")...)
		if code != 2 || !strings.Contains(errOut, `--log.level "loud": one of debug`) {
			t.Errorf("%v --log.level loud: %d %q", cmd, code, errOut)
		}
	}
}

func TestRunReportsBadConfig(t *testing.T) {
	code, _, errOut := runMain("run", "--config.file", "../../internal/config/testdata/invalid-unknown-key.yaml")
	if code != 1 || !strings.Contains(errOut, "invalid-unknown-key.yaml:2: global.poll_intervall: unknown key") {
		t.Errorf("run with a bad config: %d %q", code, errOut)
	}
	code, _, errOut = runMain("run", "--config.file", "../../configs/example.yaml", "--log.level", "loud")
	if code != 2 || !strings.Contains(errOut, "--log.level") {
		t.Errorf("run with a bad log level: %d %q", code, errOut)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runMain("version")
	if code != 0 || !strings.HasPrefix(out, "vpnwatchd, version ") || !strings.Contains(out, "go version:") {
		t.Errorf("version: %d %q", code, out)
	}
	if strings.Contains(out, "version  (") {
		t.Error("version is empty; the build-info fallback did not apply")
	}
}

// runActivated runs vpnwatchd with f handed over as systemd hands a socket
// over (fd 3, LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES=name) until the test
// ends.
func runActivated(t *testing.T, f *os.File, name string, args ...string) {
	t.Helper()
	sh := testenv.Binary(t, "sh")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "vpnwatchd.yaml")
	os.WriteFile(cfg, []byte("global:\n  poll_interval: 1s\n  state_dir: "+dir+"/state\n"), 0o600)
	cmd := exec.Command(sh, append([]string{"-c", `LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES="$0" exec "$@"`, name, os.Args[0], "run", "--config.file", cfg}, args...)...)
	cmd.Env = append(os.Environ(), "VPNWATCHD_MAIN=1")
	cmd.ExtraFiles = []*os.File{f}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	f.Close()
}

// waitHTTP polls url until ok says the answer is what the test waits for.
func waitHTTP(t *testing.T, url, what string, ok func(status int, body []byte) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if ok(resp.StatusCode, b) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10 s (%v)", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// --web.systemd-socket serves on the socket systemd passes (socket
// activation), as exporter-toolkit's exporters do.
func TestSystemdSocketActivation(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, _ := l.(*net.TCPListener).File()
	addr := l.Addr().String()
	l.Close() // the child holds the socket now (fd 3)
	runActivated(t, f, "", "--web.systemd-socket")
	waitHTTP(t, "http://"+addr+"/-/healthy", "served on the activated socket", func(status int, _ []byte) bool { return status == http.StatusOK })
}

// vpnwatchd-syslog.socket: systemd opens UDP 514 and passes it as "syslog";
// the daemon receives the routers' syslog on it without any capability
// and without syslog.listen.
func TestSyslogSocketFromSystemd(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, _ := pc.(*net.UDPConn).File()
	syslogAddr := pc.LocalAddr().String()
	pc.Close()
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	httpAddr := l.Addr().String()
	l.Close()
	runActivated(t, f, "syslog", "--web.listen-address", httpAddr)
	c, err := net.Dial("udp", syslogAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dropped := regexp.MustCompile(`vpnwatch_syslog_dropped_total\{reason="unknown_source"\} [1-9]`)
	waitHTTP(t, "http://"+httpAddr+"/metrics", "syslog received on the socket systemd passed", func(_ int, body []byte) bool {
		c.Write([]byte("<190>IP Tunnel[1] Down")) // from no configured router: dropped, counted
		return dropped.Match(body)
	})
}
