package daemon

import (
	"os"
	"runtime/debug"
)

// DefaultGCPercent is the garbage collector's target vpnwatchd runs with
// unless GOGC is set: half Go's default. A poll cycle allocates far more
// than it keeps (EC2 answers, console output); at Go's 100 % the process
// holds up to twice its live heap, at 50 % less, for a little more CPU
// (make bench-scale; README, Sizing).
const DefaultGCPercent = 50

// TuneGC applies DefaultGCPercent unless the environment sets GOGC, and
// returns the percentage in force (-1: collection off).
func TuneGC() int {
	if _, ok := os.LookupEnv("GOGC"); ok {
		cur := debug.SetGCPercent(100) // read it: there is no getter
		debug.SetGCPercent(cur)
		return cur
	}
	debug.SetGCPercent(DefaultGCPercent)
	return DefaultGCPercent
}
