package rtx

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// BGPNeighbor is one block of `show status bgp neighbor`.
type BGPNeighbor struct {
	Address  string
	RemoteAS string
	LocalAS  string
	// State is the BGP FSM state: Idle, Connect, Active, OpenSent,
	// OpenConfirm or Established.
	State string
	// Uptime is the text after "up for" on an established session, if any.
	Uptime            string
	HoldTime          int
	KeepaliveInterval int
	// EstablishedCount and Dropped count session establishments and drops.
	EstablishedCount, Dropped int
	// ReceivedPrefixes is how many routes the neighbor sent, from
	// received-routes (or a prefix line some firmware may print); -1 when
	// not known.
	ReceivedPrefixes int
}

// Established reports whether the session is up.
func (n BGPNeighbor) Established() bool { return n.State == "Established" }

// BGPStatus is the parsed `show status bgp neighbor`.
type BGPStatus struct {
	Neighbors []BGPNeighbor
	Warnings  []Unreadable
}

var (
	bgpHeadRE   = regexp.MustCompile(`^BGP neighbor is ([0-9a-fA-F.:]+), remote AS (\S+?),(?: local AS (\S+?),)?`)
	bgpStateRE  = regexp.MustCompile(`^BGP state = (\w+)(?:,\s*up for (\S+))?`)
	bgpHoldRE   = regexp.MustCompile(`hold time is (\d+), keepalive interval is (\d+) seconds`)
	bgpConnRE   = regexp.MustCompile(`^Connection established (\d+); dropped (\d+)`)
	bgpPrefixRE = regexp.MustCompile(`^(?:Received prefixes|Prefixes received|Accepted prefixes):?\s*(\d+)`)
)

// ParseBGPNeighbors reads `show status bgp neighbor`, one block per
// neighbor (the Zebra-derived layout):
//
//	BGP neighbor is 169.254.255.1, remote AS 7224, local AS 65000, external link
//	  BGP version 0, remote router ID 0.0.0.0
//	  BGP state = Active
//	  Last read 00:00:00, hold time is 0, keepalive interval is 0 seconds
//	  Connection established 0; dropped 0
//
// Only an Active sample is public; "BGP state = Established, up for …" and
// the prefix line are read by analogy and are optional.
func ParseBGPNeighbors(text string) (BGPStatus, error) {
	const cmd = "show status bgp neighbor"
	var st BGPStatus
	var cur *BGPNeighbor
	for i, line := range lines(text) {
		n := i + 1
		s := strings.TrimSpace(line)
		if s == "" || strings.HasPrefix(s, "# source:") || isEcho(s, cmd) {
			continue
		}
		if strings.HasPrefix(s, "BGP neighbor is ") {
			m := bgpHeadRE.FindStringSubmatch(s)
			if m == nil {
				return st, &ParseError{cmd, n, s, "cannot read the neighbor address and AS"}
			}
			st.Neighbors = append(st.Neighbors, BGPNeighbor{Address: intern(m[1]), RemoteAS: intern(m[2]), LocalAS: intern(m[3]), ReceivedPrefixes: -1})
			cur = &st.Neighbors[len(st.Neighbors)-1]
			continue
		}
		if cur == nil {
			st.Warnings = append(st.Warnings, Unreadable{cmd, n, s})
			continue
		}
		switch {
		case strings.HasPrefix(s, "BGP state"):
			m := bgpStateRE.FindStringSubmatch(s)
			if m == nil {
				return st, &ParseError{cmd, n, s, "cannot read the BGP state"}
			}
			cur.State, cur.Uptime = intern(m[1]), intern(m[2])
		case bgpHoldRE.MatchString(s):
			m := bgpHoldRE.FindStringSubmatch(s)
			cur.HoldTime, _ = strconv.Atoi(m[1])
			cur.KeepaliveInterval, _ = strconv.Atoi(m[2])
		case bgpConnRE.MatchString(s):
			m := bgpConnRE.FindStringSubmatch(s)
			cur.EstablishedCount, _ = strconv.Atoi(m[1])
			cur.Dropped, _ = strconv.Atoi(m[2])
		case bgpPrefixRE.MatchString(s):
			cur.ReceivedPrefixes, _ = strconv.Atoi(bgpPrefixRE.FindStringSubmatch(s)[1])
		case strings.HasPrefix(s, "BGP version"), strings.HasPrefix(s, "Received "), strings.HasPrefix(s, "Sent "),
			strings.HasPrefix(s, "Last reset"), strings.HasPrefix(s, "Local host"), strings.HasPrefix(s, "Foreign host"):
		default:
			st.Warnings = append(st.Warnings, Unreadable{cmd, n, s})
		}
	}
	if len(st.Neighbors) == 0 && len(st.Warnings) > 0 {
		return st, &ParseError{cmd, 1, firstLine(text), "not the output of show status bgp neighbor"}
	}
	for _, nb := range st.Neighbors {
		if nb.State == "" {
			return st, &ParseError{cmd, 0, nb.Address, "neighbor block without a BGP state line"}
		}
	}
	return st, nil
}

