package rtx

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// TunnelStatus is the parsed `show status tunnel N`.
type TunnelStatus struct {
	Number        int
	Description   string
	InterfaceType string
	// Status is the word after "Current status is" ("Online"); for Japanese
	// output "Online" or "Offline". Only "Online" counts as up: the offline
	// wording of RTX is not known from any public sample.
	Status string
	Since  time.Time // router local time, in the location given to the parser
	Uptime time.Duration
	// IPv4 counters.
	RxPackets, RxOctets, TxPackets, TxOctets int64
	// MTU is the IPv4 MTU when the firmware shows it (RTX830/1220/1300
	// and later), else 0.
	MTU int
	// Keepalive is the IKE keepalive status ("OK") when shown.
	Keepalive string
	Warnings  []Unreadable
}

// knownStatus are the words after "Current status is" that vpnwatchd
// reads: Online (public samples) and Offline (assumed: no public sample of
// a down tunnel exists). Any other word leaves the status unknown and the
// line is reported, never read as down.
var knownStatus = map[string]bool{"Online": true, "Offline": true}

// StatusUnknown is the Status of a tunnel whose status line was missing
// or not understood: neither up nor down.
const StatusUnknown = "unknown"

// Known reports whether the status was read: Online or Offline.
func (s TunnelStatus) Known() bool { return s.Status != StatusUnknown && s.Status != "" }

// Online reports whether the tunnel interface is up.
func (s TunnelStatus) Online() bool { return s.Status == "Online" }

var (
	tunHeaderRE  = regexp.MustCompile(`^TUNNEL\[(\d+)\]:`)
	tunStatusRE  = regexp.MustCompile(`^Current status is (\w+)\.?`)
	tunFromRE    = regexp.MustCompile(`^from (\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2})\.?$`)
	tunUptimeRE  = regexp.MustCompile(`^((?:\d+\s*(?:days?|hours?|minutes?|seconds?)\s*)+)\s*connection\.?$`)
	tunCountRE   = regexp.MustCompile(`^(?:Received|Transmitted|受信|送信):\s*\(IPv4\)\s*(\d+)\s*(?:packets?|パケット)\s*\[(\d+)\s*(?:octets?|オクテット)\]`)
	tunMTURE     = regexp.MustCompile(`^IPv4:\s*(\d+)\s*octets?$`)
	tunKeepRE    = regexp.MustCompile(`^\[Status\]:\s*(\S+)`)
	durPartRE    = regexp.MustCompile(`(\d+)\s*(days?|hours?|minutes?|seconds?|日|時間|分|秒)`)
	jaConnected  = "トンネルインタフェースは接続されています"
	jaDisconnect = "トンネルインタフェースは接続されていません"
)

