// Package strongswan watches a strongSwan customer gateway over its vici
// socket (github.com/strongswan/govici): its connections (list-conns), SAs
// (list-sas) and events (ike-updown, ike-rekey, child-updown, child-rekey,
// and charon's log), with FRR's BGP read by `vtysh` and the tunnel MTU and
// MSS clamp read by `ip -j addr` and `nft -j list ruleset` when available,
// all mapped into vpnwatchd's vendor-neutral gateway.Snapshot. It only
// reads: no vici command it sends changes charon (allowlist).
package strongswan

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/strongswan/govici/vici"
)

// viciCommands are the only vici commands vpnwatchd sends: each lists,
// none changes anything.
var viciCommands = map[string]bool{"list-conns": true, "list-sas": true, "version": true}

// Conn is one connection of list-conns with what vpnwatchd reads.
type Conn struct {
	Name        string
	LocalAddrs  []string
	RemoteAddrs []string
	Version     string
	RekeyTime   time.Duration // IKE SA rekey time
	DPDDelay    time.Duration // 0: DPD off
	Children    []ChildConf
	Unknown     []string // keys of values that could not be read
}

// ChildConf is one child of a connection.
type ChildConf struct {
	Name      string
	RekeyTime time.Duration
	DPDAction string
	LocalTS   []string
	RemoteTS  []string
}

// IKESA is one IKE SA of list-sas.
type IKESA struct {
	Conn       string
	UniqueID   int
	State      string
	LocalHost  string
	RemoteHost string
	NAT        bool
	EncrAlg    string
	EncrKey    string
	IntegAlg   string
	DHGroup    string
	Children   []ChildSA
}

// ChildSA is one child SA.
type ChildSA struct {
	Name      string
	UniqueID  int
	State     string // INSTALLED, REKEYED, DELETED, …
	EncrAlg   string
	EncrKey   string
	IntegAlg  string
	Encap     bool
	Installed time.Duration // seconds since install
	RekeyIn   time.Duration // -1s: no rekey scheduled
	ExpiresIn time.Duration
	PacketsIn int64
	LocalTS   []string
	RemoteTS  []string
}

// Live reports whether the child SA carries traffic: installed, being
// rekeyed (REKEYING: the old SA still carries traffic while its successor
// is negotiated), replaced but not yet deleted (REKEYED), or having its
// addresses updated (UPDATING, MOBIKE). A listing taken in the middle of a
// rekey may show only the REKEYING one (seen with charon 5.9.8: a
// "no child SA" tunnel for one poll during healthy rekeys).
func (c ChildSA) Live() bool {
	switch c.State {
	case "INSTALLED", "REKEYING", "REKEYED", "UPDATING":
		return true
	}
	return false
}

// dialer opens the vici socket.
type dialer func(ctx context.Context) (net.Conn, error)

// session opens a vici session through dial.
func session(ctx context.Context, dial dialer) (*vici.Session, error) {
	conn, err := dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("open vici socket: %w", err)
	}
	// govici dials by itself; hand it the connection already made.
	used := false
	s, err := vici.NewSession(vici.WithDialContext(func(context.Context, string, string) (net.Conn, error) {
		if used {
			return nil, errors.New("vici: connection already used")
		}
		used = true
		return conn, nil
	}))
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("open vici session: %w", err)
	}
	return s, nil
}

// stream runs an allowlisted streaming vici command. It does not use
// govici's CallStreaming: in v0.8.0 that waits on its event and response
// channels in one select, so when the command's response is already there
// it may end before reading events queued before it, and a listing loses
// connections (seen: one of two, at random). Instead the session
// subscribes to the command's event itself: govici's reader hands every
// event to the subscriber before the response that follows it on the
// socket, so once Call returns, all of them are in the channel.
func stream(ctx context.Context, s *vici.Session, cmd, event string) ([]*vici.Message, error) {
	if !viciCommands[cmd] {
		return nil, fmt.Errorf("vici %s: not an allowlisted read-only command", cmd)
	}
	ch := make(chan vici.Event, maxListed)
	s.NotifyEvents(ch)
	defer s.StopEvents(ch)
	if err := s.Subscribe(event); err != nil {
		return nil, fmt.Errorf("vici %s: register %s: %w", cmd, event, err)
	}
	if _, err := s.Call(ctx, cmd, nil); err != nil {
		return nil, fmt.Errorf("vici %s: %w", cmd, err)
	}
	var out []*vici.Message
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return out, nil
			}
			if ev.Name == event {
				out = append(out, ev.Message)
			}
		default:
			if len(out) == maxListed {
				return nil, fmt.Errorf("vici %s: more than %d entries; vpnwatchd reads at most that many", cmd, maxListed)
			}
			return out, nil
		}
	}
}

