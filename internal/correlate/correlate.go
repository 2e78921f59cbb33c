// Package correlate is vpnwatchd's pure core: it joins what AWS and the RTX
// routers report about the same tunnels, keeps the little history the rules
// need (SA lifetimes, state changes, first-seen times), and turns
// observations into findings that name the problem, show both sides'
// evidence and give the commands that fix it. No clock, no I/O: Evaluate
// takes the previous state, the observations and the time.
package correlate

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/vpnwatchd/vpnwatchd/internal/aws"
	"github.com/vpnwatchd/vpnwatchd/internal/config"
	"github.com/vpnwatchd/vpnwatchd/internal/gateway"
	"github.com/vpnwatchd/vpnwatchd/internal/probe"
	"github.com/vpnwatchd/vpnwatchd/internal/rtx"
)

// Severities, lowest first.
const (
	SeverityInfo     = config.SeverityInfo
	SeverityWarning  = config.SeverityWarning
	SeverityCritical = config.SeverityCritical
)

// SeverityRank orders severities for sorting and exit codes.
func SeverityRank(s string) int {
	switch s {
	case SeverityCritical:
		return 2
	case SeverityWarning:
		return 1
	}
	return 0
}

// Source kinds, the Type of a SourceRef.
const (
	SourceAWS        = config.SourceAWS
	SourceRTX        = config.SourceRTX
	SourceStrongSwan = config.SourceStrongSwan
	SourceProbe      = config.SourceProbe
)

// gatewayKind reports whether a source type is a customer gateway's.
func gatewayKind(typ string) bool { return config.IsGateway(typ) }

// SourceRef names one configured source: the configuration's identity.
type SourceRef = config.SourceID

// Observations is everything the sources said in one cycle.
type Observations struct {
	AWS []aws.Snapshot
	RTX []rtx.Snapshot
	// Gateways are the other customer gateways' snapshots (strongSwan),
	// in vendor-neutral terms; RTX snapshots are mapped the same way.
	Gateways []gateway.Snapshot
	// Expected lists the configured sources; one without a fresh, good
	// snapshot is stale and its data is not used.
	Expected []SourceRef
	// PollInterval is the daemon's; a snapshot older than three of them is
	// stale. Zero disables the age check (offline diagnosis).
	PollInterval time.Duration
	// Joins are the explicit joins from the configuration, by router name.
	Joins map[string][]config.TunnelJoin
	// Probes are the latest path-MTU probe results.
	Probes []probe.Observation
	// StateError is why vpnwatchd's own state could not be written (a
	// full or read-only state directory), "" when it could.
	StateError string
	// StateDir is where that state lives, for the fix.
	StateDir string
}

// Subject is what a finding is about. Only the fields that apply are set.
type Subject struct {
	VPNConnectionID string `json:"vpn_connection_id,omitempty"`
	VPNName         string `json:"vpn_name,omitempty"`
	OutsideIP       string `json:"outside_ip,omitempty"`
	Router          string `json:"router,omitempty"` // a customer gateway's name
	RTXTunnel       int    `json:"rtx_tunnel,omitempty"`
	// GatewayKind is the gateway's kind when it is not an RTX
	// ("strongswan"); Tunnel its name of the tunnel (a connection).
	GatewayKind string `json:"gateway_kind,omitempty"`
	Tunnel      string `json:"tunnel,omitempty"`
	Source      string `json:"source,omitempty"` // an AWS source, with Region
	Region      string `json:"region,omitempty"`
	Probe       string `json:"probe,omitempty"`
}