// ParseTunnelStatus reads `show status tunnel N` in English or Japanese:
//
//	TUNNEL[1]:
//	Description:
//	  Interface type: IPsec
//	  Current status is Online.
//	  from 2011/08/15 18:19:45.
//	  5 hours 7 minutes 58 seconds  connection.
//	  Received:    (IPv4) 3933 packets [244941 octets]
//
//	TUNNEL[1]:
//	説明: とある接続先
//	  トンネルインタフェースは接続されています
//	  開始: 2021/03/25 15:04:47
//	  通信時間: 2時間5分10秒
//	  受信: (IPv4) 391 パケット [23172 オクテット]
func ParseTunnelStatus(text string, loc *time.Location) (TunnelStatus, error) {
	const cmd = "show status tunnel"
	var st TunnelStatus
	seenHeader := false
	for i, line := range lines(text) {
		n := i + 1
		s := strings.TrimSpace(line)
		if s == "" || strings.HasPrefix(s, "# source:") || strings.Contains(s, cmd) {
			continue
		}
		if m := tunHeaderRE.FindStringSubmatch(s); m != nil {
			st.Number, _ = strconv.Atoi(m[1])
			seenHeader = true
			continue
		}
		if k, v, ok := strings.Cut(s, ":"); ok && (k == "Description" || k == "説明") {
			st.Description = intern(strings.TrimSpace(v))
			continue
		}
		if k, v, ok := strings.Cut(s, ":"); ok && (k == "Interface type" || k == "インタフェースの種類") {
			st.InterfaceType = intern(strings.TrimSpace(v))
			continue
		}
		switch {
		case s == jaConnected:
			st.Status = "Online"
		case s == jaDisconnect:
			st.Status = "Offline"
		case tunStatusRE.MatchString(s) && knownStatus[tunStatusRE.FindStringSubmatch(s)[1]]:
			st.Status = intern(tunStatusRE.FindStringSubmatch(s)[1])
		case tunFromRE.MatchString(s), strings.HasPrefix(s, "開始:"):
			v := strings.TrimSpace(strings.TrimPrefix(s, "開始:"))
			if m := tunFromRE.FindStringSubmatch(s); m != nil {
				v = m[1]
			}
			t, err := time.ParseInLocation("2006/01/02 15:04:05", v, loc)
			if err != nil {
				return st, &ParseError{cmd, n, s, "cannot read the start time"}
			}
			st.Since = t
		case tunUptimeRE.MatchString(s), strings.HasPrefix(s, "通信時間:"):
			d, ok := parseUptime(s)
			if !ok {
				return st, &ParseError{cmd, n, s, "cannot read the connection time"}
			}
			st.Uptime = d
		case tunCountRE.MatchString(s):
			m := tunCountRE.FindStringSubmatch(s)
			p, _ := strconv.ParseInt(m[1], 10, 64)
			o, _ := strconv.ParseInt(m[2], 10, 64)
			if strings.HasPrefix(s, "Received") || strings.HasPrefix(s, "受信") {
				st.RxPackets, st.RxOctets = p, o
			} else {
				st.TxPackets, st.TxOctets = p, o
			}
		case tunMTURE.MatchString(s):
			st.MTU, _ = strconv.Atoi(tunMTURE.FindStringSubmatch(s)[1])
		case tunKeepRE.MatchString(s):
			st.Keepalive = intern(tunKeepRE.FindStringSubmatch(s)[1])
		case strings.HasPrefix(s, "(IPv6)"), strings.HasPrefix(s, "IPv6:"), strings.HasPrefix(s, "Maximum Transmission Unit"),
			s == "IKE keepalive:", strings.HasPrefix(s, "[Type]:"), strings.HasPrefix(s, "[Next send]:"):
			// IPv6 counters and keepalive details: not used.
		default:
			st.Warnings = append(st.Warnings, Unreadable{cmd, n, s})
		}
	}
	if !seenHeader {
		return st, &ParseError{cmd, 1, firstLine(text), "no TUNNEL[N]: header"}
	}
	if st.Status == "" {
		st.Status = StatusUnknown
	}
	return st, nil
}

// parseUptime reads "5 hours 7 minutes 58 seconds  connection." or
// "通信時間: 2時間5分10秒".
func parseUptime(s string) (time.Duration, bool) {
	var d time.Duration
	parts := durPartRE.FindAllStringSubmatch(s, -1)
	if len(parts) == 0 {
		return 0, false
	}
	for _, p := range parts {
		v, err := strconv.Atoi(p[1])
		if err != nil {
			return 0, false
		}
		unit := map[string]time.Duration{"day": 24 * time.Hour, "days": 24 * time.Hour, "日": 24 * time.Hour,
			"hour": time.Hour, "hours": time.Hour, "時間": time.Hour, "minute": time.Minute, "minutes": time.Minute, "分": time.Minute,
			"second": time.Second, "seconds": time.Second, "秒": time.Second}[p[2]]
		d += time.Duration(v) * unit
	}
	return d, true
}

func firstLine(text string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(text), "\n")
	return l
}
