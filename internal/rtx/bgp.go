package rtx

import (
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
	// ReceivedPrefixes is -1 when the firmware does not print it.
	ReceivedPrefixes int
}

// Established reports whether the session is up.
func (n BGPNeighbor) Established() bool { return n.State == "Established" }

// BGPStatus is the parsed `show status bgp neighbor`.
type BGPStatus struct {
	Neighbors []BGPNeighbor
	Warnings  []string
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
			st.Warnings = append(st.Warnings, "line "+strconv.Itoa(n)+": before any neighbor: "+s)
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
			st.Warnings = append(st.Warnings, "line "+strconv.Itoa(n)+": not understood: "+s)
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
