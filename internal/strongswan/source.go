package strongswan

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/strongswan/govici/vici"
	"go.uber.org/zap"

	"github.com/vpnwatchd/vpnwatchd/internal/config"
	"github.com/vpnwatchd/vpnwatchd/internal/gateway"
	"github.com/vpnwatchd/vpnwatchd/internal/sshlogin"
)

// Options configure one strongSwan gateway's source.
type Options struct {
	Name string
	// Socket is the vici socket's path (unix:// prefix allowed); on the
	// gateway when SSH is set.
	Socket string
	// SSH, when set, reaches the gateway over SSH: vici through
	// stream-local forwarding, the read-only commands as exec requests.
	SSH *sshlogin.Config
	// Timeout bounds each read (10 s).
	Timeout time.Duration
	// FRR reads BGP with `vtysh -c 'show bgp ipv4 unicast summary json'`;
	// VtySocket is vtysh's --vty_socket directory ("" for FRR's default).
	FRR       bool
	VtySocket string
	// NetNS runs the read-only ip, nft and vtysh commands in a named
	// network namespace (when charon runs in one); "" for the host's.
	NetNS  string
	Logger *zap.Logger
	Now    func() time.Time
	// LogKept bounds the log lines kept per connection (50).
	LogKept int
	// History carries the SA history (rekeys counted, when SAs ran out)
	// over from an earlier source of the same gateway, after a reload.
	History *gateway.SAHistory
	// OnConnect hears each SSH login to a remote gateway: "ok" or "error".
	OnConnect func(result string)
}

// Source reads one strongSwan gateway.
type Source struct {
	opts    Options
	via     transport
	history *gateway.SAHistory

	mu   sync.Mutex
	log  map[string][]gateway.LogLine // connection → recent events and log lines
	last Outputs                      // the last poll's raw answers
}

// New returns the gateway's source.
func New(opts Options) *Source {
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.LogKept <= 0 {
		opts.LogKept = 50
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	socket := strings.TrimPrefix(opts.Socket, "unix://")
	var via transport = local{socket: socket, netns: opts.NetNS}
	if opts.SSH != nil {
		via = &remote{login: *opts.SSH, socket: socket, onConnect: opts.OnConnect}
	}
	history := opts.History
	if history == nil {
		history = &gateway.SAHistory{}
	}
	return &Source{opts: opts, via: via, history: history, log: map[string][]gateway.LogLine{}}
}

// History returns the source's SA history, for a source that replaces it.
func (s *Source) History() *gateway.SAHistory { return s.history }

// OptionsFor are the options of a configured gateway.
func OptionsFor(g config.StrongSwan) Options {
	o := Options{Name: g.Name, Socket: g.Vici, FRR: g.FRR, VtySocket: g.VtySocket, NetNS: g.NetNS, Timeout: g.Timeout}
	if r, ok := g.Remote(); ok {
		o.Socket = r.Path
		o.SSH = &sshlogin.Config{Address: r.Address, User: r.User, Password: g.Password.Reveal(),
			PrivateKey: []byte(g.PrivateKey.Reveal()), Passphrase: []byte(g.PrivateKeyPassphrase.Reveal()),
			KnownHosts: g.KnownHosts, Timeout: g.Timeout}
	}
	return o
}

// Close ends the SSH connection of a remote gateway.
func (s *Source) Close() { s.via.close() }

// run runs a read-only command on the gateway within the timeout.
func (s *Source) run(ctx context.Context, c command) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	return s.via.run(ctx, c)
}

// Poll reads the gateway once.
func (s *Source) Poll(ctx context.Context) gateway.Snapshot {
	start := s.opts.Now()
	outs, err := s.gather(ctx)
	var snap gateway.Snapshot
	if err == nil {
		snap, err = Build(s.opts.Name, outs, start)
	}
	if err != nil {
		snap = gateway.Snapshot{Source: config.StrongSwanSource(s.opts.Name), TakenAt: start, Dialect: Dialect(),
			Err: fmt.Errorf("strongswan %s: %w", s.opts.Name, err)}
	} else {
		s.history.Apply(&snap)
	}
	snap.Took = s.opts.Now().Sub(start)
	s.mu.Lock()
	s.last = outs
	s.mu.Unlock()
	return snap
}

