package ec2sim

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"go.yaml.in/yaml/v3"
)

type scheduled struct {
	at    time.Time
	apply func()
}

// At schedules f for when the simulator's clock reaches t. Due events run
// before the next request is answered (or at Advance), in time order; f may
// call any Sim method.
func (s *Sim) At(t time.Time, f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending = append(s.pending, scheduled{t, f})
	sort.SliceStable(s.pending, func(i, j int) bool { return s.pending[i].at.Before(s.pending[j].at) })
}

// Advance runs the events that are due by the simulator's clock.
func (s *Sim) Advance() {
	s.mu.Lock()
	due := s.popDue()
	s.mu.Unlock()
	for _, f := range due {
		f()
	}
}

func (s *Sim) popDue() []func() {
	now := s.now()
	var due []func()
	for len(s.pending) > 0 && !s.pending[0].at.After(now) {
		due = append(due, s.pending[0].apply)
		s.pending = s.pending[1:]
	}
	return due
}

// applyDue runs due events; called with s.mu held, it releases the lock
// while they run.
func (s *Sim) applyDue() {
	due := s.popDue()
	if len(due) == 0 {
		return
	}
	s.mu.Unlock()
	for _, f := range due {
		f()
	}
	s.mu.Lock()
}

// Scenario is a starting model plus a timeline of changes, written in YAML or
// JSON:
//
//	regions:
//	  ap-northeast-1:
//	    customer_gateways: [{id: cgw-1, ip: 198.51.100.7, bgp_asn: "65000"}]
//	    vpn_connections:
//	      - id: vpn-0a1b2c3d4e5f67890
//	        customer_gateway_id: cgw-1
//	        tunnels:
//	          - {outside_ip: 203.0.113.10, inside_cidr: 169.254.10.0/30, status: UP, status_message: 2 BGP ROUTES, accepted_routes: 2}
//	events:
//	  - at: 30s
//	    region: ap-northeast-1
//	    tunnel: {vpn: vpn-0a1b2c3d4e5f67890, outside_ip: 203.0.113.10, status: DOWN, message: IPSEC IS UP, routes: 0}
//	  - at: 60s
//	    region: ap-northeast-1
//	    customer_gateway: {id: cgw-1, ip: 198.51.100.99}
//	  - at: 90s
//	    throttle: 5
//	  - at: 2m
//	    latency: 3s
//	  - at: 2m10s
//	    region: ap-northeast-1
//	    log: {vpn: vpn-0a1b2c3d4e5f67890, outside_ip: 203.0.113.10, details: "AWS tunnel DPD timed out after 3 retransmits"}
//	  - at: 2m10s
//	    region: ap-northeast-1
//	    log: {vpn: vpn-0a1b2c3d4e5f67890, outside_ip: 203.0.113.10, bgp: DOWN, details: "AWS-side peer sent a Hold Timer Expired notification to neighbor 169.254.10.2"}
//	  - at: 3m
//	    region: ap-northeast-1
//	    traffic: {vpn: vpn-0a1b2c3d4e5f67890, outside_ip: 203.0.113.10, in: 1500000, out: 2500000}
//
// A log event writes an AWS VPN log record into the tunnel's log group (it
// must have log_group, or bgp_log_group for a BGP record) at the event's
// time; a traffic event publishes a TunnelDataIn/Out datapoint.
type Scenario struct {
	Regions map[string]*Region `yaml:"regions" json:"regions"`
	Events  []Event            `yaml:"events" json:"events"`
}

// Event is one change at a time after the scenario starts. Exactly one of
// the change fields is set.
type Event struct {
	At     string `yaml:"at" json:"at"`
	Region string `yaml:"region,omitempty" json:"region,omitempty"`

	Tunnel          *TunnelEvent          `yaml:"tunnel,omitempty" json:"tunnel,omitempty"`
	CustomerGateway *CustomerGatewayEvent `yaml:"customer_gateway,omitempty" json:"customer_gateway,omitempty"`
	VPNState        *VPNStateEvent        `yaml:"vpn_state,omitempty" json:"vpn_state,omitempty"`
	// Throttle answers the next N calls with RequestLimitExceeded.
	Throttle int `yaml:"throttle,omitempty" json:"throttle,omitempty"`
	// Latency delays every answer of Region (or of all regions) from now on;
	// "0s" removes the delay.
	Latency string          `yaml:"latency,omitempty" json:"latency,omitempty"`
	Log     *LogRecordEvent `yaml:"log,omitempty" json:"log,omitempty"`
	Traffic *TrafficEvent   `yaml:"traffic,omitempty" json:"traffic,omitempty"`
}

// LogRecordEvent is one record of AWS's VPN logs: a tunnel activity record, or a
// BGPStatus record when BGP is its status (UP or DOWN).
type LogRecordEvent struct {
	VPN       string `yaml:"vpn" json:"vpn"`
	OutsideIP string `yaml:"outside_ip" json:"outside_ip"`
	Details   string `yaml:"details" json:"details"`
	BGP       string `yaml:"bgp,omitempty" json:"bgp,omitempty"`
	Phase1    string `yaml:"phase1,omitempty" json:"phase1,omitempty"`
	Phase2    string `yaml:"phase2,omitempty" json:"phase2,omitempty"`
}

// TrafficEvent publishes a datapoint of a tunnel's traffic (bytes in the
// minute).
type TrafficEvent struct {
	VPN       string  `yaml:"vpn" json:"vpn"`
	OutsideIP string  `yaml:"outside_ip" json:"outside_ip"`
	In        float64 `yaml:"in" json:"in"`
	Out       float64 `yaml:"out" json:"out"`
}