// String renders the subject as operators name things.
func (s Subject) String() string {
	var parts []string
	if s.VPNConnectionID != "" {
		v := s.VPNConnectionID
		if s.VPNName != "" {
			v += " (" + s.VPNName + ")"
		}
		parts = append(parts, v)
	}
	if s.OutsideIP != "" {
		parts = append(parts, "tunnel "+s.OutsideIP)
	}
	if s.Router != "" {
		r := s.gatewayLabel() + " " + s.Router
		if s.RTXTunnel != 0 {
			r += fmt.Sprintf(" tunnel %d", s.RTXTunnel)
		}
		if s.Tunnel != "" {
			r += " connection " + s.Tunnel
		}
		parts = append(parts, r)
	}
	if s.Source != "" && s.Router == "" {
		parts = append(parts, strings.TrimSpace("aws "+s.Source+" "+s.Region))
	}
	if s.Probe != "" {
		parts = append(parts, "probe "+s.Probe)
	}
	return strings.Join(parts, ", ")
}

// gatewayLabel is how operators name the subject's gateway kind.
func (s Subject) gatewayLabel() string {
	if s.GatewayKind == SourceStrongSwan {
		return "strongSwan"
	}
	return "RTX"
}

// GatewaySource is the subject's customer gateway as a source.
func (s Subject) GatewaySource() SourceRef {
	return SourceRef{Type: cmp.Or(s.GatewayKind, SourceRTX), Name: s.Router}
}

// Tunnels names subjects that differ only by tunnel as one, "tunnels
// 203.0.113.10 and 203.0.113.20 (RTX osaka tunnels 1 and 2)", preceded by
// the first one's VPN connection when withConnection; subjects that are not
// all tunnels are joined with "; ".
func Tunnels(ss []Subject, withConnection bool) string {
	if len(ss) == 1 {
		return ss[0].String()
	}
	var ips, nums []string
	for _, s := range ss {
		if s.OutsideIP != "" {
			ips = append(ips, s.OutsideIP)
		}
		if s.RTXTunnel != 0 {
			nums = append(nums, strconv.Itoa(s.RTXTunnel))
		}
		if s.Tunnel != "" {
			nums = append(nums, s.Tunnel)
		}
	}
	if len(ips) != len(ss) {
		var all []string
		for _, s := range ss {
			all = append(all, s.String())
		}
		return strings.Join(all, "; ")
	}
	s := ss[0]
	out := "tunnels " + AndList(ips)
	if withConnection && s.VPNConnectionID != "" {
		v := s.VPNConnectionID
		if s.VPNName != "" {
			v += " (" + s.VPNName + ")"
		}
		out = v + ", " + out
	}
	if s.Router != "" && len(nums) == len(ss) {
		what := " tunnels "
		if s.Tunnel != "" {
			what = " connections "
		}
		out += " (" + s.gatewayLabel() + " " + s.Router + what + AndList(nums) + ")"
	}
	return out
}

