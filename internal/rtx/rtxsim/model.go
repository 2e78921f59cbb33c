// Package rtxsim is an SSH server that behaves like a Yamaha RTX router's
// console, for tests and the demo: login, the ">" prompt, the pager until
// `console lines infinity`, and the show commands vpnwatchd reads, rendered
// from a model of tunnels, IPsec SAs whose lifetimes count down and are
// rekeyed with new SA numbers, BGP neighbors and routes. Faults can be
// scripted: a rekey that fails for good, BGP stuck in Active, slow or
// garbage output, dropped sessions. The clock is the caller's, so a week of
// hourly rekeys can run in seconds.
package rtxsim

import (
	"context"
	"fmt"
	"net"
	"sort"
	"sync"
	"time"
)

// Tunnel is one IPsec tunnel of the simulated router.
type Tunnel struct {
	Number  int
	Gateway int
	// Remote is the AWS outside IP (`ipsec ike remote address`).
	Remote string
	// Neighbor is the BGP neighbor reached through this tunnel (the AWS
	// inside address), and Routes the prefixes it advertises once
	// established.
	Neighbor string
	RemoteAS string
	Routes   []string
	// IPsecLifetime and ISAKMPLifetime are the SA lifetimes the router
	// negotiates.
	IPsecLifetime  time.Duration
	ISAKMPLifetime time.Duration

	online bool
	since  time.Time
	// rekeyFails makes the next rekey fail: the SAs expire without
	// successor, the tunnel goes down and stays down (the seed incident).
	rekeyFails bool
	bgpStuck   string // BGP state to stay in ("Active", "Connect"), "" for normal
	bgpSince   time.Time
}

type sa struct {
	id      int
	gateway int
	isakmp  int
	tunnel  int // 0 for IKE SAs
	dir     string
	expires time.Time
	rekeyAt time.Time
	rekeyed bool
	remote  string
}

// Router is the simulated router's state. Methods are safe for concurrent
// use; time moves only when the caller's clock does.
type Router struct {
	mu      sync.Mutex
	now     func() time.Time
	model   string
	config  string
	tunnels map[int]*Tunnel
	sas     []*sa
	nextSA  int
	// RekeyMargin: a new SA is negotiated this long before the old expires.
	rekeyMargin time.Duration
	localAS     string

	// charset is the router's `console character`: what a session starts
	// with. A session's own `console character` command changes its copy.
	charset string
	// offlineWording is how `show status tunnel` says a tunnel is down;
	// see OfflineWording.
	offlineWording OfflineWording
	// noReceivedRoutes and receivedReply: how the firmware answers `show
	// status bgp neighbor ADDR received-routes`; see SetReceivedRoutes
	// and SetReceivedRoutesReply.
	noReceivedRoutes bool
	receivedReply    string
	// prefixLine prints a "Received prefixes: N" line in established
	// neighbor blocks; see SetPrefixLine.
	prefixLine bool

	syslog     net.Conn      // where to send syslog, when set
	slow       time.Duration // delay per output line
	hung       bool          // commands get no answer at all
	flood      bool          // the next command's output never ends
	garbage    int           // answer the next N commands with garbage
	dropNext   bool          // close the session at the next command
	events     []string      // what happened, for tests and the demo
	happenings []Happening   // the same, structured
}

// New returns a router whose `show config` prints config (a Yamaha config,
// e.g. the AWS sample for RTX) under a header for model.
func New(model, config string, now func() time.Time) *Router {
	if now == nil {
		now = time.Now
	}
	return &Router{now: now, model: model, config: config, tunnels: map[int]*Tunnel{}, nextSA: 1,
		rekeyMargin: 30 * time.Second, localAS: "65000", charset: DefaultCharset}
}

// DefaultCharset is the console character set of a router fresh from the
// factory in Japan: Japanese models answer in Shift_JIS (`ja.sjis`; a
// public RTX830 `show config` carries `console character ja.sjis`, and
// Yamaha's command reference gives ja.sjis as the default of the Japanese
// models). English set-ups use `ascii` or `en.ascii`; `ja.euc` and newer
// firmware's `ja.utf8` exist too. Every one of them is tested.
const DefaultCharset = "ja.sjis"

// Charsets lists the `console character` values the simulator renders.
var Charsets = []string{"ja.sjis", "ja.euc", "ja.utf8", "ascii", "en.ascii"}

// SetConsoleCharacter sets the router's `console character` (ja.sjis,
// ja.euc, ja.utf8, ascii, en.ascii) for the sessions that start after it.
func (r *Router) SetConsoleCharacter(cs string) {
	r.mu.Lock()
	r.charset = cs
	r.mu.Unlock()
}

