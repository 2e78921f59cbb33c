package daemon

import (
	"fmt"
	"github.com/coreos/go-systemd/v22/activation"
	"math/rand/v2"
	"net"
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

// sockets are what systemd passed (socket activation, LISTEN_FDS): a
// datagram socket named "syslog" (vpnwatchd-syslog.socket) and stream
// sockets for HTTP (--web.systemd-socket).
type sockets struct {
	syslog net.PacketConn
	http   []net.Listener
}

func (s sockets) close() {
	if s.syslog != nil {
		s.syslog.Close()
	}
	for _, l := range s.http {
		l.Close()
	}
}

// inheritSockets takes the sockets systemd passed, once per process.
func inheritSockets() (sockets, error) {
	var s sockets
	for _, f := range activation.Files(true) {
		if f.Name() == "syslog" {
			pc, err := net.FilePacketConn(f)
			f.Close()
			if err != nil {
				s.close()
				return sockets{}, fmt.Errorf("the syslog socket systemd passed: %w", err)
			}
			s.syslog = pc
			continue
		}
		l, err := net.FileListener(f)
		f.Close()
		if err != nil {
			s.close()
			return sockets{}, fmt.Errorf("a socket systemd passed (%s): %w", f.Name(), err)
		}
		s.http = append(s.http, l)
	}
	return s, nil
}
