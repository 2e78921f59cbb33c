package rtx

import (
	"errors"
	"fmt"
	"regexp"
)

// ErrNotAllowed refuses a command before it reaches the router: vpnwatchd
// only ever reads.
var ErrNotAllowed = errors.New("not on vpnwatchd's read-only command allowlist")

// allowed lists every command the session may send: read-only `show`
// commands and the per-session console settings. Nothing else, ever: no
// `administrator`, no configuration command, no `clear`, no `save`.
var allowed = []*regexp.Regexp{
	regexp.MustCompile(`^show ipsec sa( gateway [0-9]{1,4}( detail)?)?$`),
	regexp.MustCompile(`^show status tunnel [0-9]{1,4}$`),
	regexp.MustCompile(`^show status bgp neighbor( [0-9a-fA-F.:]+( (advertised-routes|received-routes|routes))?)?$`),
	regexp.MustCompile(`^show ip route( summary)?$`),
	regexp.MustCompile(`^show config$`),
	regexp.MustCompile(`^show environment$`),
	regexp.MustCompile(`^show status lan[0-9]$`),
	regexp.MustCompile(`^console lines infinity$`),
	regexp.MustCompile(`^console columns [0-9]{2,3}$`),
}

// CheckAllowed returns nil for an allowlisted command.
func CheckAllowed(cmd string) error {
	for _, re := range allowed {
		if re.MatchString(cmd) {
			return nil
		}
	}
	return fmt.Errorf("%q: %w", cmd, ErrNotAllowed)
}
