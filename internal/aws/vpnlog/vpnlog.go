// Package vpnlog reads the records of AWS Site-to-Site VPN's own logs: the
// tunnel activity log (IKE, IPsec, DPD) and the BGP log, in JSON or text
// output format, into events with the tunnel they are about and what they
// mean. Pure parsing: no AWS call here (the reader that fetches records
// from CloudWatch Logs is the next step of issue #19). Formats and
// messages: shared/notes/aws-vpn-logs.md, from AWS's "Contents of
// Site-to-Site VPN logs" page.
package vpnlog

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Kinds of log.
const (
	KindTunnel = "tunnel" // tunnel activity: IKE, IPsec, DPD
	KindBGP    = "bgp"
)

// Classes say what a record means, from its message.
const (
	ClassPSKMismatch         = "psk-mismatch"
	ClassProposalMismatch    = "proposal-mismatch"
	ClassTSUnacceptable      = "traffic-selector-unacceptable"
	ClassAuthFailed          = "authentication-failed"
	ClassDPDTimeout          = "dpd-timeout"
	ClassPeerDead            = "peer-dead"
	ClassPhase2Failed        = "phase2-failed"
	ClassHalfOpenIKE         = "half-open-ike"
	ClassDeleteFromCGW       = "delete-from-cgw"
	ClassRekeyRequest        = "rekey-request"  // AWS starts a CREATE_CHILD_SA
	ClassRekeyResponse       = "rekey-response" // the answer to it
	ClassRekeyPeer           = "rekey-peer"     // the customer gateway starts one
	ClassRekeyCollision      = "rekey-collision"
	ClassBGPStateChange      = "bgp-state-change"
	ClassBGPHoldTimerExpired = "bgp-hold-timer-expired"
	ClassBGPASNMismatch      = "bgp-asn-mismatch"
	ClassBGPPrefixWarning    = "bgp-prefix-limit-warning"
	ClassBGPPrefixExceeded   = "bgp-prefix-limit-exceeded"
	ClassBGPCease            = "bgp-cease"
	ClassRouteDenied         = "route-denied"
)

// Event is one record.
type Event struct {
	Kind            string
	Time            time.Time
	VPNConnectionID string
	OutsideIP       string
	// Details is the record's message (the whole line for a text record).
	Details string
	// Tunnel activity: IKE phase states (Established, Rekeying,
	// Negotiating, Down; "" when absent), DPD and NAT-T flags.
	Phase1, Phase2         string
	DPDEnabled, NATTDetect *bool
	// BGP: record type (BGPStatus, RouteStatus), status (UP, DOWN;
	// ADVERTISED, UPDATED, WITHDRAWN), and the route of a RouteStatus.
	Type, Status            string
	Prefix, ASPath, NextHop string
	// Class is what the message means (Class… constants), "" for messages
	// with no meaning of their own.
	Class string
	// Raw is the record as received: always kept, for evidence and for
	// records that do not parse.
	Raw string
}

// ErrUnreadable is a record that looks like JSON and does not decode: it is
// returned with the raw text kept, never dropped.
var ErrUnreadable = errors.New("AWS VPN log record not understood")

var streamRE = regexp.MustCompile(`^(vpn-[0-9a-f]+)_([0-9a-fA-F.:]+?)(?:-(?:IKE|BGP|ike|bgp)(?:\.log)?)?$`)

// ParseStreamName reads the VPN connection and tunnel outside IP from a
// stream name: `vpn-0123456789abcdef0_203.0.113.10-IKE.log`,
// `…-BGP.log`, or the bare `vpn-1234abcd_1.2.3.4` of a BGP resource_id.
func ParseStreamName(name string) (vpnID, outsideIP string, ok bool) {
	m := streamRE.FindStringSubmatch(name)
	if m == nil {
		return "", "", false
	}
	if _, err := netip.ParseAddr(m[2]); err != nil {
		return "", "", false
	}
	return m[1], m[2], true
}

// tunnelRecord and bgpRecord are the JSON shapes; numbers and flags are
// read leniently (a string "true", seconds or milliseconds).
type record struct {
	EventTimestamp json.Number     `json:"event_timestamp"`
	Timestamp      string          `json:"timestamp"`
	Details        string          `json:"details"`
	DPDEnabled     json.RawMessage `json:"dpd_enabled"`
	NATTDetected   json.RawMessage `json:"nat_t_detected"`
	Phase1         string          `json:"ike_phase1_state"`
	Phase2         string          `json:"ike_phase2_state"`
	ResourceID     string          `json:"resource_id"`
	Type           string          `json:"type"`
	Status         string          `json:"status"`
	Message        json.RawMessage `json:"message"`
}

type bgpMessage struct {
	Details string `json:"details"`
	Prefix  string `json:"prefix"`
	// ASPath is a string in AWS's example ("64512"); a path of several
	// ASes has spaces, and a bare number is read too.
	ASPath    json.RawMessage `json:"asPath"`
	NextHopIP string          `json:"nextHopIp"`
}

