package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

func TestAlertTest(t *testing.T) {
	var hits, grouped atomic.Int32
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if strings.Contains(string(b), "vpnwatchd alert test") {
			hits.Add(1)
		}
		// The test message is grouped, as the real ones: a cause with a
		// symptom under it.
		if strings.Contains(string(b), "Because of it") {
			grouped.Add(1)
		}
	}))
	defer ok.Close()
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "nope", http.StatusNotFound) }))
	defer bad.Close()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "slack.url"), []byte(ok.URL+"/services/T/B/X\n"), 0o600)
	cfg := filepath.Join(dir, "vpnwatchd.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("global:\n  state_dir: %s/state\nalerting:\n  slack: [{webhook_url_file: slack.url}]\n  webhook: [{url: %s/hook}, {url: %s/hook}]\n", dir, ok.URL, bad.URL)), 0o600)
	code, out, _ := runMain("alert", "test", "--config.file", cfg)
	if code != 1 || !strings.Contains(out, "slack[0]           ok") || !strings.Contains(out, "webhook[0]         ok") || !strings.Contains(out, "webhook[1]         FAILED") {
		t.Errorf("exit %d:\n%s", code, out)
	}
	if hits.Load() != 2 || grouped.Load() != 2 {
		t.Errorf("%d sample messages arrived (%d grouped), want 2", hits.Load(), grouped.Load())
	}
	code, out, _ = runMain("alert", "test", "--config.file", cfg, "--receiver", "slack[0]")
	if code != 0 || strings.Contains(out, "webhook") {
		t.Errorf("one receiver: %d\n%s", code, out)
	}
	if code, _, errOut := runMain("alert", "test", "--config.file", cfg, "--receiver", "email[0]"); code != 1 || !strings.Contains(errOut, "no receiver email[0]") {
		t.Errorf("unknown receiver: %d %s", code, errOut)
	}
}

// A receiver that answers the test with a redirect fails it, naming where
// the redirect points (a secret URL's path redacted on both ends); the
// other host hears nothing.
func TestAlertTestRedirectFails(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	moved := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/services/T/B/NEWTOKEN", http.StatusTemporaryRedirect)
	}))
	defer moved.Close()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "slack.url"), []byte(moved.URL+"/services/T/B/OLDTOKEN\n"), 0o600)
	cfg := filepath.Join(dir, "vpnwatchd.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("global:\n  state_dir: %s/state\nalerting:\n  slack: [{webhook_url_file: slack.url}]\n", dir)), 0o600)
	code, out, _ := runMain("alert", "test", "--config.file", cfg)
	want := "slack[0]           FAILED: POST " + moved.URL + "/<redacted>: 307 Temporary Redirect: redirect to " + other.URL + "/<redacted> not followed"
	if code != 1 || !strings.Contains(out, want) || strings.Contains(out, "TOKEN") {
		t.Errorf("exit %d, want 1 and %q:\n%s", code, want, out)
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the redirect target received %d requests", n)
	}
}
