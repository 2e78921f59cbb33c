package rtx

import (
	"regexp"
	"strings"
)

// secretLineRE matches the configuration lines that hold secrets, with the
// part to keep in group 1:
//
//	ipsec ike pre-shared-key 1 text SECRET
//	login password SECRET / administrator password SECRET
//	login user NAME SECRET
//	pp auth myname NAME SECRET / pp auth username NAME SECRET
//	bgp neighbor pre-shared-key N text SECRET
var secretLineRE = regexp.MustCompile(`^(\s*(?:ipsec ike pre-shared-key \S+ (?:text|hex)|bgp neighbor pre-shared-key \S+ (?:text|hex)|login password(?: encrypted)?|administrator password(?: encrypted)?|login user \S+(?: encrypted)?|pp auth (?:myname|username) \S+|ip pp auth \S+ \S+|l2tp tunnel auth on|ipsec ike local name \S+ \S+ key)) \S.*$`)

// RedactConfig replaces the secrets of `show config` output with
// "<redacted>" (pre-shared keys, passwords), keeping every other line as it
// was, for support bundles.
func RedactConfig(text string) string {
	ls := strings.Split(text, "\n")
	for i, l := range ls {
		cr := strings.HasSuffix(l, "\r")
		l = strings.TrimSuffix(l, "\r")
		if m := secretLineRE.FindStringSubmatch(l); m != nil {
			l = m[1] + " <redacted>"
		}
		if cr {
			l += "\r"
		}
		ls[i] = l
	}
	return strings.Join(ls, "\n")
}
