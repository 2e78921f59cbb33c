package ec2sim

import "encoding/xml"

// The response documents, with the element names aws-sdk-go-v2's EC2
// deserializers match (service/ec2/deserializers.go; case-insensitively,
// unknown elements skipped). Lists are <xxxSet> or <routes>/<vgwTelemetry>
// with <item> children.

const xmlns = "http://ec2.amazonaws.com/doc/2016-11-15/"

type describeVpnConnectionsResponse struct {
	XMLName   xml.Name        `xml:"DescribeVpnConnectionsResponse"`
	Xmlns     string          `xml:"xmlns,attr"`
	RequestID string          `xml:"requestId"`
	Items     []vpnConnection `xml:"vpnConnectionSet>item"`
}

type vpnConnection struct {
	ID                string         `xml:"vpnConnectionId"`
	State             string         `xml:"state"`
	CGWConfiguration  string         `xml:"customerGatewayConfiguration,omitempty"`
	CustomerGatewayID string         `xml:"customerGatewayId"`
	Category          string         `xml:"category"`
	Type              string         `xml:"type"`
	VPNGatewayID      string         `xml:"vpnGatewayId,omitempty"`
	TransitGatewayID  string         `xml:"transitGatewayId,omitempty"`
	Options           vpnOptions     `xml:"options"`
	Routes            []staticRoute  `xml:"routes>item"`
	Telemetry         []vgwTelemetry `xml:"vgwTelemetry>item"`
	Tags              []tag          `xml:"tagSet>item"`
}

type vpnOptions struct {
	EnableAcceleration    bool           `xml:"enableAcceleration"`
	StaticRoutesOnly      bool           `xml:"staticRoutesOnly"`
	LocalIPv4NetworkCidr  string         `xml:"localIpv4NetworkCidr"`
	RemoteIPv4NetworkCidr string         `xml:"remoteIpv4NetworkCidr"`
	OutsideIPAddressType  string         `xml:"outsideIpAddressType"`
	TunnelInsideIPVersion string         `xml:"tunnelInsideIpVersion"`
	Tunnels               []tunnelOption `xml:"tunnelOptionSet>item"`
}

type tunnelOption struct {
	OutsideIP             string  `xml:"outsideIpAddress"`
	InsideCIDR            string  `xml:"tunnelInsideCidr"`
	Phase1LifetimeSeconds int     `xml:"phase1LifetimeSeconds,omitempty"`
	Phase2LifetimeSeconds int     `xml:"phase2LifetimeSeconds,omitempty"`
	DPDTimeoutSeconds     int     `xml:"dpdTimeoutSeconds,omitempty"`
	DPDTimeoutAction      string  `xml:"dpdTimeoutAction,omitempty"`
	IKEVersions           []value `xml:"ikeVersionSet>item"`
	StartupAction         string  `xml:"startupAction,omitempty"`
	// LogOptions is always there, both switches false when logging is off
	// (shared/aws-samples/describe-vpn-connections.*.xml).
	LogOptions cloudWatchLogOptions `xml:"logOptions>cloudWatchLogOptions"`
}

type cloudWatchLogOptions struct {
	LogEnabled         bool   `xml:"logEnabled"`
	LogGroupArn        string `xml:"logGroupArn,omitempty"`
	LogOutputFormat    string `xml:"logOutputFormat,omitempty"`
	BGPLogEnabled      bool   `xml:"bgpLogEnabled"`
	BGPLogGroupArn     string `xml:"bgpLogGroupArn,omitempty"`
	BGPLogOutputFormat string `xml:"bgpLogOutputFormat,omitempty"`
}

type value struct {
	Value string `xml:"value"`
}

type staticRoute struct {
	DestinationCidrBlock string `xml:"destinationCidrBlock"`
	Source               string `xml:"source"`
	State                string `xml:"state"`
}

type vgwTelemetry struct {
	OutsideIP          string `xml:"outsideIpAddress"`
	Status             string `xml:"status"`
	LastStatusChange   string `xml:"lastStatusChange"`
	StatusMessage      string `xml:"statusMessage"`
	AcceptedRouteCount int    `xml:"acceptedRouteCount"`
}

type tag struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

type describeCustomerGatewaysResponse struct {
	XMLName   xml.Name          `xml:"DescribeCustomerGatewaysResponse"`
	Xmlns     string            `xml:"xmlns,attr"`
	RequestID string            `xml:"requestId"`
	Items     []customerGateway `xml:"customerGatewaySet>item"`
}

type customerGateway struct {
	ID         string `xml:"customerGatewayId"`
	State      string `xml:"state"`
	Type       string `xml:"type"`
	IPAddress  string `xml:"ipAddress"`
	BGPASN     string `xml:"bgpAsn,omitempty"`
	DeviceName string `xml:"deviceName,omitempty"`
	Tags       []tag  `xml:"tagSet>item"`
}