// OfflineWording is how `show status tunnel` words a tunnel that is down.
// No public sample shows one (shared/notes/rtx.md: "the offline wording is
// not seen"), so the simulator offers every variant and tests run them all.
type OfflineWording int

const (
	// OfflineGuessed is "Current status is Offline." in English and
	// "トンネルインタフェースは接続されていません" in Japanese: the guesses
	// vpnwatchd's parser knows.
	OfflineGuessed OfflineWording = iota
	// OfflineUnknownWords is a wording no parser knows: vpnwatchd must
	// report the tunnel's state as unknown, never as down or up.
	OfflineUnknownWords
)

// SetOfflineWording chooses how a down tunnel is worded.
func (r *Router) SetOfflineWording(w OfflineWording) {
	r.mu.Lock()
	r.offlineWording = w
	r.mu.Unlock()
}

// SetReceivedRoutes says whether the firmware knows `show status bgp
// neighbor ADDR received-routes`. Command lists show the form
// `show status bgp neighbor ${ip-address} ${route-type}` but no public
// sample shows that route-type's values (shared/notes/rtx.md), so both are
// simulated: known (the default, with the layout of the public
// advertised-routes sample) and "Invalid command name".
func (r *Router) SetReceivedRoutes(known bool) {
	r.mu.Lock()
	r.noReceivedRoutes = !known
	r.mu.Unlock()
}

// SetReceivedRoutesReply makes the firmware answer `show status bgp
// neighbor ADDR received-routes` with reply, as firmware that knows `show
// status bgp neighbor` but not this argument does. Field data shows an
// older firmware answering "Error: Invalid parameter", and Japanese
// consoles "エラー: …"; the reply is sent in the session's console
// character set. "" restores the firmware's default answer.
func (r *Router) SetReceivedRoutesReply(reply string) {
	r.mu.Lock()
	r.receivedReply = reply
	r.mu.Unlock()
}

// SetPrefixLine adds a "Received prefixes: N" line to established neighbor
// blocks. No public sample of an established RTX neighbor exists; by
// default none is printed, so vpnwatchd must learn received routes from
// received-routes, not from a line that may not exist.
func (r *Router) SetPrefixLine(on bool) {
	r.mu.Lock()
	r.prefixLine = on
	r.mu.Unlock()
}

// AddTunnel adds a tunnel, brought up at once: IKE and ESP SAs negotiated
// and BGP established (unless stuck).
func (r *Router) AddTunnel(t Tunnel) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t.IPsecLifetime == 0 {
		t.IPsecLifetime = time.Hour
	}
	if t.ISAKMPLifetime == 0 {
		t.ISAKMPLifetime = 8 * time.Hour
	}
	if t.Gateway == 0 {
		t.Gateway = t.Number
	}
	tc := t
	r.tunnels[t.Number] = &tc
	r.connect(&tc, r.now())
}

// SetRekeyMargin sets how long before expiry an SA is rekeyed.
func (r *Router) SetRekeyMargin(d time.Duration) {
	r.mu.Lock()
	r.rekeyMargin = d
	r.mu.Unlock()
}

func (r *Router) newSA(gw, isakmp, tunnel int, dir, remote string, life time.Duration, now time.Time) *sa {
	s := &sa{id: r.nextSA, gateway: gw, isakmp: isakmp, tunnel: tunnel, dir: dir, remote: remote,
		expires: now.Add(life), rekeyAt: now.Add(life - r.rekeyMargin)}
	r.nextSA++
	r.sas = append(r.sas, s)
	return s
}

// connect negotiates IKE and a pair of ESP SAs and brings the tunnel up.
func (r *Router) connect(t *Tunnel, now time.Time) {
	ike := r.newSA(t.Gateway, 0, 0, "", t.Remote, t.ISAKMPLifetime, now)
	r.newSA(t.Gateway, ike.id, t.Number, "send", t.Remote, t.IPsecLifetime, now)
	r.newSA(t.Gateway, ike.id, t.Number, "recv", t.Remote, t.IPsecLifetime, now)
	t.online, t.since, t.bgpSince = true, now, now
	r.event(now, Happening{Tunnel: t.Number, What: TunnelUp}, fmt.Sprintf("tunnel %d up", t.Number), fmt.Sprintf("IP Tunnel[%d] Up", t.Number))
}

// advance plays the SA lifecycle up to now: rekeys before expiry (new SA
// numbers, fresh lifetimes), expiry of old SAs, and a tunnel going down when
// its last ESP SA expires without a successor.
func (r *Router) advance() {
	now := r.now()
	for guard := 0; guard < 100000; guard++ {
		// The earliest due event.
		var next *sa
		var at time.Time
		var rekey bool
		for _, s := range r.sas {
			if !s.rekeyed && !s.rekeyAt.After(now) && (next == nil || s.rekeyAt.Before(at)) {
				next, at, rekey = s, s.rekeyAt, true
			}
			if !s.expires.After(now) && (next == nil || s.expires.Before(at)) {
				next, at, rekey = s, s.expires, false
			}
		}
		if next == nil {
			return
		}
		if rekey {
			r.rekey(next, at)
		} else {
			r.expire(next, at)
		}
	}
}