// TunnelEvent changes a tunnel's telemetry.
type TunnelEvent struct {
	VPN       string `yaml:"vpn" json:"vpn"`
	OutsideIP string `yaml:"outside_ip" json:"outside_ip"`
	Status    string `yaml:"status" json:"status"`
	Message   string `yaml:"message" json:"message"`
	Routes    int    `yaml:"routes" json:"routes"`
}

// CustomerGatewayEvent changes a customer gateway's IP address, as when an
// office moves to a new line, or adds the gateway if it does not exist.
type CustomerGatewayEvent struct {
	ID string `yaml:"id" json:"id"`
	IP string `yaml:"ip" json:"ip"`
}

// VPNStateEvent changes a connection's state (deleting, deleted, …).
type VPNStateEvent struct {
	VPN   string `yaml:"vpn" json:"vpn"`
	State string `yaml:"state" json:"state"`
}

// ParseScenario reads a scenario in YAML (JSON is YAML too); unknown keys are
// errors.
func ParseScenario(data []byte) (*Scenario, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var sc Scenario
	if err := dec.Decode(&sc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("ec2sim scenario: %w", err)
	}
	for i, e := range sc.Events {
		if _, err := e.offset(); err != nil {
			return nil, fmt.Errorf("ec2sim scenario: events[%d].at: %w", i, err)
		}
		n := 0
		for _, set := range []bool{e.Tunnel != nil, e.CustomerGateway != nil, e.VPNState != nil, e.Throttle > 0, e.Latency != "", e.Log != nil, e.Traffic != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			return nil, fmt.Errorf("ec2sim scenario: events[%d]: set exactly one of tunnel, customer_gateway, vpn_state, throttle, latency, log, traffic", i)
		}
		if e.Latency != "" {
			if _, err := time.ParseDuration(e.Latency); err != nil {
				return nil, fmt.Errorf("ec2sim scenario: events[%d].latency: %w", i, err)
			}
		}
		if e.Log != nil && e.Log.BGP != "" && e.Log.BGP != "UP" && e.Log.BGP != "DOWN" {
			return nil, fmt.Errorf("ec2sim scenario: events[%d].log.bgp: %q is not UP or DOWN", i, e.Log.BGP)
		}
		if (e.Tunnel != nil || e.CustomerGateway != nil || e.VPNState != nil || e.Log != nil || e.Traffic != nil) && e.Region == "" {
			return nil, fmt.Errorf("ec2sim scenario: events[%d]: region is required", i)
		}
	}
	return &sc, nil
}

func (e Event) offset() (time.Duration, error) {
	d, err := time.ParseDuration(e.At)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration", e.At)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", e.At)
	}
	return d, nil
}

// Play replaces the model with the scenario's regions and schedules its
// events relative to start. Errors of events (a tunnel that does not exist)
// are reported through onError, which may be nil.
func (s *Sim) Play(sc *Scenario, start time.Time, onError func(error)) {
	s.mu.Lock()
	s.regions = map[string]*Region{}
	for name, r := range sc.Regions {
		cp := *r
		s.regions[name] = &cp
	}
	s.mu.Unlock()
	report := func(err error) {
		if err != nil && onError != nil {
			onError(err)
		}
	}
	for _, e := range sc.Events {
		d, _ := e.offset() // checked by ParseScenario
		s.At(start.Add(d), func() {
			switch {
			case e.Tunnel != nil:
				t := e.Tunnel
				report(s.SetTunnel(e.Region, t.VPN, t.OutsideIP, t.Status, t.Message, t.Routes))
			case e.Log != nil && e.Log.BGP != "":
				report(s.LogBGPStatus(e.Region, e.Log.VPN, e.Log.OutsideIP, start.Add(d), e.Log.BGP, e.Log.Details))
			case e.Log != nil:
				report(s.LogTunnelActivity(e.Region, e.Log.VPN, e.Log.OutsideIP, start.Add(d), TunnelActivity{Details: e.Log.Details, Phase1: e.Log.Phase1, Phase2: e.Log.Phase2, DPDEnabled: true}))
			case e.Traffic != nil:
				s.AddTunnelData(e.Region, e.Traffic.VPN, e.Traffic.OutsideIP, TunnelData{At: start.Add(d).Truncate(time.Minute), In: e.Traffic.In, Out: e.Traffic.Out})
			case e.CustomerGateway != nil:
				s.Update(e.Region, func(r *Region) {
					if g := r.customerGateway(e.CustomerGateway.ID); g != nil {
						g.IP = e.CustomerGateway.IP
						return
					}
					r.CustomerGateways = append(r.CustomerGateways, &CustomerGateway{ID: e.CustomerGateway.ID, IP: e.CustomerGateway.IP})
				})
			case e.VPNState != nil:
				s.Update(e.Region, func(r *Region) {
					if v := r.vpn(e.VPNState.VPN); v != nil {
						v.State = e.VPNState.State
					} else {
						report(fmt.Errorf("ec2sim: %s: no VPN connection %s", e.Region, e.VPNState.VPN))
					}
				})
			case e.Throttle > 0:
				s.ThrottleNext(e.Throttle)
			case e.Latency != "":
				d, _ := time.ParseDuration(e.Latency)
				s.SetLatency(e.Region, d)
			}
		})
	}
}
