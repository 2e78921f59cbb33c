// Package ec2sim is a stand-in for the EC2 API that the real AWS SDK talks
// to over HTTP: it speaks the EC2 Query protocol (form-encoded POST,
// Version=2016-11-15, XML answers with the element names the SDK's
// deserializers read) for DescribeVpnConnections, DescribeCustomerGateways,
// GetVpnTunnelReplacementStatus and STS AssumeRole, from a model of VPN
// connections that tests and the demo script over time. Nobody can reach
// AWS from the test machines; this is how vpnwatchd's AWS side is tested.
package ec2sim

import (
	"time"
)

// VPNConnection is a Site-to-Site VPN connection in the model.
type VPNConnection struct {
	ID                string            `json:"id" yaml:"id"`
	State             string            `json:"state,omitempty" yaml:"state,omitempty"` // available (default), pending, deleting, deleted
	CustomerGatewayID string            `json:"customer_gateway_id" yaml:"customer_gateway_id"`
	VPNGatewayID      string            `json:"vpn_gateway_id,omitempty" yaml:"vpn_gateway_id,omitempty"`
	TransitGatewayID  string            `json:"transit_gateway_id,omitempty" yaml:"transit_gateway_id,omitempty"`
	StaticRoutesOnly  bool              `json:"static_routes_only,omitempty" yaml:"static_routes_only,omitempty"`
	StaticRoutes      []string          `json:"static_routes,omitempty" yaml:"static_routes,omitempty"`
	Tags              map[string]string `json:"tags,omitempty" yaml:"tags,omitempty"`
	Tunnels           []*Tunnel         `json:"tunnels" yaml:"tunnels"`
}

// Tunnel is one tunnel of a connection: its options and its telemetry.
type Tunnel struct {
	OutsideIP        string    `json:"outside_ip" yaml:"outside_ip"`
	InsideCIDR       string    `json:"inside_cidr" yaml:"inside_cidr"`
	Status           string    `json:"status" yaml:"status"` // UP or DOWN
	StatusMessage    string    `json:"status_message" yaml:"status_message"`
	AcceptedRoutes   int       `json:"accepted_routes" yaml:"accepted_routes"`
	LastStatusChange time.Time `json:"last_status_change,omitzero" yaml:"last_status_change,omitempty"`
	// Zero lifetimes and DPD values are left out of the answer, as AWS does
	// for tunnels created with the defaults.
	Phase1LifetimeSeconds int    `json:"phase1_lifetime_seconds,omitempty" yaml:"phase1_lifetime_seconds,omitempty"`
	Phase2LifetimeSeconds int    `json:"phase2_lifetime_seconds,omitempty" yaml:"phase2_lifetime_seconds,omitempty"`
	DPDTimeoutSeconds     int    `json:"dpd_timeout_seconds,omitempty" yaml:"dpd_timeout_seconds,omitempty"`
	DPDTimeoutAction      string `json:"dpd_timeout_action,omitempty" yaml:"dpd_timeout_action,omitempty"`
	StartupAction         string `json:"startup_action,omitempty" yaml:"startup_action,omitempty"`
	// PendingMaintenance, when set, is returned by
	// GetVpnTunnelReplacementStatus with MaintenanceAutoAppliedAfter.
	PendingMaintenance          string    `json:"pending_maintenance,omitempty" yaml:"pending_maintenance,omitempty"`
	MaintenanceAutoAppliedAfter time.Time `json:"maintenance_auto_applied_after,omitzero" yaml:"maintenance_auto_applied_after,omitempty"`
	// LogGroup and BGPLogGroup, when set, turn AWS's tunnel activity and
	// BGP logs on for the tunnel, into these log group ARNs (JSON format).
	LogGroup    string `json:"log_group,omitempty" yaml:"log_group,omitempty"`
	BGPLogGroup string `json:"bgp_log_group,omitempty" yaml:"bgp_log_group,omitempty"`
}

// CustomerGateway is a customer gateway in the model.
type CustomerGateway struct {
	ID         string            `json:"id" yaml:"id"`
	IP         string            `json:"ip" yaml:"ip"`
	BGPASN     string            `json:"bgp_asn,omitempty" yaml:"bgp_asn,omitempty"`
	State      string            `json:"state,omitempty" yaml:"state,omitempty"`
	DeviceName string            `json:"device_name,omitempty" yaml:"device_name,omitempty"`
	Tags       map[string]string `json:"tags,omitempty" yaml:"tags,omitempty"`
}

// Region is the model of one region.
type Region struct {
	CustomerGateways []*CustomerGateway `json:"customer_gateways,omitempty" yaml:"customer_gateways,omitempty"`
	VPNConnections   []*VPNConnection   `json:"vpn_connections,omitempty" yaml:"vpn_connections,omitempty"`
}

func (r *Region) vpn(id string) *VPNConnection {
	for _, v := range r.VPNConnections {
		if v.ID == id {
			return v
		}
	}
	return nil
}

func (r *Region) customerGateway(id string) *CustomerGateway {
	for _, g := range r.CustomerGateways {
		if g.ID == id {
			return g
		}
	}
	return nil
}

func (v *VPNConnection) tunnel(outsideIP string) *Tunnel {
	for _, t := range v.Tunnels {
		if t.OutsideIP == outsideIP {
			return t
		}
	}
	return nil
}