// LastOutputs returns the raw answers of the last poll, for a support
// bundle; nil before the first.
func (s *Source) LastOutputs() Outputs {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// gather reads everything a snapshot is built from; only the vici
// listings must succeed, a command that fails is noted in its
// FILE+ErrorSuffix.
func (s *Source) gather(ctx context.Context) (Outputs, error) {
	outs := Outputs{}
	cm, err := s.list(ctx, "list-conns", "list-conn")
	if err != nil {
		return nil, err
	}
	outs[FileConns] = EncodeMessages(cm)
	sm, err := s.list(ctx, "list-sas", "list-sa")
	if err != nil {
		return nil, err
	}
	outs[FileSAs] = EncodeMessages(sm)
	cmds := map[string]command{FileAddresses: cmdAddresses, FileRuleset: cmdRuleset}
	if s.opts.FRR {
		cmds[FileBGP] = bgpSummary(s.opts.VtySocket)
	}
	for file, c := range cmds {
		if out, err := s.run(ctx, c); err != nil {
			outs[file+ErrorSuffix] = []byte(err.Error())
		} else {
			outs[file] = out
		}
	}
	s.mu.Lock()
	events, _ := json.Marshal(s.log)
	s.mu.Unlock()
	outs[FileEvents] = events
	return outs, nil
}

// Build makes a snapshot of a poll's raw answers: the one way from
// strongSwan's words to gateway terms, live or from a support bundle. An
// error names the file that cannot be read; the SA history is the
// caller's to apply.
func Build(name string, outs Outputs, takenAt time.Time) (gateway.Snapshot, error) {
	snap := gateway.Snapshot{Source: config.StrongSwanSource(name), TakenAt: takenAt, Dialect: Dialect()}
	listing := func(file string) ([]*vici.Message, error) {
		data, ok := outs[file]
		if !ok {
			if e, ok := failed(outs, file); ok {
				return nil, fmt.Errorf("%s: %s", file, e)
			}
			return nil, fmt.Errorf("no %s", file)
		}
		msgs, err := DecodeMessages(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		return msgs, nil
	}
	cm, err := listing(FileConns)
	if err != nil {
		return snap, err
	}
	sm, err := listing(FileSAs)
	if err != nil {
		return snap, err
	}
	sas, bad := ParseSAs(sm)
	for _, b := range bad {
		snap.Warnings = append(snap.Warnings, gateway.Unreadable{Command: "list-sas", Text: b})
	}
	conns := ParseConns(cm)
	for _, c := range conns {
		for _, u := range c.Unknown {
			snap.Warnings = append(snap.Warnings, gateway.Unreadable{Command: "list-conns", Text: c.Name + ": " + u})
		}
	}
	// read parses one command's output, or says why it cannot be used.
	read := func(file, what string, parse func([]byte) error) bool {
		data, ok := outs[file]
		switch {
		case ok:
			if err := parse(data); err != nil {
				snap.Unchecked = append(snap.Unchecked, what+" not read: "+err.Error())
				return false
			}
			return true
		default:
			if e, ok := failed(outs, file); ok {
				snap.Unchecked = append(snap.Unchecked, what+" not read: "+e)
			} else {
				snap.Unchecked = append(snap.Unchecked, what+" not read: no "+file)
			}
			return false
		}
	}
	var links []link
	haveLinks := read(FileAddresses, "tunnel MTU", func(b []byte) error {
		if err := json.Unmarshal(b, &links); err != nil {
			return fmt.Errorf("ip -j addr: %w", err)
		}
		return nil
	})
	var mss int
	var mssAuto bool
	haveMSS := read(FileRuleset, "MSS clamping", func(b []byte) (err error) {
		mss, mssAuto, err = ParseMSSClamp(b)
		return err
	})
	_, frr := outs[FileBGP]
	if _, failedFRR := failed(outs, FileBGP); frr || failedFRR {
		read(FileBGP, "BGP (FRR)", func(b []byte) (err error) {
			snap.BGP, snap.Peers, err = ParseBGPSummary(b)
			return err
		})
	}
	var events map[string][]gateway.LogLine
	if data, ok := outs[FileEvents]; ok {
		if err := json.Unmarshal(data, &events); err != nil {
			snap.Unchecked = append(snap.Unchecked, "gateway events not read: "+FileEvents+": "+err.Error())
		}
	}
	for _, c := range conns {
		t := tunnelOf(c, sas)
		t.Log = events[c.Name]
		if haveLinks {
			t.Settings.MTU = tunnelMTU(links, c, t)
		}
		if haveMSS {
			t.Settings.MSS, t.Settings.MSSAuto, t.Settings.MSSKnown = mss, mssAuto, mss > 0 || mssAuto
		}
		for i := range snap.Peers {
			if inTS(snap.Peers[i].Address, c) {
				t.BGP = &snap.Peers[i]
			}
		}
		snap.Tunnels = append(snap.Tunnels, t)
	}
	return snap, nil
}

// list runs one streaming command on a session of its own.
func (s *Source) list(ctx context.Context, cmd, event string) ([]*vici.Message, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	sess, err := session(ctx, s.via.dial)
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	return stream(ctx, sess, cmd, event)
}

// tunnelOf maps one connection and its SAs to a gateway tunnel: AWS's
// tunnel is one IKE connection with one child.
func tunnelOf(c Conn, sas []IKESA) gateway.Tunnel {
	t := gateway.Tunnel{Name: c.Name, State: "no IKE SA", Known: true, RxPackets: -1, InstalledRoutes: -1}
	if len(c.RemoteAddrs) > 0 {
		t.RemoteAddress = c.RemoteAddrs[0]
	}
	if len(c.LocalAddrs) > 0 && c.LocalAddrs[0] != "%any" {
		t.LocalAddress = c.LocalAddrs[0]
	}
	st := &t.Settings
	st.IKELifetime = c.RekeyTime
	// list-conns leaves dpd_delay out when it is 0, DPD's default: off
	// (charon 5.9.8, testdata/list-conns-dpd.json).
	st.DPD = gateway.DPD{Known: true, Enabled: c.DPDDelay > 0, Interval: c.DPDDelay, Text: "off (no dpd_delay)"}
	if c.DPDDelay > 0 {
		st.DPD.Text = fmt.Sprintf("dpd_delay = %s", seconds(c.DPDDelay))
		for _, ch := range c.Children {
			if ch.DPDAction != "" {
				st.DPD.Text += ", dpd_action = " + ch.DPDAction
			}
		}
	}
	st.NATTraversal = true // kernel-libipsec and most NAT setups encapsulate; refined by the SA below
	// A connection may have two IKE SAs for a moment (an IKE rekey, a
	// rekey collision between two ends on one schedule): the tunnel is what
	// the best of them says — established with a live child SA, else
	// established, else any — and its child SAs are those of all of them.
	rank := func(s *IKESA) int {
		r := 0
		if s.State == "ESTABLISHED" {
			r += 2
		}
		if slices.ContainsFunc(s.Children, ChildSA.Live) {
			r++
		}
		return r
	}
	var ike *IKESA
	var children []ChildSA
	for i := range sas {
		if sas[i].Conn != c.Name {
			continue
		}
		children = append(children, sas[i].Children...)
		if ike == nil || rank(&sas[i]) > rank(ike) {
			ike = &sas[i]
		}
	}
	if ike == nil {
		return t
	}
	t.State = ike.State
	if ike.LocalHost != "" {
		t.LocalAddress = ike.LocalHost
	}
	st.IKEEncryption, st.IKEHash, st.IKEGroup = strings.TrimSpace(ike.EncrAlg+" "+ike.EncrKey), ike.IntegAlg, ike.DHGroup
	var rx int64
	live := false
	for _, ch := range children {
		if !ch.Live() {
			continue
		}
		live = true
		rx += ch.PacketsIn
		st.ESPEncryption, st.ESPAuth, st.NATTraversal = espName(ch.EncrAlg), strings.ToLower(ch.IntegAlg), ch.Encap
		if life := ch.Installed + ch.ExpiresIn; life > st.ChildLifetime {
			st.ChildLifetime = life
		}
		for _, dir := range []string{"send", "recv"} {
			t.SAs = append(t.SAs, gateway.SA{ID: ch.UniqueID, Direction: dir, Remaining: ch.ExpiresIn})
		}
	}
	if live {
		t.State += "/INSTALLED"
		t.Up = ike.State == "ESTABLISHED"
		t.RxPackets = rx
	} else {
		t.State += "/no child SA"
	}
	return t
}

// espName renders an ESP cipher as the MTU tables name them ("aes-cbc").
func espName(alg string) string {
	a := strings.ToLower(strings.ReplaceAll(alg, "_", "-"))
	if strings.HasPrefix(a, "aes-gcm") {
		return "aes-gcm"
	}
	return a
}

// inTS reports whether addr is inside one of the connection's remote
// traffic selectors other than 0.0.0.0/0 (a BGP neighbor through it).
func inTS(addr string, c Conn) bool {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	for _, ch := range c.Children {
		for _, ts := range ch.RemoteTS {
			if p, err := netip.ParsePrefix(ts); err == nil && p.Bits() > 0 && p.Contains(a) {
				return true
			}
		}
	}
	return false
}

// link is one interface of `ip -j addr`.
type link struct {
	IfName   string `json:"ifname"`
	MTU      int    `json:"mtu"`
	AddrInfo []struct {
		Local string `json:"local"`
	} `json:"addr_info"`
	LinkInfo struct {
		Kind string `json:"info_kind"`
	} `json:"linkinfo"`
}

// tunnelMTU is the MTU of the interface that carries the tunnel's inside
// traffic: the one (not lo) holding an address of the child's local
// traffic selector, else libipsec's TUN device ipsec0, else a route-based
// tunnel interface (vti, xfrm) holding one; 0 when none is found.
func tunnelMTU(ls []link, c Conn, t gateway.Tunnel) int {
	var local []netip.Prefix
	for _, ch := range c.Children {
		for _, ts := range ch.LocalTS {
			if p, err := netip.ParsePrefix(ts); err == nil && p.Bits() > 0 {
				local = append(local, p)
			}
		}
	}
	for _, l := range ls {
		if l.IfName == "lo" {
			continue
		}
		for _, a := range l.AddrInfo {
			if ip, err := netip.ParseAddr(a.Local); err == nil {
				for _, p := range local {
					if p.Contains(ip) {
						return l.MTU
					}
				}
			}
		}
	}
	for _, l := range ls {
		if l.IfName == "ipsec0" {
			return l.MTU
		}
	}
	return 0
}

// ParseMSSClamp reads `nft -j list ruleset` for MSS clamping rules.
func ParseMSSClamp(out []byte) (int, bool, error) {
	var doc struct {
		Nftables []map[string]json.RawMessage `json:"nftables"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return 0, false, fmt.Errorf("nft -j list ruleset: %w", err)
	}
	mss, auto := 0, false
	for _, item := range doc.Nftables {
		raw, ok := item["rule"]
		if !ok {
			continue
		}
		var rule struct {
			Expr []map[string]json.RawMessage `json:"expr"`
		}
		if json.Unmarshal(raw, &rule) != nil {
			continue
		}
		for _, e := range rule.Expr {
			m, ok := e["mangle"]
			if !ok {
				continue
			}
			var mg struct {
				Key struct {
					TCPOption *struct {
						Name  string `json:"name"`
						Field string `json:"field"`
					} `json:"tcp option"`
				} `json:"key"`
				Value json.RawMessage `json:"value"`
			}
			if json.Unmarshal(m, &mg) != nil || mg.Key.TCPOption == nil || mg.Key.TCPOption.Name != "maxseg" {
				continue
			}
			if n, err := strconv.Atoi(string(mg.Value)); err == nil {
				if mss == 0 || n < mss {
					mss = n
				}
			} else if strings.Contains(string(mg.Value), "mtu") {
				auto = true
			}
		}
	}
	if mss > 0 {
		return mss, false, nil
	}
	return 0, auto, nil
}

// ParseBGPSummary reads `show bgp ipv4 unicast summary json` (FRR 8).
func ParseBGPSummary(out []byte) (gateway.BGPConfig, []gateway.BGPNeighbor, error) {
	var doc struct {
		AS    json.Number `json:"as"`
		Peers map[string]struct {
			RemoteAS json.Number `json:"remoteAs"`
			State    string      `json:"state"`
			PfxRcd   *int        `json:"pfxRcd"`
		} `json:"peers"`
	}
	var wrapped map[string]json.RawMessage
	if err := json.Unmarshal(out, &wrapped); err != nil {
		return gateway.BGPConfig{}, nil, fmt.Errorf("vtysh show bgp summary json: %w", err)
	}
	body := out
	if v, ok := wrapped["ipv4Unicast"]; ok {
		body = v
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return gateway.BGPConfig{}, nil, fmt.Errorf("vtysh show bgp summary json: %w", err)
	}
	cfg := gateway.BGPConfig{Known: true, Use: doc.AS != "", AS: doc.AS.String()}
	var peers []gateway.BGPNeighbor
	for _, addr := range slices.Sorted(maps.Keys(doc.Peers)) {
		p := doc.Peers[addr]
		n := gateway.BGPNeighbor{Address: addr, RemoteAS: p.RemoteAS.String(), State: p.State, Established: p.State == "Established", ReceivedPrefixes: -1}
		if p.PfxRcd != nil {
			n.ReceivedPrefixes = *p.PfxRcd
		}
		peers = append(peers, n)
		cfg.Neighbors = append(cfg.Neighbors, gateway.NeighborConfig{Address: addr, RemoteAS: n.RemoteAS})
	}
	return cfg, peers, nil
}

// Events are the vici events vpnwatchd listens to.
var Events = []string{"ike-updown", "ike-rekey", "child-updown", "child-rekey", "log"}

// Watch listens to the gateway's events until ctx ends, reconnecting
// after a failure; each state change calls changed with its connection's
// name, and upDown set when an SA went up or down rather than rekeyed
// (the daemon polls the gateway then, as for an RTX's syslog, and AWS's
// side too for up and down). The events and charon's log lines about IKE
// are kept per connection for the findings' evidence and the timeline.
func (s *Source) Watch(ctx context.Context, changed func(conn string, upDown bool)) {
	for ctx.Err() == nil {
		err := s.watchOnce(ctx, changed)
		if ctx.Err() != nil {
			return
		}
		s.opts.Logger.Warn("strongswan events lost; reconnecting", zap.String("gateway", s.opts.Name), zap.Error(err))
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
		}
	}
}

func (s *Source) watchOnce(ctx context.Context, changed func(string, bool)) error {
	// One session per event: govici v0.8.0 holds its event lock while it
	// registers an event, so an event of a type registered earlier on the
	// same session arriving meanwhile deadlocks it (seen with "log").
	ch := make(chan vici.Event, 256)
	ended := make(chan string, len(Events))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, name := range Events {
		sess, err := session(ctx, s.via.dial)
		if err != nil {
			return err
		}
		defer sess.Close()
		own := make(chan vici.Event, 64) // govici closes it when the session ends
		sess.NotifyEvents(own)
		if err := sess.Subscribe(name); err != nil {
			return fmt.Errorf("vici subscribe %s: %w", name, err)
		}
		go func() {
			for ev := range own {
				select {
				case ch <- ev:
				case <-ctx.Done():
				}
			}
			ended <- name
		}()
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case name := <-ended:
			return fmt.Errorf("vici %s event stream closed", name)
		case ev := <-ch:
			if conn, line, state := describe(ev); conn != "" {
				down := (ev.Name == "ike-updown" || ev.Name == "child-updown") && str(ev.Message, "up") != "yes"
				s.note(conn, gateway.LogLine{Time: ev.Timestamp, Text: line, Down: down})
				if state {
					changed(conn, ev.Name == "ike-updown" || ev.Name == "child-updown")
				}
			}
		}
	}
}

// note keeps a log line for a connection.
func (s *Source) note(conn string, l gateway.LogLine) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ls := append(s.log[conn], l)
	s.log[conn] = ls[max(0, len(ls)-s.opts.LogKept):]
}

// describe renders an event as a log line for its connection; state is
// set for events that change a tunnel's state.
func describe(ev vici.Event) (conn, line string, state bool) {
	m := ev.Message
	if m == nil {
		return "", "", false
	}
	if ev.Name == "log" {
		// Only IKE-level messages of an IKE SA, at level 0–1: what an
		// operator reads in charon's log ("giving up after 5 retransmits").
		lvl, _ := strconv.Atoi(str(m, "level"))
		if str(m, "ikesa-name") == "" || lvl > 1 || (str(m, "group") != "IKE" && str(m, "group") != "CHD") {
			return "", "", false
		}
		return str(m, "ikesa-name"), "charon: " + str(m, "msg"), false
	}
	for _, k := range m.Keys() {
		s := sect(m, k)
		if s == nil {
			continue
		}
		up := str(m, "up") == "yes"
		what := map[string]string{"ike-updown": "IKE SA", "child-updown": "child SA", "ike-rekey": "IKE SA rekeyed", "child-rekey": "child SA rekeyed"}[ev.Name]
		switch ev.Name {
		case "ike-updown", "child-updown":
			word := "down"
			if up {
				word = "up"
			}
			return k, fmt.Sprintf("vici %s: %s %s (IKE state %s)", ev.Name, what, word, orUnknown(str(s, "state"))), true
		default:
			return k, fmt.Sprintf("vici %s: %s", ev.Name, what), true
		}
	}
	return "", "", false
}
