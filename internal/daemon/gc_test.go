package daemon

import (
	"os"
	"runtime/debug"
	"testing"
)

func TestTuneGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	t.Setenv("GOGC", "") // set, even if empty: the user's choice is left alone
	debug.SetGCPercent(80)
	if got := TuneGC(); got != 80 {
		t.Errorf("with GOGC set: %d, want the runtime's 80 left alone", got)
	}
	// Without GOGC in the environment, DefaultGCPercent applies (t.Setenv
	// restores GOGC afterwards).
	os.Unsetenv("GOGC")
	if got := TuneGC(); got != DefaultGCPercent {
		t.Errorf("without GOGC: %d, want %d", got, DefaultGCPercent)
	}
	if cur := debug.SetGCPercent(100); cur != DefaultGCPercent {
		t.Errorf("runtime GC percent %d, want %d", cur, DefaultGCPercent)
	}
}
