package rtx

import (
	"regexp"
	"strconv"
	"strings"
)

// Route is one row of `show ip route`.
type Route struct {
	Destination string
	Gateway     string
	Interface   string
	Kind        string // static, implicit, temporary, OSPF, BGP, RIP
	Info        string
	// Tunnel is N for routes out of TUNNEL[N], else 0.
	Tunnel int
}

// RouteTable is the parsed `show ip route`.
type RouteTable struct {
	Routes   []Route
	Warnings []Unreadable
}

var routeTunnelRE = regexp.MustCompile(`^TUNNEL\[(\d+)\]$`)

var routeKinds = map[string]bool{"static": true, "implicit": true, "temporary": true, "OSPF": true, "BGP": true, "RIP": true}

// ParseIPRoute reads `show ip route` (English or Japanese header):
//
//	Destination         Gateway          Interface       Kind  Additional Info.
//	default             ***.***.***.***   LAN3(DHCP)    static
//	10.0.0.0/16         169.254.255.1    TUNNEL[1]       BGP  path=10124
//
// The layout of `show ip route summary` is not known, so routes are counted
// from this table.
func ParseIPRoute(text string) (RouteTable, error) {
	const cmd = "show ip route"
	var t RouteTable
	header := false
	for i, line := range lines(text) {
		n := i + 1
		s := strings.TrimSpace(line)
		if strings.HasPrefix(s, "Destination") || strings.HasPrefix(s, "宛先") {
			header = true
			continue
		}
		if s == "" || strings.HasPrefix(s, "# source:") || isEcho(s, cmd) {
			continue
		}
		f := strings.Fields(s)
		if len(f) < 4 || !routeKinds[f[3]] {
			if len(f) >= 1 && (f[0] == "default" || strings.Contains(f[0], "/")) {
				return t, &ParseError{cmd, n, s, "a route row needs destination, gateway, interface and kind"}
			}
			t.Warnings = append(t.Warnings, Unreadable{cmd, n, s})
			continue
		}
		r := Route{Destination: intern(f[0]), Gateway: intern(f[1]), Interface: intern(f[2]), Kind: intern(f[3]), Info: intern(strings.Join(f[4:], " "))}
		if m := routeTunnelRE.FindStringSubmatch(r.Interface); m != nil {
			r.Tunnel, _ = strconv.Atoi(m[1])
		}
		t.Routes = append(t.Routes, r)
	}
	if !header && len(t.Routes) == 0 {
		return t, &ParseError{cmd, 1, firstLine(text), "not the output of show ip route (no header or route row)"}
	}
	return t, nil
}

// BGPRoutesByTunnel counts the BGP routes out of each tunnel interface.
func (t RouteTable) BGPRoutesByTunnel() map[int]int {
	out := map[int]int{}
	for _, r := range t.Routes {
		if r.Kind == "BGP" && r.Tunnel > 0 {
			out[r.Tunnel]++
		}
	}
	return out
}