type getVpnTunnelReplacementStatusResponse struct {
	XMLName          xml.Name            `xml:"GetVpnTunnelReplacementStatusResponse"`
	Xmlns            string              `xml:"xmlns,attr"`
	RequestID        string              `xml:"requestId"`
	VPNConnectionID  string              `xml:"vpnConnectionId"`
	VPNGatewayID     string              `xml:"vpnGatewayId,omitempty"`
	TransitGatewayID string              `xml:"transitGatewayId,omitempty"`
	CustomerGateway  string              `xml:"customerGatewayId"`
	OutsideIP        string              `xml:"vpnTunnelOutsideIpAddress"`
	Maintenance      *maintenanceDetails `xml:"maintenanceDetails,omitempty"`
}

type maintenanceDetails struct {
	PendingMaintenance          string `xml:"pendingMaintenance,omitempty"`
	MaintenanceAutoAppliedAfter string `xml:"maintenanceAutoAppliedAfter,omitempty"`
	LastMaintenanceApplied      string `xml:"lastMaintenanceApplied,omitempty"`
}

// assumeRoleResponse is STS's answer (namespace 2011-06-15), for role_arn.
type assumeRoleResponse struct {
	XMLName xml.Name `xml:"AssumeRoleResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Result  struct {
		Credentials struct {
			AccessKeyID     string `xml:"AccessKeyId"`
			SecretAccessKey string `xml:"SecretAccessKey"`
			SessionToken    string `xml:"SessionToken"`
			Expiration      string `xml:"Expiration"`
		} `xml:"Credentials"`
		AssumedRoleUser struct {
			Arn           string `xml:"Arn"`
			AssumedRoleID string `xml:"AssumedRoleId"`
		} `xml:"AssumedRoleUser"`
	} `xml:"AssumeRoleResult"`
	RequestID string `xml:"ResponseMetadata>RequestId"`
}

// errorResponse is the EC2 error document; the SDK reads these names
// case-sensitively (aws/protocol/ec2query/error_utils.go).
type errorResponse struct {
	XMLName   xml.Name `xml:"Response"`
	Errors    []apiErr `xml:"Errors>Error"`
	RequestID string   `xml:"RequestID"`
}

type apiErr struct {
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

// cgwConfiguration is the customer gateway configuration document AWS puts
// in every pending or available connection of DescribeVpnConnections (the
// "generic" XML, escaped inside the element): a few KiB per connection that
// a poll must decode and drop, so the simulator sends it too.
type cgwConfiguration struct {
	XMLName           xml.Name      `xml:"vpn_connection"`
	ID                string        `xml:"id,attr"`
	CustomerGatewayID string        `xml:"customer_gateway_id"`
	VPNGatewayID      string        `xml:"vpn_gateway_id"`
	Type              string        `xml:"vpn_connection_type"`
	Tunnels           []cgwIPsecTun `xml:"ipsec_tunnel"`
}

type cgwIPsecTun struct {
	CustomerGateway cgwEnd `xml:"customer_gateway"`
	VPNGateway      cgwEnd `xml:"vpn_gateway"`
	IKE             struct {
		AuthenticationProtocol string `xml:"authentication_protocol"`
		EncryptionProtocol     string `xml:"encryption_protocol"`
		Lifetime               int    `xml:"lifetime"`
		PFS                    string `xml:"perfect_forward_secrecy"`
		Mode                   string `xml:"mode"`
		PreSharedKey           string `xml:"pre_shared_key"`
	} `xml:"ike"`
	IPsec struct {
		Protocol               string `xml:"protocol"`
		AuthenticationProtocol string `xml:"authentication_protocol"`
		EncryptionProtocol     string `xml:"encryption_protocol"`
		Lifetime               int    `xml:"lifetime"`
		PFS                    string `xml:"perfect_forward_secrecy"`
		Mode                   string `xml:"mode"`
		ClearDFBit             bool   `xml:"clear_df_bit"`
		FragmentBeforeEncrypt  bool   `xml:"fragmentation_before_encryption"`
		TCPMSSAdjustment       int    `xml:"tcp_mss_adjustment"`
		DPDDelay               int    `xml:"dead_peer_detection>delay"`
		DPDRetry               int    `xml:"dead_peer_detection>retry"`
	} `xml:"ipsec"`
}

type cgwEnd struct {
	OutsideAddress string `xml:"tunnel_outside_address>ip_address"`
	InsideAddress  string `xml:"tunnel_inside_address>ip_address"`
	InsideMask     string `xml:"tunnel_inside_address>network_mask"`
	InsideCIDR     int    `xml:"tunnel_inside_address>network_cidr"`
	BGPASN         string `xml:"bgp>asn,omitempty"`
	BGPHoldTime    int    `xml:"bgp>hold_time,omitempty"`
}