// AndList joins words as a sentence does: "a", "a and b", "a, b and c".
func AndList(xs []string) string {
	if len(xs) <= 1 {
		return strings.Join(xs, "")
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " and " + xs[len(xs)-1]
}

// AWSEvidence is what AWS reported about the tunnel.
type AWSEvidence struct {
	Status                string    `json:"status"`
	StatusMessage         string    `json:"status_message"`
	AcceptedRoutes        int       `json:"accepted_routes"`
	LastStatusChange      time.Time `json:"last_status_change,omitzero"`
	Routing               string    `json:"routing"`
	ConnectionState       string    `json:"connection_state"`
	CustomerGatewayID     string    `json:"customer_gateway_id,omitempty"`
	CustomerGatewayIP     string    `json:"customer_gateway_ip,omitempty"`
	InsideCIDR            string    `json:"inside_cidr,omitempty"`
	Phase1LifetimeSeconds int       `json:"phase1_lifetime_seconds,omitempty"`
	Phase2LifetimeSeconds int       `json:"phase2_lifetime_seconds,omitempty"`
	MaintenancePending    string    `json:"maintenance_pending,omitempty"`
	// Log is what AWS itself logged about the tunnel lately (its tunnel
	// activity and BGP logs), newest last, when vpnwatchd reads them.
	Log []string `json:"log,omitempty"`
}

// SAEvidence is one IPsec SA on the router.
type SAEvidence struct {
	ID               int    `json:"id"`
	Direction        string `json:"direction"`
	RemainingSeconds int    `json:"remaining_seconds"`
}

// GatewaySide names the customer gateway's side of a finding as headings
// say it: "RTX side", "strongSwan side".
func (f Finding) GatewaySide() string {
	if x := f.Evidence.RTX; x != nil && x.Kind != "" {
		return x.Kind + " side"
	}
	return "RTX side"
}

// RTXEvidence is what the customer gateway reported about the tunnel (an
// RTX or another kind: its JSON key "rtx" is kept for compatibility).
type RTXEvidence struct {
	// Kind is the gateway's kind as operators say it: "RTX", "strongSwan".
	Kind          string       `json:"kind,omitempty"`
	TunnelState   string       `json:"tunnel_state"`
	RemoteAddress string       `json:"remote_address,omitempty"`
	LocalAddress  string       `json:"local_address,omitempty"`
	SAs           []SAEvidence `json:"sas"`
	BGPNeighbor   string       `json:"bgp_neighbor,omitempty"`
	BGPState      string       `json:"bgp_state,omitempty"`
	// ReceivedRoutes is what the BGP neighbor sent (-1: unknown);
	// InstalledRoutes the best paths via the tunnel in `show ip route`.
	ReceivedRoutes        int    `json:"bgp_received_routes"`
	InstalledRoutes       int    `json:"installed_routes"`
	MTU                   int    `json:"mtu"`
	MSSLimit              string `json:"mss_limit"`
	IPsecSALifetimeSecond int    `json:"ipsec_sa_lifetime_seconds"`
	ISAKMPLifetimeSeconds int    `json:"isakmp_sa_lifetime_seconds"`
	DPD                   string `json:"dpd"`
	// Syslog lists the router's recent log lines about this tunnel.
	Syslog []string `json:"syslog,omitempty"`
}

// RoutesText says what the router received and installed ("2 routes
// received, 0 installed" on a standby tunnel), or only what it installed
// when what the neighbor sent is not known.
func (e RTXEvidence) RoutesText() string {
	if e.ReceivedRoutes < 0 {
		return fmt.Sprintf("%d routes installed", e.InstalledRoutes)
	}
	return fmt.Sprintf("%d routes received, %d installed", e.ReceivedRoutes, e.InstalledRoutes)
}

// Evidence is both sides' view, plus rule-specific details.
type Evidence struct {
	AWS    *AWSEvidence      `json:"aws,omitempty"`
	RTX    *RTXEvidence      `json:"rtx,omitempty"`
	Detail map[string]string `json:"detail,omitempty"`
}

// Finding is one problem, in the operator's words.
type Finding struct {
	Rule        string    `json:"rule"`
	Severity    string    `json:"severity"`
	Subject     Subject   `json:"subject"`
	Summary     string    `json:"summary"`
	Evidence    Evidence  `json:"evidence"`
	Remediation string    `json:"remediation"`
	Since       time.Time `json:"since"`
	// Sources are the sources whose data the finding rests on.
	Sources []SourceRef `json:"sources,omitempty"`
	// Stale is set while a source the finding rests on has no current
	// data: the finding is held as last seen, neither confirmed nor
	// resolved, until fresh data decides. StaleSince is when that began.
	Stale      bool      `json:"stale,omitempty"`
	StaleSince time.Time `json:"stale_since,omitzero"`
	// ExplainedBy is the fingerprint of the active finding that is the
	// root cause of this one (a symptom of it); "" when this one is a root.
	ExplainedBy string `json:"explained_by,omitempty"`
}

// Commands lists the commands the remediation tells the operator to type
// (its `quoted` parts that are whole commands, not a single word such as
// `auto`), in order, each once, to be shown as a block to copy as it is.
func (f Finding) Commands() []string {
	var out []string
	parts := strings.Split(f.Remediation, "`")
	for i := 1; i < len(parts); i += 2 {
		c := strings.TrimSpace(parts[i])
		if strings.Contains(c, " ") && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// StaleNote says why a held finding is not current, for renderers: ""
// unless Stale.
func (f Finding) StaleNote() string {
	if !f.Stale {
		return ""
	}
	var names []string
	for _, s := range f.Sources {
		names = append(names, s.String())
	}
	return fmt.Sprintf("STALE since %s: no current data from %s; shown as last seen, not resolved, until fresh data decides",
		f.StaleSince.UTC().Format(time.RFC3339), strings.Join(names, ", "))
}

// FindingID identifies a finding across evaluations: its rule and what it
// is about. The connection's display name is not part of it, so that
// renaming a VPN does not end one finding and start another.
type FindingID struct {
	Rule            string
	VPNConnectionID string
	OutsideIP       string
	Router          string
	RTXTunnel       int
	Tunnel          string
	Source          string
	Region          string
	Probe           string
}

// ID returns the finding's identity.
func (f Finding) ID() FindingID {
	s := f.Subject
	return FindingID{Rule: f.Rule, VPNConnectionID: s.VPNConnectionID, OutsideIP: s.OutsideIP, Router: s.Router,
		RTXTunnel: s.RTXTunnel, Tunnel: s.Tunnel, Source: s.Source, Region: s.Region, Probe: s.Probe}
}

// String renders the identity as the fingerprint kept in the alert state
// file and sent to Alertmanager and webhooks. Its format is stable: a
// probe stands in the source's place as "probe NAME", as it always has; a
// named gateway tunnel (strongSwan connection) is appended as "|NAME".
func (id FindingID) String() string {
	source := id.Source
	if id.Probe != "" {
		source = "probe " + id.Probe
	}
	s := fmt.Sprintf("%s|%s|%s|%s|%d|%s|%s", id.Rule, id.VPNConnectionID, id.OutsideIP, id.Router, id.RTXTunnel, source, id.Region)
	if id.Tunnel != "" {
		s += "|" + id.Tunnel
	}
	return s
}

// Fingerprint is the finding's identity as a string (FindingID.String).
func (f Finding) Fingerprint() string { return f.ID().String() }

// compare orders identities: rule, then subject.
func (id FindingID) compare(o FindingID) int {
	return cmp.Or(cmp.Compare(id.Rule, o.Rule), cmp.Compare(id.VPNConnectionID, o.VPNConnectionID), cmp.Compare(id.OutsideIP, o.OutsideIP),
		cmp.Compare(id.Router, o.Router), cmp.Compare(id.RTXTunnel, o.RTXTunnel), cmp.Compare(id.Tunnel, o.Tunnel), cmp.Compare(id.Source, o.Source), cmp.Compare(id.Region, o.Region),
		cmp.Compare(id.Probe, o.Probe))
}

// State is what Evaluate remembers between cycles: how long each condition
// has held, tunnel state changes, the findings last reported and the joins
// last made. It is opaque; the zero value is the start. (What vpnwatchd
// remembers of the SAs is the RTX poller's: rtx.SAHistory.)
type State struct {
	since   map[FindingID]time.Time   // condition → when first seen (holds)
	up      map[sideKey]bool          // one side's view of a tunnel → last up state
	changes map[sideKey][]stateChange // … and its recent state changes
	active  map[FindingID]Finding     // reported by the last evaluation
	joins   map[tunnelKey]joinMemo    // gateway tunnel → the AWS tunnel last joined to it
	// dropsSeen is the newest drop a gateway reported itself that was
	// counted (trackDrops), per side.
	dropsSeen map[sideKey]time.Time
}

// Resume returns the state of a correlator that reported findings before a
// restart: they are held while their sources have no current data, as if
// the daemon had not stopped.
func Resume(firing []Finding) State {
	s := State{active: map[FindingID]Finding{}}
	for _, f := range firing {
		s.active[f.ID()] = f
	}
	return s
}

// tunnelKey names one customer gateway tunnel: by number on an RTX, by
// name on a gateway that names its tunnels.
type tunnelKey struct {
	kind   string
	router string
	number int
	name   string
}

// source is the key's gateway.
func (k tunnelKey) source() SourceRef { return SourceRef{Type: k.kind, Name: k.router} }

// sideKey names one side's view of a tunnel, for its history of state
// changes: the AWS tunnel by outside IP, or the gateway's tunnel.
type sideKey struct {
	awsOutsideIP string
	gw           tunnelKey
}

// stateChange is one change of a side's view of a tunnel: when, and to up
// or down.
type stateChange struct {
	at time.Time
	up bool
	// reported: the gateway's own event, not a poll (its log lines tell
	// the timeline about it already).
	reported bool
}

// joinMemo is one remembered join of a gateway tunnel and an AWS tunnel.
type joinMemo struct {
	AWS       SourceRef
	ConnID    string
	ConnName  string
	OutsideIP string
}

func (s State) clone() State {
	c := State{since: maps.Clone(s.since), up: maps.Clone(s.up), changes: maps.Clone(s.changes),
		active: map[FindingID]Finding{}, joins: maps.Clone(s.joins), dropsSeen: maps.Clone(s.dropsSeen)}
	if c.dropsSeen == nil {
		c.dropsSeen = map[sideKey]time.Time{}
	}
	if c.joins == nil {
		c.joins = map[tunnelKey]joinMemo{}
	}
	if c.since == nil {
		c.since = map[FindingID]time.Time{}
	}
	if c.up == nil {
		c.up = map[sideKey]bool{}
	}
	if c.changes == nil {
		c.changes = map[sideKey][]stateChange{}
	}
	return c
}

// RuleSettings are a rule's severity, hold and switch.
type RuleSettings struct {
	Severity string
	Hold     time.Duration
	Disabled bool
}

// Evaluator holds the rule settings.
type Evaluator struct {
	settings map[string]RuleSettings
	// NoHolds reports conditions at once (check, diagnose).
	NoHolds bool
}

// NewEvaluator applies the configuration's overrides to the rule defaults.
func NewEvaluator(overrides map[string]config.RuleOverride) *Evaluator {
	e := &Evaluator{settings: map[string]RuleSettings{}}
	for _, r := range rules {
		s := RuleSettings{Severity: r.severity, Hold: r.hold}
		if o, ok := overrides[r.name]; ok {
			if o.Severity != "" {
				s.Severity = o.Severity
			}
			if o.Hold != nil {
				s.Hold = *o.Hold
			}
			s.Disabled = o.Disabled
		}
		e.settings[r.name] = s
	}
	return e
}

// Result is what one evaluation found.
type Result struct {
	// Findings are those whose condition has held long enough (and those
	// held stale), most severe first.
	Findings []Finding
	// Unchecked lists what could not be checked: sources with no current
	// data, and why.
	Unchecked []string
}

// Evaluate runs every rule over the observations and returns the new state
// and what it found. prev is not modified.
func (e *Evaluator) Evaluate(prev State, obs Observations, now time.Time) (State, Result) {
	next, r, _ := e.evaluate(prev, obs, now)
	return next, r
}

// EvaluateView is Evaluate that also returns one view per tunnel as the
// evaluation joined them (joined ones first), for the status page.
func (e *Evaluator) EvaluateView(prev State, obs Observations, now time.Time) (State, Result, []TunnelView) {
	next, r, c := e.evaluate(prev, obs, now)
	return next, r, c.views(r.Findings)
}

func (e *Evaluator) evaluate(prev State, obs Observations, now time.Time) (State, Result, *evaluation) {
	next := prev.clone()
	c := newEvaluation(obs, now, &next)
	var active []Finding
	seen := map[FindingID]bool{}
	for _, r := range rules {
		st := e.settings[r.name]
		if st.Disabled {
			continue
		}
		for _, f := range r.check(c) {
			f.Rule, f.Severity = r.name, st.Severity
			id := f.ID()
			if seen[id] {
				continue
			}
			seen[id] = true
			f.Sources = c.sourcesOf(f.Subject)
			since, ok := next.since[id]
			if !ok {
				since = now
				next.since[id] = now
			}
			f.Since = since
			if e.NoHolds || now.Sub(since) >= st.Hold {
				active = append(active, f)
			}
		}
	}
	// Losing sight is not recovery: a finding reported before whose
	// condition is not seen now because a source it rests on has no
	// current data is held, marked stale, until fresh data decides.
	for _, id := range slices.SortedFunc(maps.Keys(prev.active), FindingID.compare) {
		f := prev.active[id]
		if seen[id] || aboutSources[f.Rule] || e.settings[f.Rule].Disabled || !c.anyStale(f.Sources) {
			continue
		}
		seen[id] = true
		if !f.Stale {
			f.Stale, f.StaleSince = true, now
		}
		active = append(active, f)
	}
	for id := range next.since {
		if !seen[id] {
			delete(next.since, id)
		}
	}
	explain(active)
	for _, f := range active {
		next.active[f.ID()] = f
	}
	sort.SliceStable(active, func(i, j int) bool {
		a, b := active[i], active[j]
		if SeverityRank(a.Severity) != SeverityRank(b.Severity) {
			return SeverityRank(a.Severity) > SeverityRank(b.Severity)
		}
		return a.ID().compare(b.ID()) < 0
	})
	return next, Result{Findings: active, Unchecked: c.unchecked}, c
}

// NextHoldEnd returns when the earliest held condition of s (seen, not yet
// reported) will have held long enough, so that the caller can look again
// then instead of at its next regular poll.
func (e *Evaluator) NextHoldEnd(s State, now time.Time) (time.Time, bool) {
	var next time.Time
	for id, since := range s.since {
		st, ok := e.settings[id.Rule]
		if !ok || st.Disabled || e.NoHolds {
			continue
		}
		if end := since.Add(st.Hold); end.After(now) && (next.IsZero() || end.Before(next)) {
			next = end
		}
	}
	return next, !next.IsZero()
}

// RuleNames lists every rule, for configuration checks and documentation.
func RuleNames() []string {
	out := make([]string, len(rules))
	for i, r := range rules {
		out[i] = r.name
	}
	return out
}

// RuleDefaults returns a rule's default severity and hold.
func RuleDefaults(name string) (RuleSettings, bool) {
	for _, r := range rules {
		if r.name == name {
			return RuleSettings{Severity: r.severity, Hold: r.hold}, true
		}
	}
	return RuleSettings{}, false
}

// Printable makes untrusted text (AWS's names, tags and log lines, a
// gateway's output) one line that a terminal, a message or a page shows as
// it is and that cannot pose as other text. Control characters (C0 such as
// escapes and newlines, DEL, C1 such as the 8-bit CSI) and the Unicode line
// and paragraph separators become spaces. Invisible format characters —
// bidirectional marks, embeddings, overrides and isolates (U+202E), zero-width
// spaces and joiners (U+200B), the word joiner, the byte order mark, soft
// hyphens, tag characters — are shown escaped as `\u202e`, so that
// "prod\u200b" does not read as "prod" nor an override turn a name around.
// Invalid UTF-8 becomes U+FFFD.
func Printable(s string) string { return printable(s, false) }

// PrintableLines is Printable for text laid out in lines (a rendered page
// or report): newlines and tabs are kept.
func PrintableLines(s string) string { return printable(s, true) }

func printable(s string, lines bool) string {
	clean := true
	for _, r := range s {
		if r < 0x20 && !(lines && (r == '\n' || r == '\t')) || r >= 0x7f && unprintable(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for _, r := range s {
		switch {
		case lines && (r == '\n' || r == '\t'):
			b.WriteRune(r)
		case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f, r == '\u2028', r == '\u2029':
			b.WriteByte(' ')
		case r > 0xffff && unicode.Is(unicode.Cf, r):
			fmt.Fprintf(&b, `\U%08x`, r)
		case unicode.Is(unicode.Cf, r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r) // invalid UTF-8 arrives as utf8.RuneError
		}
	}
	return b.String()
}

// unprintable reports whether printable changes r (at or above DEL).
func unprintable(r rune) bool {
	return r <= 0x9f || r == '\u2028' || r == '\u2029' || r == utf8.RuneError || unicode.Is(unicode.Cf, r)
}
