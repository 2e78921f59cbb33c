package rtx

import (
	"regexp"
	"strings"
)

// safeLineRE lists the `show config` lines known to hold no secret: the
// ones vpnwatchd reads and the common routing, NAT, filter and service
// settings a support bundle needs. Only these are kept as they are; every
// other line keeps its command words and loses its arguments. An
// allowlist, not a list of known secrets: a credential in a form nobody
// listed (an SNMPv3 key, a RADIUS secret, a DDNS password, a key in hex or
// a keyword variant a future firmware adds) is masked all the same.
var safeLineRE = regexp.MustCompile(`^(?:` + strings.Join([]string{
	`#.*`,
	`tunnel (?:select|enable|disable|encapsulation|endpoint address|template)(?: .*)?`,
	`ipsec (?:tunnel|transport|auto refresh|sa policy|refresh sa|log illegal-spi)(?: .*)?`,
	`ipsec ike (?:remote address|local address|encryption|hash|group|duration|keepalive (?:use|log)|nat-traversal|version|pfs|esp-encapsulation|message-id-control|child-exchange type|log|always-on|restrict-dangling-sa|negotiate-strictly|proposal-limitation|send info|queue length|retry|payload type|backward-compatibility|auto refresh|remote name \S+ ipv4-addr)(?: .*)?`,
	`ip (?:tunnel|lan[0-9]|pp|route|filter|routing|keepalive|icmp|fragment|stealth|host)(?: .*)?`,
	`ipv6 (?:lan[0-9]|pp|tunnel|route|filter|routing|prefix)(?: .*)?`,
	`bgp (?:use|autonomous-system|router id|neighbor [0-9]+|import|export|configure refresh|log|preference|aggregate|force-to-advertise)(?: .*)?`,
	`nat descriptor(?: .*)?`,
	`pp (?:select|enable|disable|always-on|auth (?:accept|request)|keepalive)(?: .*)?`,
	`ppp (?:lcp|ipcp|ipv6cp|ccp|chap|pap)(?: .*)?`,
	`pppoe (?:use|auto connect|auto disconnect|disconnect time|session)(?: .*)?`,
	`console (?:character|columns|lines|prompt|info)(?: .*)?`,
	`(?:syslog|timezone|dns|dhcp|sntpd|telnetd|sshd|httpd|statistics|security class|switch control|lan (?:type|link-aggregation)|vlan|bridge|operation|system)(?: .*)?`,
}, "|") + `)$`)

// secretWordRE finds argument words that name a credential: a line that
// has one is masked even if its command is on the allowlist.
var secretWordRE = regexp.MustCompile(`(?i)(?:^| )(?:pre-shared-key|password|passwd|secret|community|myname|username|key|auth-key|priv|psk|token|user)(?: |=|$)`)

// RedactConfig masks every `show config` line not known to be safe
// (safeLineRE), keeping its command words: "pp auth myname <redacted>",
// "snmp community <redacted>". Line structure (indentation, CRs) is kept so
// that the parser still reads the bundle.
func RedactConfig(text string) string {
	ls := strings.Split(text, "\n")
	for i, l := range ls {
		cr := strings.HasSuffix(l, "\r")
		l = RedactConfigLine(strings.TrimSuffix(l, "\r"))
		if cr {
			l += "\r"
		}
		ls[i] = l
	}
	return strings.Join(ls, "\n")
}

// keyNumberRE keeps which gateway or neighbor a pre-shared key belongs to
// (useful to support, not secret) and nothing of the key.
var keyNumberRE = regexp.MustCompile(`^((?:ipsec ike|bgp neighbor) pre-shared-key [0-9]+) `)

// RedactConfigLine is RedactConfig for one line.
func RedactConfigLine(l string) string {
	body := strings.TrimLeft(l, " \t")
	indent := l[:len(l)-len(body)]
	norm := strings.Join(strings.Fields(body), " ")
	if norm == "" || safeLineRE.MatchString(norm) && !secretWordRE.MatchString(norm) {
		return l
	}
	if m := keyNumberRE.FindStringSubmatch(norm); m != nil {
		return indent + m[1] + " <redacted>"
	}
	f := strings.Fields(norm)
	if len(f) == 1 && commandWord(f[0]) {
		return l // a bare command word has no argument to hide
	}
	kw := f[0]
	if !commandWord(kw) {
		return indent + "<redacted>"
	}
	if len(f) > 1 && commandWord(f[1]) {
		kw += " " + f[1]
	}
	return indent + kw + " <redacted>"
}

// commandWord reports whether w looks like an RTX command word: lower-case
// letters and hyphens.
func commandWord(w string) bool {
	return w != "" && strings.IndexFunc(w, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r == '-') }) < 0
}
