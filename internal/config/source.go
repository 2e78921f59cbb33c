package config

// Source kinds, the Type of a SourceID.
const (
	SourceAWS        = "aws"
	SourceRTX        = "rtx"
	SourceStrongSwan = "strongswan"
	SourceProbe      = "probe"
)

// IsGateway reports whether a source type is a customer gateway kind.
func IsGateway(typ string) bool { return typ == SourceRTX || typ == SourceStrongSwan }

// SourceID names one source vpnwatchd reads: an AWS source in one of its
// regions, a router, or a probe. It is the one identity of a source: the
// status page, the metrics, support bundles and the correlator key by it.
type SourceID struct {
	Type   string `json:"type"` // SourceAWS, SourceRTX, SourceStrongSwan or SourceProbe
	Name   string `json:"name"`
	Region string `json:"region,omitempty"` // AWS only
}

// AWSRegion names an AWS source's region.
func AWSRegion(source, region string) SourceID {
	return SourceID{Type: SourceAWS, Name: source, Region: region}
}

// RouterSource names a router.
func RouterSource(name string) SourceID { return SourceID{Type: SourceRTX, Name: name} }

// StrongSwanSource names a strongSwan gateway.
func StrongSwanSource(name string) SourceID { return SourceID{Type: SourceStrongSwan, Name: name} }

// ProbeSource names a probe.
func ProbeSource(name string) SourceID { return SourceID{Type: SourceProbe, Name: name} }

// String names the source as operators read it: "aws prod ap-northeast-1",
// "rtx osaka-rtx1200", "probe vpc".
func (s SourceID) String() string {
	if s.Region != "" {
		return s.Type + " " + s.Name + " " + s.Region
	}
	return s.Type + " " + s.Name
}

// Sources lists the configured sources in configuration order: each AWS
// source's regions, the routers, the strongSwan gateways, then the probes.
func (c *Config) Sources() []SourceID {
	var out []SourceID
	for _, a := range c.AWS {
		for _, r := range a.Regions {
			out = append(out, AWSRegion(a.Name, r))
		}
	}
	for _, r := range c.Routers {
		out = append(out, RouterSource(r.Name))
	}
	for _, g := range c.StrongSwan {
		out = append(out, StrongSwanSource(g.Name))
	}
	for _, p := range c.Probes {
		out = append(out, ProbeSource(p.Name))
	}
	return out
}
