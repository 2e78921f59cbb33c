// Package config owns vpnwatchd's configuration file: its types, the defaults,
// loading with strict keys, validation with file:line:key errors, and the
// secrets read from *_file keys.
package config

import (
	"fmt"
	"strings"
	"time"
)

// Config is one vpnwatchd configuration file. The keys are a contract shared
// with the README, configs/example.yaml and support bundles.
type Config struct {
	Global  Global      `yaml:"global"`
	Listen  string      `yaml:"listen"`
	AWS     []AWSSource `yaml:"aws"`
	Routers []Router    `yaml:"routers"`
	// StrongSwan are the strongSwan customer gateways.
	StrongSwan []StrongSwan            `yaml:"strongswan"`
	Probes     []Probe                 `yaml:"probes"`
	Rules      map[string]RuleOverride `yaml:"rules"`
	Syslog     Syslog                  `yaml:"syslog"`
	Alerting   Alerting                `yaml:"alerting"`

	// File is the path the configuration was loaded from.
	File string `yaml:"-"`
	// Warnings are problems that do not stop loading (a secret file that
	// group or others can read); the daemon logs them, `config validate`
	// prints them.
	Warnings []string `yaml:"-"`
	// files are the files the configuration names, as resolved
	// (ServiceWarnings).
	files []fileUse

	pos map[string]int // key path → line, for errors found after loading
}

// Global holds settings that apply to every source.
type Global struct {
	// PollInterval is how often AWS and the routers are polled (jittered).
	PollInterval time.Duration `yaml:"poll_interval"`
	// StateDir holds the alert outbox and other state kept across restarts.
	StateDir string `yaml:"state_dir"`
}

// AWSSource is one AWS account (credentials) watched in one or more regions.
type AWSSource struct {
	Name             string            `yaml:"name"`
	Regions          []string          `yaml:"regions"`
	Profile          string            `yaml:"profile"`
	RoleARN          string            `yaml:"role_arn"`
	Endpoint         string            `yaml:"endpoint"`
	VPNConnectionIDs []string          `yaml:"vpn_connection_ids"`
	TagFilters       map[string]string `yaml:"tag_filters"`
	// Timeout bounds each EC2 API call, the SDK's retries included.
	Timeout time.Duration `yaml:"timeout"`
	// MaintenanceInterval is how often GetVpnTunnelReplacementStatus is asked
	// per tunnel.
	MaintenanceInterval time.Duration `yaml:"maintenance_interval"`
	// Logs reads AWS's own tunnel logs (CloudWatch Logs) of the tunnels
	// whose logging is on; default true.
	Logs bool `yaml:"logs"`
	// LogsKept bounds the AWS log events kept per tunnel (the newest);
	// default 200.
	LogsKept int `yaml:"logs_kept"`
	// CloudWatchMetrics reads each tunnel's traffic as AWS counts it
	// (AWS/VPN TunnelDataIn/TunnelDataOut, GetMetricData, which AWS bills
	// per metric); default false.
	CloudWatchMetrics bool `yaml:"cloudwatch_metrics"`
}

// Syslog is the optional receiver of the routers' syslog: tunnel and IKE
// events trigger an immediate poll.
type Syslog struct {
	// Listen is the UDP address, e.g. ":514" or "0.0.0.0:5140"; empty: off.
	Listen string `yaml:"listen"`
}

// Router is one Yamaha RTX router polled over SSH.
type Router struct {
	Name             string `yaml:"name"`
	Address          string `yaml:"address"`
	User             string `yaml:"user"`
	SSHLogin         `yaml:",inline"`
	LegacyAlgorithms bool          `yaml:"legacy_algorithms"`
	Timeout          time.Duration `yaml:"timeout"`
	Tunnels          []TunnelJoin  `yaml:"tunnels"`
	// SyslogSource is the address the router sends syslog from, when it is
	// not the host of Address.
	SyslogSource string `yaml:"syslog_source"`
}

