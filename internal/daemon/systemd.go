package daemon

import (
	"math/rand/v2"
	"time"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"
	"golang.org/x/sys/unix"
)

// Notifier sends sd_notify(3) state strings ("READY=1", "STATUS=…").
type Notifier interface {
	Notify(state string)
}

// systemdNotifier writes to $NOTIFY_SOCKET; outside systemd it does nothing.
type systemdNotifier struct{}

func (systemdNotifier) Notify(state string) {
	// An error here means the socket vanished; systemd would then restart us
	// for a missed watchdog anyway, and there is no one else to tell.
	_, _ = sddaemon.SdNotify(false, state)
}

// watchdogInterval is WatchdogSec= as systemd passes it, or 0.
func watchdogInterval() time.Duration {
	iv, err := sddaemon.SdWatchdogEnabled(false)
	if err != nil {
		return 0
	}
	return iv
}

func monotonicUsec() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return ts.Nano() / 1000
}

// jitter shortens an interval by up to 10% so that many daemons (or routers) do not
// fall into lockstep.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	return d - time.Duration(rand.Float64()*0.1*float64(d))
}
