package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hostileBundle is a customer's bundle (the hand-made one) that plant
// turns hostile.
func hostileBundle(t *testing.T, plant func(dir string)) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bundle")
	if err := os.CopyFS(dir, os.DirFS("../../internal/bundle/testdata/handmade")); err != nil {
		t.Fatal(err)
	}
	plant(dir)
	return dir
}

// runBounded runs the command line, failing the test instead of hanging.
func runBounded(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	type result struct {
		code     int
		out, err string
	}
	done := make(chan result, 1)
	go func() {
		code, out, errOut := runMain(args...)
		done <- result{code, out, errOut}
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	select {
	case r := <-done:
		return r.code, r.out, r.err
	case <-ctx.Done():
		t.Fatalf("%v did not return", args)
		return 0, "", ""
	}
}

// diagnose runs on the engineer's machine over a bundle from elsewhere:
// it names what it will not read, never shows a file outside the bundle,
// returns, and writes no control character to the terminal.
func TestDiagnoseHostileBundle(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "credentials")
	os.WriteFile(secret, []byte("aws_secret_access_key = engineerSecretKey\n"), 0o600)
	const route = "rtx/office/show_ip_route.txt"
	for _, tc := range []struct {
		name    string
		plant   func(dir string)
		code    int
		want    string // in stderr, or stdout when code is 0
		mustNot string
	}{
		{"a link to the engineer's credentials", func(dir string) { os.Symlink(secret, filepath.Join(dir, route)) },
			1, "vpnwatchd diagnose: bundle DIR: " + route + ": a symbolic link leaving the bundle, not followed", "engineerSecretKey"},
		{"a FIFO", func(dir string) { syscall.Mkfifo(filepath.Join(dir, route), 0o600) },
			1, route + ": not a regular file (a FIFO), not read", ""},
		{"a sparse 2 GB router output", func(dir string) {
			f, _ := os.Create(filepath.Join(dir, route))
			f.Truncate(2 << 30)
			f.Close()
		}, 1, route + ": larger than 16 MiB, not read", ""},
		{"escape sequences in names", func(dir string) {
			evil := filepath.Join(dir, "rtx", "evil\x1b]52;c;cm0gLXJmIH4K\x07")
			os.MkdirAll(evil, 0o700)
			cfg, _ := os.ReadFile(filepath.Join(dir, "rtx/office/show_config.txt"))
			os.WriteFile(filepath.Join(evil, "show_config.txt"), cfg, 0o600)
			os.WriteFile(filepath.Join(dir, "notes\x1b]0;pwned\x07\x1b[2J.txt"), []byte("x"), 0o600)
		}, 0, "/rtx/evil ]52;c;cm0gLXJmIH4K : a name with control characters, ignored", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := hostileBundle(t, tc.plant)
			code, out, errOut := runBounded(t, "diagnose", dir)
			text := errOut
			if tc.code == 0 {
				text = out
			}
			if want := strings.ReplaceAll(tc.want, "DIR", dir); code != tc.code || !strings.Contains(text, want) {
				t.Errorf("exit %d, want %d and %q:\n%s\n%s", code, tc.code, want, out, errOut)
			}
			if tc.mustNot != "" && strings.Contains(out+errOut, tc.mustNot) {
				t.Errorf("the output shows a file outside the bundle:\n%s\n%s", out, errOut)
			}
			for _, c := range out + errOut {
				if c < 0x20 && c != '\n' || c == 0x7f {
					t.Fatalf("control character %q in the output:\n%s\n%s", c, out, errOut)
				}
			}
		})
	}
}