// SSHLogin is how vpnwatchd proves itself to an SSH server: the keys are
// the same for routers and gateways reached over SSH.
type SSHLogin struct {
	PasswordFile             string `yaml:"password_file"`
	PrivateKeyFile           string `yaml:"private_key_file"`
	PrivateKeyPassphraseFile string `yaml:"private_key_passphrase_file"`
	KnownHosts               string `yaml:"known_hosts"`

	// Password, PrivateKey and PrivateKeyPassphrase are read from the *_file
	// keys at load time.
	Password             Secret `yaml:"-"`
	PrivateKey           Secret `yaml:"-"`
	PrivateKeyPassphrase Secret `yaml:"-"`
}

// StrongSwan is one strongSwan customer gateway, read over charon's vici
// socket: on this host, or on the gateway through SSH (stream-local
// forwarding, as `ssh -L` does for a unix socket).
type StrongSwan struct {
	Name string `yaml:"name"`
	// Vici is the socket: a path such as /var/run/charon.vici when
	// vpnwatchd runs on the gateway, or ssh://USER@HOST[:PORT]/PATH.
	Vici string `yaml:"vici"`
	// FRR reads BGP from FRR with read-only vtysh commands (on the gateway,
	// over the same SSH connection when Vici is ssh://).
	FRR bool `yaml:"frr"`
	// VtySocket is vtysh's --vty_socket directory when FRR's is not the
	// default one.
	VtySocket string `yaml:"vty_socket"`
	// NetNS runs the read-only ip, nft and vtysh commands in this network
	// namespace (charon running in one); local gateways only.
	NetNS    string `yaml:"netns"`
	SSHLogin `yaml:",inline"`
	// Timeout bounds the SSH login and each read.
	Timeout time.Duration `yaml:"timeout"`
}

// ViciSSH is the parsed ssh:// form of a vici key.
type ViciSSH struct {
	User, Address, Path string // Address is host:port
}

// Remote reports whether the gateway is read over SSH, and where.
func (s StrongSwan) Remote() (ViciSSH, bool) {
	r, err := parseViciURL(s.Vici)
	return r, err == nil && r.Address != ""
}

// TunnelJoin pins an RTX tunnel to an AWS VPN tunnel when the automatic join
// (AWS outside IP = RTX "ipsec ike remote address") is not wanted or possible.
type TunnelJoin struct {
	RTXTunnel       int    `yaml:"rtx_tunnel"`
	VPNConnectionID string `yaml:"vpn_connection_id"`
	OutsideIP       string `yaml:"outside_ip"`
}

// Probe is a DF path-MTU probe towards one target.
type Probe struct {
	Name     string        `yaml:"name"`
	Target   string        `yaml:"target"`
	Path     string        `yaml:"path"`
	Interval time.Duration `yaml:"interval"`
}

// Probe paths.
const (
	ProbePathTunnel = "tunnel"
	ProbePathWAN    = "wan"
)

// RuleOverride changes one correlation rule's defaults.
type RuleOverride struct {
	// Hold is how long a condition must last before it fires.
	// Hold is nil when not given, so that an explicit 0s can mean "at once".
	Hold     *time.Duration `yaml:"hold"`
	Severity string         `yaml:"severity"`
	Disabled bool           `yaml:"disabled"`
}

// Severities, lowest first.
const (
	SeverityInfo     = "info"
	SeverityWarning  = "warning"
	SeverityCritical = "critical"
)

// Alerting holds the notification receivers.
type Alerting struct {
	// GroupBy, GroupWait and GroupInterval group the notifications of
	// Slack, e-mail and webhook receivers as Alertmanager does: one message
	// per group (by default a VPN connection; a router for findings about
	// a router only), sent GroupWait after its first change, then at most
	// every GroupInterval while it changes, and every RepeatInterval while
	// something in it fires.
	GroupBy        []string      `yaml:"group_by"`
	GroupWait      time.Duration `yaml:"group_wait"`
	GroupInterval  time.Duration `yaml:"group_interval"`
	RepeatInterval time.Duration `yaml:"repeat_interval"`
	// ResolveHold is how long a finding must be gone before "resolved" is
	// sent.
	ResolveHold time.Duration `yaml:"resolve_hold"`
	// FlapThreshold: more state changes than this within FlapWindow and an
	// alert is held firing as flapping.
	FlapThreshold int           `yaml:"flap_threshold"`
	FlapWindow    time.Duration `yaml:"flap_window"`
	// MaintenanceWindows hold back notifications that match, e.g. during
	// planned router work; what still fires afterwards is sent then.
	MaintenanceWindows []MaintenanceWindow `yaml:"maintenance_windows"`
	Slack              []SlackReceiver     `yaml:"slack"`
	Email              []EmailReceiver     `yaml:"email"`
	Alertmanager       []AlertmanagerPeer  `yaml:"alertmanager"`
	Webhook            []WebhookReceiver   `yaml:"webhook"`
}

