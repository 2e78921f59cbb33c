package ec2sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// CloudWatch Logs: the simulator also answers FilterLogEvents (the JSON 1.1
// protocol the SDK's cloudwatchlogs client speaks: POST with
// X-Amz-Target: Logs_20140328.FilterLogEvents), so that one endpoint serves
// every AWS service the poller calls, as AWS_ENDPOINT_URL does. Events are
// what AWS Site-to-Site VPN writes into its log groups.

// LogEvent is one event of a log group.
type LogEvent struct {
	Stream  string
	Time    time.Time // the event's timestamp
	Message string
	id      int
}

type logState struct {
	groups   map[string][]LogEvent // by log group name or ARN
	nextID   int
	pageSize int // events per page; 0: 10,000 as AWS
	empty    int // answer this many of the next calls with an empty page that has a new nextToken, as AWS may
	tokens   int // nextTokens handed out, so that each is new
	throttle int // throttle this many of the next FilterLogEvents calls
}

// ThrottleLogs makes the next n FilterLogEvents calls fail with
// ThrottlingException, as CloudWatch Logs does past its request quota.
func (s *Sim) ThrottleLogs(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logs.throttle = n
}

// AddLogEvent appends an event to a log group (by the name or ARN the
// caller will ask for). An event may be added with an earlier time than
// events already there: late delivery.
func (s *Sim) AddLogEvent(group, stream string, at time.Time, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.logs.groups == nil {
		s.logs.groups = map[string][]LogEvent{}
	}
	s.logs.nextID++
	s.logs.groups[group] = append(s.logs.groups[group], LogEvent{Stream: stream, Time: at, Message: message, id: s.logs.nextID})
}

// SetLogPage makes FilterLogEvents answer at most n events a page, and, with
// emptyFirst, answer the next call with an empty page and a nextToken.
func (s *Sim) SetLogPage(n int, emptyFirst bool) {
	s.mu.Lock()
	s.logs.pageSize = n
	if emptyFirst {
		s.logs.empty = 1
	}
	s.mu.Unlock()
}

// EmptyLogPages answers the next n FilterLogEvents calls with empty pages,
// each with a nextToken never given before, as CloudWatch Logs may while it
// scans a long time range (or a hostile endpoint does without end); the
// events come after the run, from where the token says.
func (s *Sim) EmptyLogPages(n int) {
	s.mu.Lock()
	s.logs.empty = n
	s.mu.Unlock()
}

type filterInput struct {
	LogGroupName        string  `json:"logGroupName"`
	LogGroupIdentifier  string  `json:"logGroupIdentifier"`
	LogStreamNamePrefix string  `json:"logStreamNamePrefix"`
	StartTime           *int64  `json:"startTime"`
	EndTime             *int64  `json:"endTime"`
	NextToken           *string `json:"nextToken"`
	Limit               *int32  `json:"limit"`
}

type filteredEvent struct {
	EventID       string `json:"eventId"`
	IngestionTime int64  `json:"ingestionTime"`
	LogStreamName string `json:"logStreamName"`
	Message       string `json:"message"`
	Timestamp     int64  `json:"timestamp"`
}