// ReceivedRoutes is the parsed `show status bgp neighbor ADDR
// received-routes`: the routes the neighbor sent, whether or not they are
// the best path (a standby tunnel's routes are not in `show ip route`).
type ReceivedRoutes struct {
	Total    int
	Networks []string
	Warnings []Unreadable
}

var (
	bgpTotalRE = regexp.MustCompile(`^Total routes:\s*(\d+)$`)
	bgpRowRE   = regexp.MustCompile(`^[*>a-z ]{1,4}\s*(default|[0-9a-fA-F.:]+/\d{1,3})\s`)
)

// ErrCommandUnknown is a router's answer that it does not offer a command
// or an argument of it ("Invalid command name", "Error: Invalid
// parameter", "エラー: コマンド名を確認してください").
var ErrCommandUnknown = errors.New("the router does not know this command")

// errorPrefixes start an RTX error reply: "Error: Invalid parameter" on
// English consoles, "エラー: …" on Japanese ones (with an ASCII or a
// full-width colon).
var errorPrefixes = []string{"Error:", "エラー:", "エラー："}

// rejections are error messages as some firmware prints them without the
// prefix.
var rejections = []string{"Invalid command name", "コマンド名を確認してください", "Invalid parameter", "パラメータが範囲を越えています", "Administrator use only"}

// commandRejected reports whether an output is the router refusing the
// command rather than answering it: its first line is an error reply. With
// the prefix any message counts (the firmware does not offer the command,
// whatever words it finds for that); without it, only the known messages.
func commandRejected(text string) bool {
	s := firstLine(text)
	for _, p := range errorPrefixes {
		if len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) {
			return true
		}
	}
	for _, m := range rejections {
		if strings.HasPrefix(s, m) {
			return true
		}
	}
	return false
}

// ParseReceivedRoutes reads `show status bgp neighbor ADDR
// received-routes`, in the layout of the public advertised-routes sample
// (shared/rtx-samples/show-status-bgp-neighbor-advertised-routes.1.txt):
//
//	Total routes: 1
//	*: valid route
//	  Network            Next Hop        Metric LocPrf Path
//	* 10.0.0.0/16        169.254.255.1      100        7224 IGP
//
// The total line wins over counting rows; without it the rows are counted,
// and Total stays -1 (unknown) if a line was not understood.
// A router that does not know the command gives ErrCommandUnknown.
func ParseReceivedRoutes(text string) (ReceivedRoutes, error) {
	const cmd = "show status bgp neighbor received-routes"
	r := ReceivedRoutes{Total: -1}
	if commandRejected(text) {
		return r, fmt.Errorf("%s: %w: %q", cmd, ErrCommandUnknown, firstLine(text))
	}
	header := false
	for i, line := range lines(text) {
		s := strings.TrimSpace(line)
		if s == "" || strings.HasPrefix(s, "# ") || strings.HasSuffix(s, "received-routes") {
			continue
		}
		switch {
		case bgpTotalRE.MatchString(s):
			r.Total, _ = strconv.Atoi(bgpTotalRE.FindStringSubmatch(s)[1])
			header = true
		case strings.HasPrefix(s, "*: valid route"), strings.HasPrefix(s, "Network"):
			header = true
		case bgpRowRE.MatchString(s):
			r.Networks = append(r.Networks, intern(bgpRowRE.FindStringSubmatch(s)[1]))
		default:
			r.Warnings = append(r.Warnings, Unreadable{Command: cmd, Line: i + 1, Text: s})
		}
	}
	if !header && len(r.Networks) == 0 {
		return r, &ParseError{cmd, 1, firstLine(text), "not the output of received-routes (no Total routes line or route row)"}
	}
	if r.Total < 0 && len(r.Warnings) == 0 {
		r.Total = len(r.Networks) // with rows not understood it stays unknown
	}
	return r, nil
}

// ReceivedRoutesCommand is the command that lists what neighbor addr sent.
func ReceivedRoutesCommand(addr string) string {
	return "show status bgp neighbor " + addr + " received-routes"
}
