package daemon

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// Go's profiles are served only with --web.enable-pprof.
func TestPprofOnlyWhenEnabled(t *testing.T) {
	for _, enabled := range []bool{false, true} {
		dir := t.TempDir()
		cfg := filepath.Join(dir, "vpnwatchd.yaml")
		writeConfig(t, cfg, minimalConfig(dir, "1h"))
		_, addr := start(t, Options{ConfigFile: cfg, EnablePprof: enabled})
		code, body := get(t, http.DefaultClient, "http://"+addr+"/debug/pprof/")
		if enabled && (code != http.StatusOK || !strings.Contains(body, "goroutine")) {
			t.Errorf("enabled: %d\n%s", code, body)
		}
		if !enabled && code != http.StatusNotFound {
			t.Errorf("not enabled: %d", code)
		}
		if code, _ := get(t, http.DefaultClient, "http://"+addr+"/debug/pprof/cmdline"); enabled != (code == http.StatusOK) {
			t.Errorf("cmdline, enabled %v: %d", enabled, code)
		}
	}
}