func (r *Router) rekey(s *sa, at time.Time) {
	s.rekeyed = true
	if s.tunnel == 0 { // IKE SA
		t := r.tunnelByGateway(s.gateway)
		if t == nil || !t.online || t.rekeyFails {
			return
		}
		// ESP SAs keep their old parent number until they expire.
		r.newSA(s.gateway, 0, 0, "", s.remote, t.ISAKMPLifetime, at)
		return
	}
	t := r.tunnels[s.tunnel]
	if t == nil || !t.online {
		return
	}
	if t.rekeyFails {
		r.event(at, Happening{Tunnel: t.Number, What: RekeyFailed}, fmt.Sprintf("tunnel %d rekey failed (SA %d)", t.Number, s.id), fmt.Sprintf("[IKE] initiate IPsec phase to %s", s.remote))
		return
	}
	if s.dir != "send" {
		return // the pair is renewed once, from the send SA
	}
	ike := r.currentIKE(s.gateway, at)
	r.newSA(s.gateway, ike, t.Number, "send", s.remote, t.IPsecLifetime, at)
	r.newSA(s.gateway, ike, t.Number, "recv", s.remote, t.IPsecLifetime, at)
	r.event(at, Happening{Tunnel: t.Number, What: Rekeyed}, fmt.Sprintf("tunnel %d rekeyed", t.Number), "")
}

func (r *Router) expire(s *sa, at time.Time) {
	r.sas = deleteSA(r.sas, s)
	if s.tunnel == 0 {
		return
	}
	t := r.tunnels[s.tunnel]
	if t == nil || !t.online {
		return
	}
	for _, o := range r.sas {
		if o.tunnel == t.Number {
			return // a successor carries the tunnel
		}
	}
	t.online, t.since = false, at
	// Without the tunnel, the IKE SAs of its gateway go too.
	var keep []*sa
	for _, o := range r.sas {
		if !(o.tunnel == 0 && o.gateway == t.Gateway) {
			keep = append(keep, o)
		}
	}
	r.sas = keep
	r.event(at, Happening{Tunnel: t.Number, What: TunnelDown}, fmt.Sprintf("tunnel %d down", t.Number), fmt.Sprintf("IP Tunnel[%d] Down", t.Number))
}

func deleteSA(list []*sa, s *sa) []*sa {
	for i, o := range list {
		if o == s {
			return append(list[:i:i], list[i+1:]...)
		}
	}
	return list
}

func (r *Router) currentIKE(gw int, at time.Time) int {
	best := 0
	var exp time.Time
	for _, s := range r.sas {
		if s.tunnel == 0 && s.gateway == gw && s.expires.After(at) && s.expires.After(exp) {
			best, exp = s.id, s.expires
		}
	}
	return best
}

func (r *Router) tunnelByGateway(gw int) *Tunnel {
	for _, t := range r.tunnels {
		if t.Gateway == gw {
			return t
		}
	}
	return nil
}

// Happening is one thing that happened to a tunnel, for simulators of the
// other end (the demo's AWS writes its log records from them).
type Happening struct {
	At       time.Time
	Tunnel   int
	What     string // TunnelUp, TunnelDown, Rekeyed, RekeyFailed, BGPChanged
	From, To string // BGP states of BGPChanged
}

// What happened.
const (
	TunnelUp    = "up"
	TunnelDown  = "down"
	Rekeyed     = "rekeyed"
	RekeyFailed = "rekey-failed"
	BGPChanged  = "bgp"
)

// Happenings returns what happened from the i-th happening on (0: all).
func (r *Router) Happenings(i int) []Happening {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.advance()
	if i >= len(r.happenings) {
		return nil
	}
	return append([]Happening(nil), r.happenings[i:]...)
}

// event records what happened and, with syslog on, sends the RTX log line
// for it ("" sends nothing).
func (r *Router) event(at time.Time, h Happening, what, logLine string) {
	h.At = at
	r.happenings = append(r.happenings, h)
	r.events = append(r.events, at.Format(time.RFC3339)+" "+what)
	if r.syslog != nil && logLine != "" {
		// <190> is local7.info, RTX's default facility and level.
		r.syslog.Write([]byte("<190>" + logLine))
	}
}

// SendSyslog makes the router send its log lines (tunnel up/down, IKE) over
// UDP to addr, as `syslog host ADDR` does on an RTX.
func (r *Router) SendSyslog(addr string) error {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return fmt.Errorf("rtxsim: syslog: %w", err)
	}
	r.mu.Lock()
	r.syslog = c
	r.mu.Unlock()
	return nil
}

