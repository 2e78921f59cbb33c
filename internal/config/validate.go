package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// validator collects every problem of a decoded configuration, each with the
// line of the key it is about.
type validator struct {
	file string
	pos  map[string]int
	errs []error
}

// line finds the line of path, or of its nearest parent that appeared in the
// file (a missing key is reported at the line of the item that lacks it).
func (v *validator) line(path string) int {
	for p := path; p != ""; {
		if l, ok := v.pos[p]; ok {
			return l
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return 0
}

func (v *validator) errorf(path, format string, args ...any) {
	v.errs = append(v.errs, &Error{File: v.file, Line: v.line(path), Path: path, Msg: fmt.Sprintf(format, args...)})
}

var (
	// Names end up in metric labels and support bundle paths.
	nameRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	vpnIDRE  = regexp.MustCompile(`^vpn-[0-9a-f]{8,17}$`)
	roleRE   = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$`)
)

func (v *validator) validate(c *Config) {
	if c.Global.PollInterval < minPollInterval {
		v.errorf("global.poll_interval", "%s is too short (minimum %s)", c.Global.PollInterval, minPollInterval)
	}
	if c.Global.StateDir == "" {
		v.errorf("global.state_dir", "must not be empty")
	}
	v.hostPort("listen", c.Listen, false)
	if c.Syslog.Listen != "" {
		v.hostPort("syslog.listen", c.Syslog.Listen, false)
	}

	type kindName struct{ kind, name string }
	names := map[kindName]string{}
	// Routers and other gateways share one namespace: findings, metrics
	// and alert labels name either as "router".
	namespace := func(kind string) string {
		if kind == "strongSwan gateway" {
			return "router"
		}
		return kind
	}
	unique := func(path, kind, name string) {
		if name == "" {
			v.errorf(path+".name", "missing: every %s needs a name (letters, digits, '.', '_', '-')", kind)
			return
		}
		if !nameRE.MatchString(name) {
			v.errorf(path+".name", "%q: use only letters, digits, '.', '_' and '-', starting with a letter or digit", name)
			return
		}
		key := kindName{namespace(kind), name}
		if prev, dup := names[key]; dup {
			v.errorf(path+".name", "%q is already the name of %s", name, prev)
			return
		}
		names[key] = path
	}
	for i, a := range c.AWS {
		p := fmt.Sprintf("aws[%d]", i)
		unique(p, "aws source", a.Name)
		v.aws(p, a)
	}
	for i, r := range c.Routers {
		p := fmt.Sprintf("routers[%d]", i)
		unique(p, "router", r.Name)
		v.router(p, r)
	}
	for i, g := range c.StrongSwan {
		p := fmt.Sprintf("strongswan[%d]", i)
		unique(p, "strongSwan gateway", g.Name)
		v.strongSwan(p, g)
	}
	for i, pr := range c.Probes {
		p := fmt.Sprintf("probes[%d]", i)
		unique(p, "probe", pr.Name)
		v.probe(p, pr)
	}
	for _, name := range slices.Sorted(maps.Keys(c.Rules)) {
		v.rule("rules."+name, name, c.Rules[name])
	}
	v.alerting(c.Alerting)
}

func (v *validator) hostPort(path, addr string, hostRequired bool) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		_, numErr := strconv.Atoi(addr)
		switch {
		case numErr == nil && !hostRequired:
			v.errorf(path, "%q: a port alone needs a colon: write \":%s\" (all addresses) or \"127.0.0.1:%s\"", addr, addr, addr)
		case strings.Contains(err.Error(), "missing port"):
			v.errorf(path, "%q: missing port (want host:port)", addr)
		default:
			v.errorf(path, "%q: not a host:port address", addr)
		}
		return
	}
	if hostRequired && host == "" {
		v.errorf(path, "%q: missing host (want host:port)", addr)
	}
	// Listen addresses (no host required) may use port 0: the OS picks one.
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 || (n == 0 && hostRequired) {
		v.errorf(path, "%q: port must be a number from 1 to 65535", addr)
	}
}

func (v *validator) aws(p string, a AWSSource) {
	if len(a.Regions) == 0 {
		v.errorf(p+".regions", "missing: list at least one region, e.g. [ap-northeast-1]")
	}
	seen := map[string]bool{}
	for i, r := range a.Regions {
		rp := fmt.Sprintf("%s.regions[%d]", p, i)
		switch {
		case !regionRE.MatchString(r):
			v.errorf(rp, "%q is not an AWS region name (e.g. ap-northeast-1)", r)
		case seen[r]:
			v.errorf(rp, "%q is listed twice", r)
		}
		seen[r] = true
	}
	if a.RoleARN != "" && !roleRE.MatchString(a.RoleARN) {
		v.errorf(p+".role_arn", "%q is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)", a.RoleARN)
	}
	if a.Endpoint != "" {
		u, err := url.Parse(a.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.errorf(p+".endpoint", "%q is not an http:// or https:// URL", a.Endpoint)
		}
	}
	if a.Timeout <= 0 {
		v.errorf(p+".timeout", "must be greater than 0")
	}
	if a.LogsKept < 1 || a.LogsKept > MaxLogsKept {
		v.errorf(p+".logs_kept", "%d: keep between 1 and %d of AWS's log events per tunnel (default %d)", a.LogsKept, MaxLogsKept, DefaultLogsKept)
	}
	if a.MaintenanceInterval < time.Minute {
		v.errorf(p+".maintenance_interval", "%s is too short (minimum 1m; AWS changes this rarely)", a.MaintenanceInterval)
	}
	if len(a.VPNConnectionIDs) > 0 && len(a.TagFilters) > 0 {
		v.errorf(p+".tag_filters", "use either vpn_connection_ids or tag_filters, not both")
	}
	for i, id := range a.VPNConnectionIDs {
		if !vpnIDRE.MatchString(id) {
			v.errorf(fmt.Sprintf("%s.vpn_connection_ids[%d]", p, i), "%q is not a VPN connection id (vpn- and 8 or 17 hex digits)", id)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(a.TagFilters)) {
		if k == "" || a.TagFilters[k] == "" {
			v.errorf(p+".tag_filters."+k, "tag key and value must not be empty")
		}
	}
}

func (v *validator) router(p string, r Router) {
	if r.Address == "" {
		v.errorf(p+".address", "missing: the router's SSH address as host:port, e.g. 192.0.2.10:22")
	} else {
		v.hostPort(p+".address", r.Address, true)
	}
	if r.User == "" {
		v.errorf(p+".user", "missing: the SSH login user (a read-only monitoring user)")
	}
	v.login(p, r.SSHLogin)
	if r.Timeout <= 0 {
		v.errorf(p+".timeout", "must be greater than 0")
	}
	if r.SyslogSource != "" {
		if _, err := netip.ParseAddr(r.SyslogSource); err != nil {
			v.errorf(p+".syslog_source", "%q is not an IP address", r.SyslogSource)
		}
	}
	tunnels := map[int]bool{}
	for i, t := range r.Tunnels {
		tp := fmt.Sprintf("%s.tunnels[%d]", p, i)
		if t.RTXTunnel < 1 {
			v.errorf(tp+".rtx_tunnel", "missing or not a tunnel number (1 or more)")
		} else if tunnels[t.RTXTunnel] {
			v.errorf(tp+".rtx_tunnel", "tunnel %d is joined twice", t.RTXTunnel)
		}
		tunnels[t.RTXTunnel] = true
		if t.VPNConnectionID == "" && t.OutsideIP == "" {
			v.errorf(tp, "set vpn_connection_id or outside_ip (or both) to join this RTX tunnel to an AWS tunnel")
		}
		if t.VPNConnectionID != "" && !vpnIDRE.MatchString(t.VPNConnectionID) {
			v.errorf(tp+".vpn_connection_id", "%q is not a VPN connection id", t.VPNConnectionID)
		}
		if t.OutsideIP != "" {
			if _, err := netip.ParseAddr(t.OutsideIP); err != nil {
				v.errorf(tp+".outside_ip", "%q is not an IP address", t.OutsideIP)
			}
		}
	}
}

// netnsRE is what `ip netns` accepts as a name (a file in /run/netns).
var netnsRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

func (v *validator) strongSwan(p string, g StrongSwan) {
	remote, err := parseViciURL(g.Vici)
	if err != nil {
		v.errorf(p+".vici", "%v", err)
	}
	if remote.Address != "" {
		v.hostPort(p+".vici", remote.Address, true)
		v.login(p, g.SSHLogin)
		if g.NetNS != "" {
			v.errorf(p+".netns", "only for a gateway on this host; over SSH, vpnwatchd reads the gateway's own namespace")
		}
	} else if err == nil {
		for _, k := range []struct{ key, value string }{{"password_file", g.PasswordFile}, {"private_key_file", g.PrivateKeyFile},
			{"private_key_passphrase_file", g.PrivateKeyPassphraseFile}, {"known_hosts", g.KnownHosts}} {
			if k.value != "" {
				v.errorf(p+"."+k.key, "only with an ssh:// vici address; %s is a socket on this host", g.Vici)
			}
		}
	}
	if g.NetNS != "" && !netnsRE.MatchString(g.NetNS) {
		v.errorf(p+".netns", "%q is not a network namespace name (as `ip netns list` shows them)", g.NetNS)
	}
	if g.VtySocket != "" {
		switch {
		case !g.FRR:
			v.errorf(p+".vty_socket", "only with frr: true")
		case !strings.HasPrefix(g.VtySocket, "/"):
			v.errorf(p+".vty_socket", "%q is not an absolute directory path (FRR's default is /var/run/frr)", g.VtySocket)
		}
	}
	if g.Timeout <= 0 {
		v.errorf(p+".timeout", "must be greater than 0")
	}
}

// parseViciURL reads a vici key: an absolute socket path (unix:// allowed)
// or ssh://USER@HOST[:PORT]/PATH. Errors do not repeat the value: it
// could hold a password (ssh://user:secret@host).
func parseViciURL(s string) (ViciSSH, error) {
	const want = "a socket path such as /var/run/charon.vici, or ssh://USER@HOST[:PORT]/var/run/charon.vici"
	switch {
	case s == "":
		return ViciSSH{}, fmt.Errorf("missing: charon's vici socket, %s", want)
	case strings.HasPrefix(strings.TrimPrefix(s, "unix://"), "/"):
		return ViciSSH{Path: strings.TrimPrefix(s, "unix://")}, nil
	case !strings.HasPrefix(s, "ssh://") && strings.Contains(s, "@"):
		return ViciSSH{}, fmt.Errorf("not a socket path or an ssh:// address (it is not repeated here: it may hold a password); want %s", want)
	case !strings.HasPrefix(s, "ssh://"):
		return ViciSSH{}, fmt.Errorf("%q: want %s", s, want)
	}
	u, err := url.Parse(s)
	if err != nil {
		return ViciSSH{}, fmt.Errorf("not a valid ssh:// address; want %s", want)
	}
	if _, has := u.User.Password(); has {
		return ViciSSH{}, errors.New("ssh:// address holds a password: put it in password_file (it is not repeated here)")
	}
	r := ViciSSH{User: u.User.Username(), Address: u.Host, Path: u.Path}
	switch {
	case r.User == "":
		return ViciSSH{}, fmt.Errorf("ssh:// address without a user; want %s", want)
	case u.Hostname() == "":
		return ViciSSH{}, fmt.Errorf("ssh:// address without a host; want %s", want)
	case r.Path == "" || r.Path == "/":
		return ViciSSH{}, fmt.Errorf("ssh:// address without the socket's path; want %s", want)
	case u.RawQuery != "" || u.Fragment != "":
		return ViciSSH{}, fmt.Errorf("ssh:// address with a query or fragment; want %s", want)
	}
	if u.Port() == "" {
		r.Address = net.JoinHostPort(u.Hostname(), "22")
	}
	return r, nil
}

// login checks the SSH login keys of a router or a remote gateway.
func (v *validator) login(p string, l SSHLogin) {
	switch {
	case l.PasswordFile == "" && l.PrivateKeyFile == "":
		v.errorf(p+".password_file", "missing: set password_file or private_key_file")
	case l.PasswordFile != "" && l.PrivateKeyFile != "":
		v.errorf(p+".private_key_file", "set password_file or private_key_file, not both")
	}
	if l.PrivateKeyPassphraseFile != "" && l.PrivateKeyFile == "" {
		v.errorf(p+".private_key_passphrase_file", "only allowed with private_key_file")
	}
	if l.KnownHosts == "" {
		v.errorf(p+".known_hosts", "missing: host keys are always verified; create the file with ssh-keyscan")
	}
}

func (v *validator) probe(p string, pr Probe) {
	if pr.Target == "" {
		v.errorf(p+".target", "missing: an IP address or host name to probe")
	} else if strings.ContainsAny(pr.Target, " /:") {
		if _, err := netip.ParseAddr(pr.Target); err != nil {
			v.errorf(p+".target", "%q is not an IP address or host name", pr.Target)
		}
	}
	if pr.Path != ProbePathTunnel && pr.Path != ProbePathWAN {
		v.errorf(p+".path", "%q: must be %s or %s", pr.Path, ProbePathTunnel, ProbePathWAN)
	}
	if pr.Interval < minPollInterval {
		v.errorf(p+".interval", "%s is too short (minimum %s)", pr.Interval, minPollInterval)
	}
}

func (v *validator) rule(p, name string, r RuleOverride) {
	switch r.Severity {
	case "", SeverityInfo, SeverityWarning, SeverityCritical:
	default:
		v.errorf(p+".severity", "%q: must be %s, %s or %s", r.Severity, SeverityInfo, SeverityWarning, SeverityCritical)
	}
}

func (v *validator) alerting(a Alerting) {
	if a.RepeatInterval <= 0 {
		v.errorf("alerting.repeat_interval", "must be greater than 0")
	}
	if a.GroupWait < 0 {
		v.errorf("alerting.group_wait", "must be 0 (send at once) or more")
	}
	if a.GroupInterval <= 0 {
		v.errorf("alerting.group_interval", "must be greater than 0")
	}
	for i, k := range a.GroupBy {
		if !slices.Contains(MatcherKeys, k) {
			v.errorf(fmt.Sprintf("alerting.group_by[%d]", i), "%q: unknown label (allowed: %s)", k, strings.Join(MatcherKeys, ", "))
		}
	}
	if a.FlapThreshold < 0 {
		v.errorf("alerting.flap_threshold", "must be 0 (off) or more")
	}
	if a.FlapWindow <= 0 {
		v.errorf("alerting.flap_window", "must be greater than 0")
	}
	for i, w := range a.MaintenanceWindows {
		p := fmt.Sprintf("alerting.maintenance_windows[%d]", i)
		if _, _, err := w.Window(); err != nil {
			v.errorf(p, "%v", err)
		}
		for _, k := range slices.Sorted(maps.Keys(w.Matchers)) {
			if !slices.Contains(MatcherKeys, k) {
				v.errorf(p+".matchers."+k, "unknown label (allowed: %s)", strings.Join(MatcherKeys, ", "))
			}
		}
	}
	for i, s := range a.Slack {
		if s.WebhookURLFile == "" {
			v.errorf(fmt.Sprintf("alerting.slack[%d].webhook_url_file", i), "missing: a file holding the Slack incoming webhook URL")
		}
	}
	for i, e := range a.Email {
		p := fmt.Sprintf("alerting.email[%d]", i)
		if e.Smarthost == "" {
			v.errorf(p+".smarthost", "missing: the SMTP server as host:port, e.g. mail.example.com:587")
		} else {
			v.hostPort(p+".smarthost", e.Smarthost, true)
		}
		if _, err := mail.ParseAddress(e.From); err != nil {
			v.errorf(p+".from", "%q is not an e-mail address", e.From)
		}
		if len(e.To) == 0 {
			v.errorf(p+".to", "missing: at least one recipient")
		}
		for j, to := range e.To {
			if _, err := mail.ParseAddress(to); err != nil {
				v.errorf(fmt.Sprintf("%s.to[%d]", p, j), "%q is not an e-mail address", to)
			}
		}
		if e.Username != "" && e.PasswordFile == "" {
			v.errorf(p+".password_file", "missing: username is set, so the SMTP password must come from a file")
		}
		if e.PasswordFile != "" && e.Username == "" {
			v.errorf(p+".username", "missing: password_file is set but no username")
		}
	}
	for i, am := range a.Alertmanager {
		p := fmt.Sprintf("alerting.alertmanager[%d].url", i)
		v.httpURL(p, am.URL)
	}
	for i, w := range a.Webhook {
		p := fmt.Sprintf("alerting.webhook[%d]", i)
		switch {
		case w.URL == "" && w.URLFile == "":
			v.errorf(p+".url", "missing: set url or url_file")
		case w.URL != "" && w.URLFile != "":
			v.errorf(p+".url_file", "set url or url_file, not both")
		case w.URL != "":
			v.httpURL(p+".url", w.URL)
		}
	}
}

func (v *validator) httpURL(path, s string) {
	if s == "" {
		v.errorf(path, "missing: an http:// or https:// URL")
		return
	}
	if problem := urlProblem(s); problem != "" {
		v.errorf(path, "%s", problem)
	}
}

// urlProblem says what is wrong with an http(s) URL without repeating it:
// webhook URLs carry tokens in their paths and passwords in their user
// part, and errors end up in logs and HTTP answers.
func urlProblem(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "not a valid URL; write it as http://HOST:PORT/PATH or https://HOST/PATH (it is not repeated here: URLs can hold tokens)"
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("not an http:// or https:// URL (scheme %q)", u.Scheme)
	case u.Host == "":
		return "not an http:// or https:// URL: no host"
	}
	return ""
}
