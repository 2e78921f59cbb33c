package rtx

import (
	"errors"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// RTX defaults for settings `show config` leaves out because they were never
// changed.
const (
	// DefaultTunnelMTU is the IPsec tunnel interface MTU without
	// `ip tunnel mtu` (`show status tunnel` on RTX840/1300 shows 1280).
	DefaultTunnelMTU = 1280
	// DefaultSALifetime is the default of `ipsec ike duration ipsec-sa` and
	// `ipsec ike duration isakmp-sa` (28800 s).
	DefaultSALifetime = 28800 * time.Second
)

// Keepalive is `ipsec ike keepalive use G on TYPE INTERVAL RETRIES`.
type Keepalive struct {
	Enabled    bool
	Configured bool
	Type       string // dpd, heartbeat, rfc4306, icmp-echo
	Interval   int    // seconds
	Retries    int
}

// TunnelConfig is what `show config` says about one tunnel interface, with
// its security gateway's `ipsec ike` settings folded in.
type TunnelConfig struct {
	Number        int
	Enabled       bool
	Description   string
	Encapsulation string
	// Gateway is the security gateway id G of the `ipsec ike … G` lines.
	Gateway       int
	RemoteAddress string // ipsec ike remote address: the AWS outside IP
	LocalAddress  string // ipsec ike local address
	InsideAddress string // ip tunnel address, e.g. 169.254.255.2/30
	InsideRemote  string // ip tunnel remote address

	MTU           int // DefaultTunnelMTU unless MTUConfigured
	MTUConfigured bool
	// MSSLimit is the `ip tunnel tcp mss limit` value; MSSAuto for "auto";
	// neither when the command is absent or "off".
	MSSLimit      int
	MSSAuto       bool
	MSSConfigured bool

	IPsecSALifetime           time.Duration
	IPsecSALifetimeConfigured bool
	ISAKMPLifetime            time.Duration
	ISAKMPLifetimeConfigured  bool

	Keepalive     Keepalive
	IKEVersion    int // 1 unless `ipsec ike version G 2`
	NATTraversal  bool
	IKEEncryption string
	IKEHash       string
	IKEGroup      string
	PFS           bool
	ESPEncryption string // from `ipsec sa policy P G esp ENC AUTH`
	ESPAuth       string
	OuterDFBit    string // ipsec tunnel outer df-bit clear|copy|set
}

// LANConfig is the MTU and MSS settings of one LAN interface.
type LANConfig struct {
	Name          string // lan1, lan2, …
	Address       string
	MTU           int // 0 when not configured (RTX default 1500)
	MSSLimit      int
	MSSAuto       bool
	MSSConfigured bool
}

// BGPNeighborConfig is `bgp neighbor ID AS ADDRESS [hold-time=N] [local-address=A]`.
type BGPNeighborConfig struct {
	ID           int
	RemoteAS     string
	Address      string
	HoldTime     int
	LocalAddress string
}

// BGPConfig is the router's BGP settings.
type BGPConfig struct {
	Use       bool
	AS        string
	Neighbors []BGPNeighborConfig
}

// RouterConfig is the parsed `show config`.
type RouterConfig struct {
	Model   string // "RTX1200 Rev.10.01.65" from the header comment
	Tunnels []TunnelConfig
	LANs    []LANConfig
	BGP     BGPConfig
	// Unused names the lines vpnwatchd does not read, by line number and
	// keyword only: the rest of a line may be a secret (a password, a
	// community, a key) in a form no redaction list knows.
	Unused []string
}

// Tunnel returns tunnel n's configuration.
func (c RouterConfig) Tunnel(n int) (TunnelConfig, bool) {
	for _, t := range c.Tunnels {
		if t.Number == n {
			return t, true
		}
	}
	return TunnelConfig{}, false
}

type gatewayConfig struct {
	remote, local         string
	ipsecSA, isakmp       time.Duration
	ipsecSASet, isakmpSet bool
	keepalive             Keepalive
	version               int
	natt, pfs             bool
	enc, hash, group      string
}

type saPolicy struct {
	gateway   int
	enc, auth string
}

var (
	modelRE   = regexp.MustCompile(`^#\s*(RTX?\S*\s+Rev\.\S+)`)
	lanCmdRE  = regexp.MustCompile(`^ip (lan\d+) (.+)$`)
	mssArgRE  = regexp.MustCompile(`^tcp mss limit (\S+)$`)
	bgpNbrKVR = regexp.MustCompile(`^([a-z-]+)=(\S+)$`)
)

type configParser struct {
	c        RouterConfig
	tunnels  map[int]*TunnelConfig
	gateways map[int]*gatewayConfig
	gwOfTun  map[int]int // gateway seen inside a tunnel block (flat AWS configs)
	polOfTun map[int]int // `ipsec tunnel P` of each tunnel
	policies map[int]saPolicy
	lans     map[string]*LANConfig
	cur      *TunnelConfig
	inPP     bool
	used     bool // some line was understood
}

// ParseConfig reads `show config` (or a config file such as the AWS sample
// for Yamaha routers). Nested lines may be indented or flat; settings that
// belong to a security gateway (`ipsec ike … G`) are joined to the tunnel
// through `ipsec tunnel P` and `ipsec sa policy P G …`. Secrets
// (pre-shared keys, login passwords) are never kept.
func ParseConfig(text string) (RouterConfig, error) {
	p := &configParser{tunnels: map[int]*TunnelConfig{}, gateways: map[int]*gatewayConfig{}, gwOfTun: map[int]int{}, polOfTun: map[int]int{},
		policies: map[int]saPolicy{}, lans: map[string]*LANConfig{}}
	for i, line := range lines(text) {
		n := i + 1
		s := strings.TrimSpace(line)
		if s == "" {
			continue
		}
		if strings.HasPrefix(s, "#") {
			if m := modelRE.FindStringSubmatch(s); m != nil && p.c.Model == "" {
				p.c.Model = m[1]
			}
			continue
		}
		if isEcho(s, "show config") || !strings.Contains(s, " ") && (strings.HasSuffix(s, "#") || strings.HasSuffix(s, ">")) {
			continue // prompt lines around a captured output
		}
		switch err := p.line(strings.Join(strings.Fields(s), " ")); {
		case err == nil:
			p.used = true
		case errors.Is(err, errUnknownLine):
			p.c.Unused = append(p.c.Unused, "line "+strconv.Itoa(n)+": "+keyword(s))
		default:
			return p.c, &ParseError{"show config", n, RedactConfigLine(s), err.Error()}
		}
	}
	p.finish()
	if p.c.Model == "" && len(p.c.Tunnels) == 0 && len(p.c.LANs) == 0 && !p.c.BGP.Use && len(p.c.Unused) > 0 && !p.used {
		return p.c, &ParseError{"show config", 1, firstLine(text), "not the output of show config (no line vpnwatchd knows)"}
	}
	return p.c, nil
}

// errUnknownLine is a line vpnwatchd does not read: kept in Unused, not an
// error.
var errUnknownLine = errors.New("not a line vpnwatchd reads")

func (p *configParser) tunnel(n int) *TunnelConfig {
	t := p.tunnels[n]
	if t == nil {
		t = &TunnelConfig{Number: n, MTU: DefaultTunnelMTU, IKEVersion: 1,
			IPsecSALifetime: DefaultSALifetime, ISAKMPLifetime: DefaultSALifetime}
		p.tunnels[n] = t
	}
	return t
}

func (p *configParser) gateway(g int) *gatewayConfig {
	gw := p.gateways[g]
	if gw == nil {
		gw = &gatewayConfig{}
		p.gateways[g] = gw
	}
	return gw
}

func atoi(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0
}

// line handles one normalised config line and returns nil when it was used,
// errUnknownLine when it is not one vpnwatchd reads, or what is wrong with
// it.
func (p *configParser) line(s string) error {
	f := strings.Fields(s)
	switch {
	case strings.HasPrefix(s, "tunnel select "):
		p.inPP = false
		if f[2] == "none" {
			p.cur = nil
			return nil
		}
		n, ok := atoi(f[2])
		if !ok {
			return errors.New("tunnel number expected")
		}
		p.cur = p.tunnel(n)
		return nil
	case strings.HasPrefix(s, "pp select "):
		p.cur, p.inPP = nil, f[2] != "none"
		return nil
	case strings.HasPrefix(s, "tunnel enable ") || strings.HasPrefix(s, "tunnel disable "):
		n, ok := atoi(f[2])
		if !ok {
			return errors.New("tunnel number expected")
		}
		p.tunnel(n).Enabled = f[1] == "enable"
		return nil
	case strings.HasPrefix(s, "ipsec sa policy "):
		if len(f) < 7 {
			return errors.New("ipsec sa policy POLICY GATEWAY esp ENCRYPTION [AUTH] expected")
		}
		pol, ok1 := atoi(f[3])
		gw, ok2 := atoi(f[4])
		if !ok1 || !ok2 {
			return errors.New("policy and gateway numbers expected")
		}
		// ipsec sa policy POLICY GATEWAY esp ENCRYPTION [AUTH]
		sp := saPolicy{gateway: gw, enc: f[6]}
		if len(f) > 7 {
			sp.auth = f[7]
		}
		p.policies[pol] = sp
		return nil
	case strings.HasPrefix(s, "ipsec ike "):
		return p.ike(f)
	case strings.HasPrefix(s, "bgp "):
		return p.bgp(f)
	}
	if m := lanCmdRE.FindStringSubmatch(s); m != nil {
		return p.lan(m[1], m[2])
	}
	if p.cur == nil {
		return errUnknownLine
	}
	t := p.cur
	switch {
	case strings.HasPrefix(s, "ipsec tunnel outer df-bit "):
		t.OuterDFBit = f[4]
	case strings.HasPrefix(s, "ipsec tunnel "):
		pol, ok := atoi(f[2])
		if !ok {
			return errors.New("policy number expected")
		}
		p.polOfTun[t.Number] = pol
	case strings.HasPrefix(s, "tunnel encapsulation "):
		t.Encapsulation = f[2]
	case strings.HasPrefix(s, "description "):
		t.Description = strings.TrimPrefix(s, "description ")
	case strings.HasPrefix(s, "ip tunnel mtu "):
		v, ok := atoi(f[3])
		if !ok || v < 68 || v > 9000 {
			return errors.New("MTU must be a number of bytes")
		}
		t.MTU, t.MTUConfigured = v, true
	case strings.HasPrefix(s, "ip tunnel tcp mss limit "):
		return mss(f[5], &t.MSSLimit, &t.MSSAuto, &t.MSSConfigured)
	case strings.HasPrefix(s, "ip tunnel address "):
		t.InsideAddress = f[3]
	case strings.HasPrefix(s, "ip tunnel remote address "):
		t.InsideRemote = f[4]
	default:
		return errUnknownLine
	}
	return nil
}

func mss(v string, limit *int, auto, configured *bool) error {
	*configured = true
	switch v {
	case "auto":
		*auto = true
	case "off":
		*configured = false
	default:
		n, ok := atoi(v)
		if !ok || n < 1 || n > 9000 {
			return errors.New("MSS limit must be a number of bytes, auto or off")
		}
		*limit = n
	}
	return nil
}

func (p *configParser) ike(f []string) error {
	// ipsec ike SETTING [SUBSETTING] GATEWAY VALUE…
	if len(f) < 4 {
		return errUnknownLine
	}
	key, rest := f[2], f[3:]
	switch key {
	case "duration", "remote", "local", "keepalive", "child-exchange", "negotiation":
		if len(rest) < 2 {
			return errUnknownLine
		}
		key, rest = key+" "+rest[0], rest[1:]
	case "pre-shared-key":
		return nil // a secret: never kept
	}
	g, ok := atoi(rest[0])
	if !ok {
		return errUnknownLine // e.g. global `ipsec ike ...` forms vpnwatchd does not read
	}
	if p.cur != nil {
		p.gwOfTun[p.cur.Number] = g
	}
	gw, args := p.gateway(g), rest[1:]
	arg := func(i int) string {
		if i < len(args) {
			return args[i]
		}
		return ""
	}
	switch key {
	case "remote address":
		gw.remote = arg(0)
	case "local address":
		gw.local = arg(0)
	case "duration ipsec-sa", "duration isakmp-sa":
		secs, ok := atoi(arg(0))
		if !ok || secs == 0 {
			return errors.New("lifetime must be a number of seconds")
		}
		if key == "duration ipsec-sa" {
			gw.ipsecSA, gw.ipsecSASet = time.Duration(secs)*time.Second, true
		} else {
			gw.isakmp, gw.isakmpSet = time.Duration(secs)*time.Second, true
		}
	case "keepalive use":
		gw.keepalive = Keepalive{Configured: true, Enabled: arg(0) == "on", Type: arg(1)}
		if arg(0) != "on" && arg(0) != "off" && arg(0) != "auto" {
			return errors.New("keepalive use must be on, off or auto")
		}
		gw.keepalive.Interval, _ = atoi(arg(2))
		gw.keepalive.Retries, _ = atoi(arg(3))
	case "version":
		v, ok := atoi(arg(0))
		if !ok || v < 1 || v > 2 {
			return errors.New("IKE version must be 1 or 2")
		}
		gw.version = v
	case "nat-traversal":
		gw.natt = arg(0) == "on"
	case "pfs":
		gw.pfs = arg(0) == "on"
	case "encryption":
		gw.enc = arg(0)
	case "hash":
		gw.hash = arg(0)
	case "group":
		gw.group = arg(0)
	}
	return nil
}

func (p *configParser) bgp(f []string) error {
	switch {
	case len(f) >= 3 && f[1] == "use":
		p.c.BGP.Use = f[2] == "on"
	case len(f) >= 3 && f[1] == "autonomous-system":
		p.c.BGP.AS = f[2]
	case len(f) >= 5 && f[1] == "neighbor" && f[2] != "pre-shared-key":
		id, ok := atoi(f[2])
		if !ok {
			return errors.New("bgp neighbor ID AS ADDRESS expected")
		}
		nb := BGPNeighborConfig{ID: id, RemoteAS: f[3], Address: f[4]}
		for _, kv := range f[5:] {
			m := bgpNbrKVR.FindStringSubmatch(kv)
			if m == nil {
				continue
			}
			switch m[1] {
			case "hold-time":
				nb.HoldTime, _ = atoi(m[2])
			case "local-address":
				nb.LocalAddress = m[2]
			}
		}
		p.c.BGP.Neighbors = append(p.c.BGP.Neighbors, nb)
	default:
		return errUnknownLine // import/export filters and the like
	}
	return nil
}

func (p *configParser) lan(name, rest string) error {
	l := p.lans[name]
	if l == nil {
		l = &LANConfig{Name: name}
		p.lans[name] = l
	}
	switch {
	case strings.HasPrefix(rest, "mtu "):
		v, ok := atoi(strings.TrimPrefix(rest, "mtu "))
		if !ok || v < 68 || v > 9000 {
			return errors.New("MTU must be a number of bytes")
		}
		l.MTU = v
	case mssArgRE.MatchString(rest):
		return mss(mssArgRE.FindStringSubmatch(rest)[1], &l.MSSLimit, &l.MSSAuto, &l.MSSConfigured)
	case strings.HasPrefix(rest, "address "):
		l.Address = strings.TrimPrefix(rest, "address ")
	default:
		return errUnknownLine
	}
	return nil
}

// intern makes the tunnel's strings independent of the `show config` text
// they were cut from, so that a kept configuration does not pin its lines.
func (t *TunnelConfig) intern() {
	for _, f := range []*string{&t.Description, &t.Encapsulation, &t.RemoteAddress, &t.LocalAddress,
		&t.InsideAddress, &t.InsideRemote, &t.Keepalive.Type, &t.IKEEncryption, &t.IKEHash, &t.IKEGroup,
		&t.ESPEncryption, &t.ESPAuth, &t.OuterDFBit} {
		*f = intern(*f)
	}
}

// finish joins each tunnel to its gateway and sorts the results.
func (p *configParser) finish() {
	for n, t := range p.tunnels {
		g, hasGW := p.gwOfTun[n]
		if pol, ok := p.polOfTun[n]; ok {
			if sp, ok := p.policies[pol]; ok {
				g, hasGW = sp.gateway, true
				t.ESPEncryption, t.ESPAuth = sp.enc, sp.auth
			}
		}
		if gw := p.gateways[g]; hasGW && gw != nil {
			t.Gateway = g
			t.RemoteAddress, t.LocalAddress = gw.remote, gw.local
			if gw.ipsecSASet {
				t.IPsecSALifetime, t.IPsecSALifetimeConfigured = gw.ipsecSA, true
			}
			if gw.isakmpSet {
				t.ISAKMPLifetime, t.ISAKMPLifetimeConfigured = gw.isakmp, true
			}
			t.Keepalive = gw.keepalive
			if gw.version != 0 {
				t.IKEVersion = gw.version
			}
			t.NATTraversal, t.PFS = gw.natt, gw.pfs
			t.IKEEncryption, t.IKEHash, t.IKEGroup = gw.enc, gw.hash, gw.group
		}
		t.intern()
		p.c.Tunnels = append(p.c.Tunnels, *t)
	}
	sort.Slice(p.c.Tunnels, func(i, j int) bool { return p.c.Tunnels[i].Number < p.c.Tunnels[j].Number })
	for _, l := range p.lans {
		l.Name, l.Address = intern(l.Name), intern(l.Address)
		p.c.LANs = append(p.c.LANs, *l)
	}
	p.c.Model, p.c.BGP.AS = intern(p.c.Model), intern(p.c.BGP.AS)
	for i := range p.c.BGP.Neighbors {
		nb := &p.c.BGP.Neighbors[i]
		nb.RemoteAS, nb.Address, nb.LocalAddress = intern(nb.RemoteAS), intern(nb.Address), intern(nb.LocalAddress)
	}
	sort.Slice(p.c.LANs, func(i, j int) bool { return p.c.LANs[i].Name < p.c.LANs[j].Name })
}

// keyword is the command word of a config line without its arguments
// ("pp auth myname" → "pp auth …"): the first words that are plain
// lower-case command words, at most three.
func keyword(line string) string {
	var kw []string
	for _, f := range strings.Fields(line) {
		if len(kw) == 3 || !commandWord(f) {
			break
		}
		kw = append(kw, f)
	}
	return strings.Join(kw, " ") + " …"
}