// Tick moves the model along the clock every interval until ctx ends, so
// that events (and their syslog lines) happen when they are due rather than
// at the next command.
func (r *Router) Tick(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.mu.Lock()
			r.advance()
			r.mu.Unlock()
		}
	}
}

// FailRekey makes tunnel n's next rekey fail for good, as in the seed
// incident: the SAs expire, the tunnel goes down and does not come back.
func (r *Router) FailRekey(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t := r.tunnels[n]; t != nil {
		t.rekeyFails = true
	}
}

// Reconnect brings a down tunnel up again (as recreating the VPN did in the
// seed incident) and clears its rekey fault.
func (r *Router) Reconnect(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.advance()
	if t := r.tunnels[n]; t != nil && !t.online {
		t.rekeyFails = false
		r.connect(t, r.now())
	}
}

// Disconnect takes tunnel n down at once, its SAs deleted, as when the
// router's WAN address changes under it. Reconnect brings it back.
func (r *Router) Disconnect(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.advance()
	t := r.tunnels[n]
	if t == nil || !t.online {
		return
	}
	var keep []*sa
	for _, s := range r.sas {
		if s.tunnel != n && !(s.tunnel == 0 && s.gateway == t.Gateway) {
			keep = append(keep, s)
		}
	}
	r.sas = keep
	t.online, t.since = false, r.now()
	r.event(r.now(), Happening{Tunnel: n, What: TunnelDown}, fmt.Sprintf("tunnel %d disconnected", n), fmt.Sprintf("IP Tunnel[%d] Down", n))
}

// StickBGP keeps tunnel n's BGP session in state (Active, Connect, Idle);
// "" lets it establish.
func (r *Router) StickBGP(n int, state string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t := r.tunnels[n]; t != nil {
		before := t.bgpState()
		t.bgpStuck = state
		t.bgpSince = r.now()
		if after := t.bgpState(); after != before {
			// The wording is a guess (no public RTX sample of a BGP state
			// change); vpnwatchd keys on the "[BGP]" prefix only.
			r.event(r.now(), Happening{Tunnel: n, What: BGPChanged, From: before, To: after}, fmt.Sprintf("tunnel %d BGP %s", n, after),
				fmt.Sprintf("[BGP] neighbor %s state changed from %s to %s", t.Neighbor, before, after))
		}
	}
}

// SetRoutes replaces the prefixes tunnel n's BGP neighbor advertises (nil:
// an established session that sends nothing).
func (r *Router) SetRoutes(n int, routes []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t := r.tunnels[n]; t != nil {
		t.Routes = routes
	}
}

// SetSlow delays every output line by d.
func (r *Router) SetSlow(d time.Duration) {
	r.mu.Lock()
	r.slow = d
	r.mu.Unlock()
}

// Hang makes the router take commands and never answer them (a wedged
// console): the session stays open and silent until the client closes it.
func (r *Router) Hang() {
	r.mu.Lock()
	r.hung = true
	r.mu.Unlock()
}

// Flood makes the router answer the next command with output that never
// ends and never returns the prompt (a wedged firmware, a hostile peer).
func (r *Router) Flood() {
	r.mu.Lock()
	r.flood = true
	r.mu.Unlock()
}

// Garbage answers the next n commands with unreadable output.
func (r *Router) Garbage(n int) {
	r.mu.Lock()
	r.garbage = n
	r.mu.Unlock()
}

// DropNext closes the SSH session when the next command arrives.
func (r *Router) DropNext() {
	r.mu.Lock()
	r.dropNext = true
	r.mu.Unlock()
}

// SetConfig replaces the text `show config` prints.
func (r *Router) SetConfig(config string) {
	r.mu.Lock()
	r.config = config
	r.mu.Unlock()
}

// Events returns what happened so far (tunnels up/down, rekeys).
func (r *Router) Events() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.advance()
	return append([]string(nil), r.events...)
}

// Online reports whether tunnel n is up now.
func (r *Router) Online(n int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.advance()
	t := r.tunnels[n]
	return t != nil && t.online
}

// BGPState returns the state tunnel n's BGP session shows now.
func (r *Router) BGPState(n int) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.advance()
	if t := r.tunnels[n]; t != nil {
		return t.bgpState()
	}
	return ""
}

func (r *Router) sortedTunnels() []*Tunnel {
	out := make([]*Tunnel, 0, len(r.tunnels))
	for _, t := range r.tunnels {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out
}

// bgpState is the state a tunnel's BGP session shows now.
func (t *Tunnel) bgpState() string {
	switch {
	case !t.online:
		return "Active"
	case t.bgpStuck != "":
		return t.bgpStuck
	}
	return "Established"
}