// MaintenanceWindow is a time range (RFC 3339) and label matchers (rule,
// severity, vpn_connection_id, outside_ip, router, rtx_tunnel,
// gateway_kind, tunnel, source, region; all must match, none means
// everything).
type MaintenanceWindow struct {
	Name     string            `yaml:"name"`
	Start    string            `yaml:"start"`
	End      string            `yaml:"end"`
	Matchers map[string]string `yaml:"matchers"`
}

// Window parses the window's times.
func (m MaintenanceWindow) Window() (start, end time.Time, err error) {
	if start, err = time.Parse(time.RFC3339, m.Start); err != nil {
		return start, end, fmt.Errorf("start %q is not an RFC 3339 time such as 2026-12-01T22:00:00+09:00", m.Start)
	}
	if end, err = time.Parse(time.RFC3339, m.End); err != nil {
		return start, end, fmt.Errorf("end %q is not an RFC 3339 time such as 2026-12-02T02:00:00+09:00", m.End)
	}
	if !end.After(start) {
		return start, end, fmt.Errorf("end %s is not after start %s", m.End, m.Start)
	}
	return start, end, nil
}

// MatcherKeys are the labels a maintenance window may match on.
var MatcherKeys = []string{"rule", "severity", "vpn_connection_id", "outside_ip", "router", "rtx_tunnel", "gateway_kind", "tunnel", "source", "region", "probe"}

// SlackReceiver posts to a Slack incoming webhook.
type SlackReceiver struct {
	WebhookURLFile string `yaml:"webhook_url_file"`
	Channel        string `yaml:"channel"`
	SendResolved   bool   `yaml:"send_resolved"`

	WebhookURL Secret `yaml:"-"`
}

// EmailReceiver sends mail over SMTP.
type EmailReceiver struct {
	Smarthost    string   `yaml:"smarthost"`
	From         string   `yaml:"from"`
	To           []string `yaml:"to"`
	Username     string   `yaml:"username"`
	PasswordFile string   `yaml:"password_file"`
	SendResolved bool     `yaml:"send_resolved"`
	// RequireTLS refuses servers without STARTTLS (port 465 is implicit TLS).
	RequireTLS bool `yaml:"require_tls"`
	// CAFile verifies the server's certificate against a private CA.
	CAFile string `yaml:"ca_file"`

	Password Secret `yaml:"-"`
}

// AlertmanagerPeer is a Prometheus Alertmanager that receives alerts over its
// v2 API.
type AlertmanagerPeer struct {
	URL string `yaml:"url"`
}

// WebhookReceiver posts JSON to any URL.
type WebhookReceiver struct {
	URL          string `yaml:"url"`
	URLFile      string `yaml:"url_file"`
	SecretFile   string `yaml:"secret_file"`
	SendResolved bool   `yaml:"send_resolved"`

	// ResolvedURL is URL, or the contents of URLFile.
	ResolvedURL Secret `yaml:"-"`
	// HMACSecret signs the payload when SecretFile is set.
	HMACSecret Secret `yaml:"-"`
}

// Summary is a one-line description of what the configuration watches.
func (c *Config) Summary() string {
	parts := []string{count(len(c.AWS), "AWS source"), count(len(c.Routers), "router")}
	if len(c.StrongSwan) > 0 {
		parts = append(parts, count(len(c.StrongSwan), "strongSwan gateway"))
	}
	return strings.Join(append(parts, count(len(c.Probes), "probe"),
		count(len(c.Alerting.Slack)+len(c.Alerting.Email)+len(c.Alerting.Alertmanager)+len(c.Alerting.Webhook), "receiver")), ", ")
}

// count is "1 router", "2 routers".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