// Parse reads one record of stream (whose name carries the tunnel for
// tunnel activity records). at is the time CloudWatch gave the event, used
// when the record has none. A record that looks like JSON and does not
// decode comes back with Raw and Details set and ErrUnreadable.
func Parse(msg, stream string, at time.Time) (Event, error) {
	e := Event{Kind: KindTunnel, Time: at, Raw: msg}
	e.VPNConnectionID, e.OutsideIP, _ = ParseStreamName(stream)
	if strings.Contains(strings.ToUpper(stream), "BGP") {
		e.Kind = KindBGP
	}
	s := strings.TrimSpace(msg)
	if !strings.HasPrefix(s, "{") {
		// Text output format: no public sample; the line is the message.
		e.Details = s
		e.Class = Classify(s)
		return e, nil
	}
	var r record
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	if err := dec.Decode(&r); err != nil {
		e.Details = s
		return e, fmt.Errorf("%w: %v", ErrUnreadable, err)
	}
	if t, ok := eventTime(r.EventTimestamp, r.Timestamp); ok {
		e.Time = t
	}
	if r.ResourceID != "" || r.Type != "" {
		e.Kind = KindBGP
		if id, ip, ok := ParseStreamName(r.ResourceID); ok {
			e.VPNConnectionID, e.OutsideIP = id, ip
		}
		e.Type, e.Status = r.Type, strings.ToUpper(r.Status)
		var m bgpMessage
		if len(r.Message) > 0 {
			if r.Message[0] == '"' {
				json.Unmarshal(r.Message, &m.Details)
			} else {
				d := json.NewDecoder(strings.NewReader(string(r.Message)))
				d.UseNumber()
				if err := d.Decode(&m); err != nil {
					e.Details = s
					return e, fmt.Errorf("%w: message: %v", ErrUnreadable, err)
				}
			}
		}
		e.Details, e.Prefix, e.ASPath, e.NextHop = m.Details, m.Prefix, asPath(m.ASPath), m.NextHopIP
		e.Class = Classify(e.Details)
		if e.Class == "" && strings.EqualFold(e.Type, "BGPStatus") && strings.Contains(e.Details, "state has changed") {
			e.Class = ClassBGPStateChange
		}
		return e, nil
	}
	e.Details = r.Details
	e.Phase1, e.Phase2 = state(r.Phase1), state(r.Phase2)
	e.DPDEnabled, e.NATTDetect = flag(r.DPDEnabled), flag(r.NATTDetected)
	e.Class = Classify(e.Details)
	return e, nil
}

// eventTime reads event_timestamp in seconds or milliseconds, else the
// readable timestamp.
func eventTime(n json.Number, readable string) (time.Time, bool) {
	if f, err := n.Float64(); err == nil && f > 0 {
		if f > 1e12 { // milliseconds
			return time.UnixMilli(int64(f)).UTC(), true
		}
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), true
	}
	for _, layout := range []string{"2006-01-02 15:04:05.999Z", "2006-01-02 15:04:05Z", time.RFC3339Nano} {
		if t, err := time.Parse(layout, readable); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// state normalises an IKE phase state to its documented spelling, in any
// letter case.
func state(s string) string {
	for _, v := range []string{"Established", "Rekeying", "Negotiating", "Down"} {
		if strings.EqualFold(s, v) {
			return v
		}
	}
	return s
}

// flag reads a JSON bool, or "true"/"false" as a string; nil when absent.
func flag(raw json.RawMessage) *bool {
	s := strings.Trim(strings.TrimSpace(string(raw)), `"`)
	if b, err := strconv.ParseBool(s); err == nil {
		return &b
	}
	return nil
}

// classes maps the messages AWS documents to what they mean; matched
// case-insensitively as substrings, first match wins.
var classes = []struct{ substr, class string }{
	{"invalid pre-shared key", ClassPSKMismatch},
	{"pre-shared key mismatch", ClassPSKMismatch},
	{"authentication_failed", ClassAuthFailed},
	{"no proposal match found", ClassProposalMismatch},
	{"no proposal chosen", ClassProposalMismatch},
	{"ts_unacceptable", ClassTSUnacceptable},
	{"dpd timed out", ClassDPDTimeout},
	{"declaring peer dead", ClassPeerDead},
	{"phase 2 was unable to establish", ClassPhase2Failed},
	{"deleting un-established phase 1", ClassHalfOpenIKE},
	{"received delete for", ClassDeleteFromCGW},
	{"collision", ClassRekeyCollision},
	{"is sending request", ClassRekeyRequest},
	{"processed response", ClassRekeyResponse},
	{"processed request", ClassRekeyPeer},
	{"is sending response", ClassRekeyPeer},
	{"hold timer expired", ClassBGPHoldTimerExpired},
	{"bad open message", ClassBGPASNMismatch},
	{"maximum prefix limit warning", ClassBGPPrefixWarning},
	{"maximum prefix limit was exceeded", ClassBGPPrefixExceeded},
	{"notification 6/", ClassBGPCease},
	{"denied due to", ClassRouteDenied},
}

// Classify says what a message means; "" when it has no meaning of its own.
func Classify(details string) string {
	d := strings.ToLower(details)
	for _, c := range classes {
		if strings.Contains(d, c.substr) {
			if (c.class == ClassRekeyRequest || c.class == ClassRekeyResponse || c.class == ClassRekeyPeer) && !strings.Contains(d, "create_child_sa") {
				continue
			}
			return c.class
		}
	}
	return ""
}

// asPath reads an asPath value: a string, a number, or a list of either.
func asPath(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) == nil {
		var parts []string
		for _, x := range list {
			parts = append(parts, asPath(x))
		}
		return strings.Join(parts, " ")
	}
	return strings.TrimSpace(string(raw)) // a number as written
}
