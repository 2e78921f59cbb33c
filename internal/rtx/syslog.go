package rtx

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Kinds of syslog events vpnwatchd acts on.
const (
	EventTunnelUp   = "tunnel-up"
	EventTunnelDown = "tunnel-down"
	EventIKE        = "ike"
	EventBGP        = "bgp"
	EventOther      = "other"
)

// Event is one RTX syslog message.
type Event struct {
	Kind string
	// Tunnel is N of "IP Tunnel[N] …", else 0.
	Tunnel int
	// Peer is the address of "[IKE] … to ADDRESS", if any.
	Peer string
	Text string
	// Time is when vpnwatchd received it (routers' syslog carries the
	// router's local time, if any).
	Time time.Time
}

var (
	// "<190>" priority, then an optional RFC 3164 timestamp and host, or
	// RTX's own "2018/10/29 17:32:24: " as in `show log`.
	syslogPriRE   = regexp.MustCompile(`^<([0-9]{1,3})>`)
	syslogBSDRE   = regexp.MustCompile(`^[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} (?:\S+ )?`)
	syslogRTXRE   = regexp.MustCompile(`^[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}: `)
	tunnelEventRE = regexp.MustCompile(`^IP Tunnel\[([0-9]{1,4})\] (Up|Down)\b`)
	ikeEventRE    = regexp.MustCompile(`^\[IKE\] .*?(?:to|from) ([0-9a-fA-F.:]+)`)
)

// ParseSyslog reads one RTX syslog message:
//
//	<190>IP Tunnel[1] Down
//	<190>Nov 25 21:00:01 rtx1200 [IKE] initiate IPsec phase to 203.0.113.10
//	2018/10/29 17:32:55: IP Tunnel[3] Down
//
// Messages it does not know are EventOther; only an empty or binary
// message is an error.
func ParseSyslog(msg []byte) (Event, error) {
	s := strings.TrimRight(string(msg), "\r\n\x00")
	// Japanese firmware logs in the console's character set (Shift_JIS by
	// default): read it as the console is read, so that evidence quotes
	// text, not bytes.
	s, _ = DecodeConsole(s, CharsetUnknown)
	if m := syslogPriRE.FindStringSubmatch(s); m != nil {
		if p, _ := strconv.Atoi(m[1]); p > 191 {
			return Event{}, fmt.Errorf("syslog: priority %d out of range", p)
		}
		s = s[len(m[0]):]
	}
	s = syslogBSDRE.ReplaceAllString(s, "")
	s = syslogRTXRE.ReplaceAllString(s, "")
	s = strings.TrimSpace(s)
	if s == "" {
		return Event{}, fmt.Errorf("syslog: empty message")
	}
	for _, r := range s {
		if r < 0x20 && r != '\t' {
			return Event{}, fmt.Errorf("syslog: control characters in the message")
		}
	}
	e := Event{Kind: EventOther, Text: s}
	switch {
	case tunnelEventRE.MatchString(s):
		m := tunnelEventRE.FindStringSubmatch(s)
		e.Tunnel, _ = strconv.Atoi(m[1])
		e.Kind = EventTunnelDown
		if m[2] == "Up" {
			e.Kind = EventTunnelUp
		}
	case strings.HasPrefix(s, "[IKE]"):
		e.Kind = EventIKE
		if m := ikeEventRE.FindStringSubmatch(s); m != nil {
			e.Peer = m[1]
		}
	case strings.HasPrefix(s, "[BGP]") || strings.HasPrefix(s, "BGP:"):
		e.Kind = EventBGP
	}
	return e, nil
}

// Urgent reports whether the event should trigger an immediate poll.
func (e Event) Urgent() bool {
	return e.Kind == EventTunnelDown || e.Kind == EventTunnelUp || e.Kind == EventBGP
}