// maxListed bounds a listing (govici drops events beyond a full channel,
// so a listing that fills it is refused rather than read short).
const maxListed = 4096

// str, list and sect read one value of a message; a value of another type
// is noted in bad.
func str(m *vici.Message, k string) string {
	v, _ := m.Get(k).(string)
	return v
}

func list(m *vici.Message, k string) []string {
	v, _ := m.Get(k).([]string)
	return v
}

func sect(m *vici.Message, k string) *vici.Message {
	v, _ := m.Get(k).(*vici.Message)
	return v
}

// num reads a number of seconds or a count; ok is false for a value that
// is present but not a number.
func num(m *vici.Message, k string) (int64, bool) {
	s := str(m, k)
	if s == "" {
		return 0, m.Get(k) == nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

func secs(m *vici.Message, k string, bad *[]string) time.Duration {
	n, ok := num(m, k)
	if !ok {
		*bad = append(*bad, k+"="+str(m, k))
	}
	return time.Duration(n) * time.Second
}

// ParseConns reads list-conn events: one message per connection, keyed by
// its name.
func ParseConns(msgs []*vici.Message) []Conn {
	var out []Conn
	for _, m := range msgs {
		for _, name := range m.Keys() {
			c := sect(m, name)
			if c == nil {
				continue
			}
			conn := Conn{Name: name, LocalAddrs: list(c, "local_addrs"), RemoteAddrs: list(c, "remote_addrs"), Version: str(c, "version")}
			conn.RekeyTime = secs(c, "rekey_time", &conn.Unknown)
			if c.Get("dpd_delay") != nil { // absent: 0, off
				conn.DPDDelay = secs(c, "dpd_delay", &conn.Unknown)
			}
			if ch := sect(c, "children"); ch != nil {
				for _, cn := range ch.Keys() {
					cm := sect(ch, cn)
					if cm == nil {
						continue
					}
					cc := ChildConf{Name: cn, DPDAction: str(cm, "dpd_action"), LocalTS: list(cm, "local-ts"), RemoteTS: list(cm, "remote-ts")}
					cc.RekeyTime = secs(cm, "rekey_time", &conn.Unknown)
					conn.Children = append(conn.Children, cc)
				}
			}
			out = append(out, conn)
		}
	}
	return out
}

// ParseSAs reads list-sa events: one message per IKE SA, keyed by its
// connection's name.
func ParseSAs(msgs []*vici.Message) ([]IKESA, []string) {
	var out []IKESA
	var bad []string
	for _, m := range msgs {
		for _, name := range m.Keys() {
			s := sect(m, name)
			if s == nil {
				continue
			}
			ike := IKESA{Conn: name, State: str(s, "state"), LocalHost: str(s, "local-host"), RemoteHost: str(s, "remote-host"),
				NAT: str(s, "nat-any") == "yes", EncrAlg: str(s, "encr-alg"), EncrKey: str(s, "encr-keysize"), IntegAlg: str(s, "integ-alg"), DHGroup: str(s, "dh-group")}
			id, _ := num(s, "uniqueid")
			ike.UniqueID = int(id)
			if cs := sect(s, "child-sas"); cs != nil {
				for _, ck := range cs.Keys() {
					c := sect(cs, ck)
					if c == nil {
						continue
					}
					child := ChildSA{Name: str(c, "name"), State: str(c, "state"), EncrAlg: str(c, "encr-alg"), EncrKey: str(c, "encr-keysize"),
						IntegAlg: str(c, "integ-alg"), Encap: str(c, "encap") == "yes", LocalTS: list(c, "local-ts"), RemoteTS: list(c, "remote-ts")}
					uid, ok := num(c, "uniqueid")
					if !ok || uid == 0 {
						bad = append(bad, fmt.Sprintf("list-sas %s child %s: uniqueid %q", name, ck, str(c, "uniqueid")))
						continue
					}
					child.UniqueID = int(uid)
					child.Installed = secs(c, "install-time", &bad)
					child.ExpiresIn = secs(c, "life-time", &bad)
					if str(c, "rekey-time") != "" {
						child.RekeyIn = secs(c, "rekey-time", &bad)
					} else {
						child.RekeyIn = -time.Second
					}
					child.PacketsIn, _ = num(c, "packets-in")
					ike.Children = append(ike.Children, child)
				}
			}
			out = append(out, ike)
		}
	}
	slices.SortFunc(out, func(a, b IKESA) int { return strings.Compare(a.Conn, b.Conn) })
	return out, bad
}