// serveLogs answers a CloudWatch Logs call; s.mu is held.
func (s *Sim) serveLogs(w http.ResponseWriter, target string, body []byte) {
	jsonErr := func(status int, code, msg string) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("X-Amzn-ErrorType", code)
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
	}
	if target != "Logs_20140328.FilterLogEvents" {
		jsonErr(http.StatusBadRequest, "UnknownOperationException", "ec2sim serves FilterLogEvents only")
		return
	}
	if s.throttle > 0 || s.logs.throttle > 0 {
		if s.logs.throttle > 0 {
			s.logs.throttle--
		} else {
			s.throttle--
		}
		jsonErr(http.StatusBadRequest, "ThrottlingException", "Rate exceeded")
		return
	}
	var in filterInput
	if err := json.Unmarshal(body, &in); err != nil {
		jsonErr(http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	group := in.LogGroupName
	if group == "" {
		group = in.LogGroupIdentifier
	}
	events, ok := s.logs.groups[group]
	if !ok {
		jsonErr(http.StatusBadRequest, "ResourceNotFoundException", "The specified log group does not exist.")
		return
	}
	out := struct {
		Events    []filteredEvent `json:"events"`
		NextToken *string         `json:"nextToken,omitempty"`
	}{Events: []filteredEvent{}}
	// A token is "t<index of the next event>.<serial>": the serial makes
	// each token new.
	start := 0
	if in.NextToken != nil {
		at, _, _ := strings.Cut(strings.TrimPrefix(*in.NextToken, "t"), ".")
		start, _ = strconv.Atoi(at)
	}
	token := func(next int) *string {
		s.logs.tokens++
		tok := "t" + strconv.Itoa(next) + "." + strconv.Itoa(s.logs.tokens)
		return &tok
	}
	var match []LogEvent
	for _, e := range events {
		ms := e.Time.UnixMilli()
		if in.StartTime != nil && ms < *in.StartTime || in.EndTime != nil && ms > *in.EndTime || !strings.HasPrefix(e.Stream, in.LogStreamNamePrefix) {
			continue
		}
		match = append(match, e)
	}
	slices.SortStableFunc(match, func(a, b LogEvent) int { return a.Time.Compare(b.Time) })
	page := s.logs.pageSize
	if page == 0 {
		page = 10000
	}
	if in.Limit != nil && int(*in.Limit) < page {
		page = int(*in.Limit)
	}
	if s.logs.empty > 0 {
		s.logs.empty--
		out.NextToken = token(start)
	} else {
		for i := start; i < len(match) && len(out.Events) < page; i++ {
			e := match[i]
			out.Events = append(out.Events, filteredEvent{EventID: fmt.Sprintf("%056d", e.id), IngestionTime: e.Time.UnixMilli() + 1000,
				LogStreamName: e.Stream, Message: e.Message, Timestamp: e.Time.UnixMilli()})
		}
		if next := start + len(out.Events); next < len(match) {
			out.NextToken = token(next)
		}
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	json.NewEncoder(w).Encode(out)
}

// VPN log records as AWS Site-to-Site VPN writes them in the JSON output
// format (AWS Site-to-Site VPN User Guide, "Contents of Site-to-Site VPN
// logs"): a tunnel activity record carries no VPN id or outside IP (they
// are in the stream name), a BGP record names its tunnel in resource_id.
// The stream names `<vpn-id>_<outside-ip>-IKE.log` / `-BGP.log` follow
// what has been seen published; the reader accepts the bare form too.

// TunnelActivity is one tunnel activity (IKE, IPsec, DPD) record.
type TunnelActivity struct {
	Details        string
	Phase1, Phase2 string // Established, Rekeying, Negotiating, Down
	DPDEnabled     bool
	NATTDetected   bool
}

// LogTunnelActivity writes a tunnel activity record into the tunnel's log
// group at at; an error when the tunnel does not log.
func (s *Sim) LogTunnelActivity(region, vpnID, outsideIP string, at time.Time, r TunnelActivity) error {
	rec, _ := json.Marshal(map[string]any{
		"event_timestamp": at.Unix(), "details": r.Details, "dpd_enabled": r.DPDEnabled, "nat_t_detected": r.NATTDetected,
		"ike_phase1_state": r.Phase1, "ike_phase2_state": r.Phase2,
	})
	return s.logTo(region, vpnID, outsideIP, false, at, string(rec))
}

// LogBGPStatus writes a BGPStatus record (status UP or DOWN) into the
// tunnel's BGP log group.
func (s *Sim) LogBGPStatus(region, vpnID, outsideIP string, at time.Time, status, details string) error {
	return s.logTo(region, vpnID, outsideIP, true, at, bgpRecord(vpnID, outsideIP, at, "BGPStatus", status, map[string]any{"details": details}))
}

// LogRouteStatus writes a RouteStatus record (ADVERTISED, UPDATED,
// WITHDRAWN) about a route the customer gateway advertised; denied, when
// not "", is why AWS refused it ("as-path contains our own AS").
func (s *Sim) LogRouteStatus(region, vpnID, outsideIP string, at time.Time, status, prefix, asPath, nextHop, denied string) error {
	msg := map[string]any{"prefix": prefix, "asPath": asPath, "localPref": 100, "med": 100, "nextHopIp": nextHop, "weight": 32768}
	if denied != "" {
		msg["details"] = "DENIED due to: " + denied
	}
	return s.logTo(region, vpnID, outsideIP, true, at, bgpRecord(vpnID, outsideIP, at, "RouteStatus", status, msg))
}

func bgpRecord(vpnID, outsideIP string, at time.Time, typ, status string, msg map[string]any) string {
	rec, _ := json.Marshal(map[string]any{
		"resource_id": vpnID + "_" + outsideIP, "event_timestamp": at.UnixMilli(),
		"timestamp": at.UTC().Format("2006-01-02 15:04:05.000Z"), "type": typ, "status": status, "message": msg,
	})
	return string(rec)
}

func (s *Sim) logTo(region, vpnID, outsideIP string, bgp bool, at time.Time, record string) error {
	s.mu.Lock()
	v := s.region(region).vpn(vpnID)
	var group string
	if v != nil {
		if t := v.tunnel(outsideIP); t != nil {
			group = t.LogGroup
			if bgp {
				group = t.BGPLogGroup
			}
		}
	}
	s.mu.Unlock()
	if group == "" {
		return fmt.Errorf("ec2sim: %s: tunnel %s of %s does not log (set its LogGroup/BGPLogGroup)", region, outsideIP, vpnID)
	}
	suffix := "-IKE.log"
	if bgp {
		suffix = "-BGP.log"
	}
	s.AddLogEvent(strings.TrimSuffix(group, ":*"), vpnID+"_"+outsideIP+suffix, at, record)
	return nil
}
