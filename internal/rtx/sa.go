package rtx

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// SA kinds in the connection column of `show ipsec sa`.
const (
	SAKindISAKMP = "isakmp" // IKEv1 phase 1
	SAKindIKE    = "ike"    // IKEv2 IKE SA
	SAKindESP    = "esp"    // IPsec SA
)

// SA is one row of `show ipsec sa`.
type SA struct {
	ID      int // the sa column: a new number for every SA, so a rekey shows as a new ID
	Gateway int // sgw: the N of `ipsec ike … N`
	// ISAKMP is the parent IKE SA of an ESP SA; 0 on IKE rows or when
	// RTX has already deleted the IKE SA ("dangling" SAs are normal on RTX).
	ISAKMP int
	Kind   string
	// Mode is "tun" (site-to-site tunnel) or "tra" (transport, L2TP/IPsec)
	// for ESP rows.
	Mode      string
	Tunnel    int    // tunnel interface number of tun[NNNN]esp rows
	Direction string // send, recv, or "" for IKE rows
	Remaining time.Duration
	Remote    string
	// FirstSeen is when vpnwatchd first saw this SA (SAHistory); zero in
	// a snapshot no history was applied to.
	FirstSeen time.Time
}

// SATable is the parsed `show ipsec sa`.
type SATable struct {
	// Total is the summary line as printed; it can disagree with the rows
	// while a rekey is under way, so counts should come from SAs.
	TotalISAKMP, TotalSend, TotalRecv int
	SAs                               []SA
	Warnings                          []Unreadable
}

var saTotalRE = regexp.MustCompile(`^Total:\s*isakmp:\s*(\d+)\s+send:\s*(\d+)\s+recv:\s*(\d+)`)

// parseESPConn reads "tun[0001]esp" or "tra[0088]esp" without a regular
// expression: this runs for every row of tables with thousands of SAs.
func parseESPConn(s string) (mode string, n int, ok bool) {
	if len(s) < 9 || (s[:4] != "tun[" && s[:4] != "tra[") || s[len(s)-4:] != "]esp" {
		return "", 0, false
	}
	digits := s[4 : len(s)-4]
	for _, c := range digits {
		if c < '0' || c > '9' {
			return "", 0, false
		}
	}
	n, err := strconv.Atoi(digits)
	return s[:3], n, err == nil
}

// ParseIPsecSA reads `show ipsec sa`:
//
//	Total: isakmp:2 send:1 recv:1
//
//	sa   sgw isakmp connection   dir  life[s] remote-id
//	-----------------------------------------------------------------------------
//	1     1    -    isakmp       -    27132   203.0.113.10
//	3     1    2    tun[001]esp  send 1944    203.0.113.10
//
// Tunnel numbers come zero-padded to 3 or 4 digits depending on firmware.
func ParseIPsecSA(text string) (SATable, error) {
	const cmd = "show ipsec sa"
	var t SATable
	recognised := false
	for i, line := range lines(text) {
		n := i + 1
		s := strings.TrimSpace(line)
		switch {
		case s == "", strings.HasPrefix(s, "# source:"), isEcho(s, cmd), strings.HasPrefix(s, "---"):
			continue
		case strings.HasPrefix(s, "Total:"):
			m := saTotalRE.FindStringSubmatch(s)
			if m == nil {
				return t, &ParseError{cmd, n, s, "cannot read the Total line"}
			}
			t.TotalISAKMP, _ = strconv.Atoi(m[1])
			t.TotalSend, _ = strconv.Atoi(m[2])
			t.TotalRecv, _ = strconv.Atoi(m[3])
			recognised = true
			continue
		case strings.HasPrefix(s, "sa ") && strings.Contains(s, "connection"):
			recognised = true
			continue // column header
		}
		f := strings.Fields(s)
		if _, err := strconv.Atoi(f[0]); err != nil {
			t.Warnings = append(t.Warnings, Unreadable{cmd, n, s})
			continue
		}
		sa, err := parseSARow(f)
		if err != "" {
			return t, &ParseError{cmd, n, s, err}
		}
		t.SAs = append(t.SAs, sa)
	}
	// Output with neither the Total line, the header nor an SA row is not
	// `show ipsec sa` output (an error message, garbage): reading it as
	// "no SAs" would report a healthy tunnel as down, or hide a fault.
	if !recognised && len(t.SAs) == 0 {
		return t, &ParseError{cmd, 1, firstLine(text), "not the output of show ipsec sa (no Total line, header or SA row)"}
	}
	return t, nil
}

func parseSARow(f []string) (SA, string) {
	if len(f) < 6 {
		return SA{}, "an SA row needs sa, sgw, isakmp, connection, dir and life columns"
	}
	var sa SA
	var err error
	sa.ID, _ = strconv.Atoi(f[0])
	if sa.Gateway, err = strconv.Atoi(f[1]); err != nil {
		return SA{}, "sgw is not a number"
	}
	if f[2] != "-" {
		if sa.ISAKMP, err = strconv.Atoi(f[2]); err != nil {
			return SA{}, "isakmp is not a number or -"
		}
	}
	switch conn := f[3]; conn {
	case SAKindISAKMP, SAKindIKE:
		sa.Kind = intern(conn)
	default:
		mode, n, ok := parseESPConn(conn)
		if !ok {
			return SA{}, "unknown connection type " + strconv.Quote(conn)
		}
		sa.Kind, sa.Mode, sa.Tunnel = SAKindESP, intern(mode), n
	}
	switch d := f[4]; d {
	case "send", "recv":
		sa.Direction = intern(d)
	case "-":
	default:
		return SA{}, "dir must be send, recv or -"
	}
	life, err := strconv.Atoi(f[5])
	if err != nil || life < 0 {
		return SA{}, "life[s] is not a number of seconds"
	}
	sa.Remaining = time.Duration(life) * time.Second
	if len(f) > 6 {
		sa.Remote = intern(strings.Join(f[6:], " "))
	}
	return sa, ""
}

// ForTunnel returns the site-to-site ESP SAs of tunnel interface n.
func (t SATable) ForTunnel(n int) []SA {
	var out []SA
	for _, sa := range t.SAs {
		if sa.Kind == SAKindESP && sa.Mode == "tun" && sa.Tunnel == n {
			out = append(out, sa)
		}
	}
	return out
}

// ForGateway returns the IKE SAs of security gateway g.
func (t SATable) ForGateway(g int) []SA {
	var out []SA
	for _, sa := range t.SAs {
		if sa.Kind != SAKindESP && sa.Gateway == g {
			out = append(out, sa)
		}
	}
	return out
}
