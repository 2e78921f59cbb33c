package ec2sim

import (
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// APIVersion is the EC2 Query API version the SDK sends.
const APIVersion = "2016-11-15"

const stsVersion = "2011-06-15"

// Sim is a simulated EC2 endpoint. Its zero value is not usable; call New.
// All methods are safe for concurrent use.
type Sim struct {
	mu       sync.Mutex
	now      func() time.Time
	regions  map[string]*Region
	requests map[string]int // "Action" and "Action region" → count
	reqID    int

	throttle     int                      // throttle this many of the next calls
	latency      map[string]time.Duration // per region ("" = all)
	authCode     string                   // fail every call with this code
	unauthorized map[string]bool          // actions refused with UnauthorizedOperation
	raw          map[string]rawResponse   // canned answers per action

	pending []scheduled // scenario events not yet applied
	logs    logState    // CloudWatch Logs (logs.go)
	// CloudWatch metrics (cloudwatch.go).
	metrics         map[metricKey][]TunnelData
	metricsThrottle int
}

type rawResponse struct {
	status int
	body   []byte
}

// New returns an empty simulator. now is its clock (time.Now when nil); the
// scenario timeline and LastStatusChange stamps use it.
func New(now func() time.Time) *Sim {
	if now == nil {
		now = time.Now
	}
	return &Sim{
		now: now, regions: map[string]*Region{}, requests: map[string]int{},
		latency: map[string]time.Duration{}, unauthorized: map[string]bool{}, raw: map[string]rawResponse{},
	}
}

// Update changes the model of a region under the simulator's lock,
// creating the region if needed.
func (s *Sim) Update(region string, f func(*Region)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s.region(region))
}

func (s *Sim) region(name string) *Region {
	r := s.regions[name]
	if r == nil {
		r = &Region{}
		s.regions[name] = r
	}
	return r
}

// SetTunnel sets a tunnel's telemetry as AWS would report it, stamping
// LastStatusChange when the status or message changes.
func (s *Sim) SetTunnel(region, vpnID, outsideIP, status, message string, routes int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.setTunnel(region, vpnID, outsideIP, status, message, routes)
}

func (s *Sim) setTunnel(region, vpnID, outsideIP, status, message string, routes int) error {
	v := s.region(region).vpn(vpnID)
	if v == nil {
		return fmt.Errorf("ec2sim: %s: no VPN connection %s", region, vpnID)
	}
	t := v.tunnel(outsideIP)
	if t == nil {
		return fmt.Errorf("ec2sim: %s: %s has no tunnel %s", region, vpnID, outsideIP)
	}
	if t.Status != status || t.StatusMessage != message {
		t.LastStatusChange = s.now().UTC()
	}
	t.Status, t.StatusMessage, t.AcceptedRoutes = status, message, routes
	return nil
}

// ThrottleNext answers the next n calls with RequestLimitExceeded (503).
func (s *Sim) ThrottleNext(n int) {
	s.mu.Lock()
	s.throttle = n
	s.mu.Unlock()
}

// SetLatency delays every answer for region ("" for all regions) by d.
func (s *Sim) SetLatency(region string, d time.Duration) {
	s.mu.Lock()
	s.latency[region] = d
	s.mu.Unlock()
}

// FailAuth makes every call fail with code (AuthFailure, ExpiredToken, …);
// "" restores normal answers.
func (s *Sim) FailAuth(code string) {
	s.mu.Lock()
	s.authCode = code
	s.mu.Unlock()
}

// Deny refuses action with UnauthorizedOperation, as AWS does when the IAM
// policy lacks it.
func (s *Sim) Deny(action string) {
	s.mu.Lock()
	s.unauthorized[action] = true
	s.mu.Unlock()
}

// ServeRaw answers action with a fixed status and body, e.g. a captured AWS
// response, instead of rendering the model; status 0 renders the model
// again.
func (s *Sim) ServeRaw(action string, status int, body []byte) {
	s.mu.Lock()
	if status == 0 {
		delete(s.raw, action)
	} else {
		s.raw[action] = rawResponse{status, body}
	}
	s.mu.Unlock()
}

// Requests returns how many requests for action were received; with a
// region, only those signed for that region.
func (s *Sim) Requests(action, region string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if region == "" {
		return s.requests[action]
	}
	return s.requests[action+" "+region]
}

// credentialRE reads the region from a SigV4 Authorization header:
// "AWS4-HMAC-SHA256 Credential=AKID/20261125/ap-northeast-1/ec2/aws4_request, …".
var credentialRE = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=[^/]+/[0-9]{8}/([a-z0-9-]+)/([a-z0-9]+)/aws4_request, SignedHeaders=[^,]+, Signature=[0-9a-f]{64}$`)

// ServeHTTP answers one EC2 (or STS) Query API request.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if op, ok := isCloudWatch(r); ok {
		m := credentialRE.FindStringSubmatch(r.Header.Get("Authorization"))
		if m == nil {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		s.mu.Lock()
		defer s.mu.Unlock()
		s.requests[op]++
		s.requests[op+" "+m[1]]++
		s.serveCloudWatch(w, m[1], op, body)
		return
	}
	if target := r.Header.Get("X-Amz-Target"); strings.HasPrefix(target, "Logs_20140328.") {
		if !credentialRE.MatchString(r.Header.Get("Authorization")) {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"__type":"UnrecognizedClientException","message":"The security token included in the request is invalid."}`)
			return
		}
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		s.mu.Lock()
		defer s.mu.Unlock()
		s.requests["FilterLogEvents"]++
		if raw, ok := s.raw["FilterLogEvents"]; ok {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(raw.status)
			w.Write(raw.body)
			return
		}
		s.serveLogs(w, target, body)
		return
	}
	if r.Method != http.MethodPost {
		s.fail(w, http.StatusBadRequest, "InvalidAction", "EC2 Query API requests are POSTed")
		return
	}
	if err := r.ParseForm(); err != nil {
		s.fail(w, http.StatusBadRequest, "MalformedQueryString", err.Error())
		return
	}
	auth := r.Header.Get("Authorization")
	if auth == "" {
		s.fail(w, http.StatusUnauthorized, "MissingAuthenticationToken", "Request is missing Authentication Token")
		return
	}
	m := credentialRE.FindStringSubmatch(auth)
	if m == nil {
		s.fail(w, http.StatusUnauthorized, "AuthFailure", "AWS was not able to validate the provided access credentials")
		return
	}
	regionName, service := m[1], m[2]
	action := r.PostForm.Get("Action")

	s.mu.Lock()
	s.applyDue()
	s.requests[action]++
	s.requests[action+" "+regionName]++
	delay := s.latency[regionName] + s.latency[""]
	s.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.throttle > 0:
		s.throttle--
		s.fail(w, http.StatusServiceUnavailable, "RequestLimitExceeded", "Request limit exceeded.")
		return
	case s.authCode != "":
		s.fail(w, http.StatusUnauthorized, s.authCode, "AWS was not able to validate the provided access credentials")
		return
	case s.unauthorized[action]:
		s.fail(w, http.StatusForbidden, "UnauthorizedOperation", "You are not authorized to perform this operation.")
		return
	}
	if raw, ok := s.raw[action]; ok {
		w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
		w.WriteHeader(raw.status)
		w.Write(raw.body)
		return
	}
	if service == "sts" {
		s.serveSTS(w, r, action)
		return
	}
	if v := r.PostForm.Get("Version"); v != APIVersion {
		s.fail(w, http.StatusBadRequest, "InvalidParameterValue", fmt.Sprintf("Version %q is not supported; use %s", v, APIVersion))
		return
	}
	region := s.region(regionName)
	switch action {
	case "DescribeVpnConnections":
		s.describeVPNConnections(w, r, region)
	case "DescribeCustomerGateways":
		s.describeCustomerGateways(w, r, region)
	case "GetVpnTunnelReplacementStatus":
		s.getVPNTunnelReplacementStatus(w, r, region)
	default:
		s.fail(w, http.StatusBadRequest, "InvalidAction", fmt.Sprintf("The action %s is not valid for this web service.", action))
	}
}

func (s *Sim) nextRequestID() string {
	s.reqID++
	return fmt.Sprintf("00000000-0000-4000-8000-%012d", s.reqID)
}

func (s *Sim) write(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.Header().Set("X-Amzn-Requestid", fmt.Sprintf("00000000-0000-4000-8000-%012d", s.reqID))
	w.Write([]byte(xml.Header))
	enc := xml.NewEncoder(w)
	enc.Indent("", " ")
	enc.Encode(v)
}

func (s *Sim) fail(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(status)
	w.Write([]byte(xml.Header))
	xml.NewEncoder(w).Encode(errorResponse{Errors: []apiErr{{Code: code, Message: msg}}, RequestID: s.nextRequestID()})
}

// list reads a flat Query list: Name.1, Name.2, …
func list(form map[string][]string, name string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := form[name+"."+strconv.Itoa(i)]
		if !ok {
			return out
		}
		out = append(out, v...)
	}
}

// filters reads Filter.N.Name and Filter.N.Value.M.
func filters(form map[string][]string) map[string][]string {
	out := map[string][]string{}
	for i := 1; ; i++ {
		p := "Filter." + strconv.Itoa(i)
		name, ok := form[p+".Name"]
		if !ok || len(name) == 0 {
			return out
		}
		out[name[0]] = append(out[name[0]], list(form, p+".Value")...)
	}
}

func matches(values []string, v string) bool { return slices.Contains(values, v) }

// invalidFilter returns a filter name the action does not support; tag:KEY
// filters are always supported.
func invalidFilter(fs map[string][]string, allowed ...string) (string, bool) {
	for _, name := range slices.Sorted(maps.Keys(fs)) {
		if !slices.Contains(allowed, name) && !strings.HasPrefix(name, "tag:") {
			return name, true
		}
	}
	return "", false
}

func (s *Sim) describeVPNConnections(w http.ResponseWriter, r *http.Request, region *Region) {
	ids := list(r.PostForm, "VpnConnectionId")
	for _, id := range ids {
		if region.vpn(id) == nil {
			s.fail(w, http.StatusBadRequest, "InvalidVpnConnectionID.NotFound", fmt.Sprintf("The vpnConnection ID '%s' does not exist", id))
			return
		}
	}
	fs := filters(r.PostForm)
	if name, bad := invalidFilter(fs, "vpn-connection-id", "state", "customer-gateway-id", "type", "vpn-gateway-id", "transit-gateway-id", "tag-key"); bad {
		s.fail(w, http.StatusBadRequest, "InvalidParameterValue", fmt.Sprintf("The filter '%s' is invalid", name))
		return
	}
	resp := describeVpnConnectionsResponse{Xmlns: xmlns, RequestID: s.nextRequestID(), Items: []vpnConnection{}}
	for _, v := range region.VPNConnections {
		if len(ids) > 0 && !matches(ids, v.ID) || !vpnMatches(v, fs) {
			continue
		}
		resp.Items = append(resp.Items, renderVPN(v, region.customerGateway(v.CustomerGatewayID), s.now()))
	}
	s.write(w, resp)
}

func state(s string) string {
	if s == "" {
		return "available"
	}
	return s
}

func vpnMatches(v *VPNConnection, fs map[string][]string) bool {
	for name, values := range fs {
		var ok bool
		switch {
		case name == "vpn-connection-id":
			ok = matches(values, v.ID)
		case name == "state":
			ok = matches(values, state(v.State))
		case name == "customer-gateway-id":
			ok = matches(values, v.CustomerGatewayID)
		case name == "type":
			ok = matches(values, "ipsec.1")
		case name == "vpn-gateway-id":
			ok = matches(values, v.VPNGatewayID)
		case name == "transit-gateway-id":
			ok = matches(values, v.TransitGatewayID)
		case name == "tag-key":
			for _, k := range values {
				_, has := v.Tags[k]
				ok = ok || has
			}
		case strings.HasPrefix(name, "tag:"):
			tv, has := v.Tags[strings.TrimPrefix(name, "tag:")]
			ok = has && matches(values, tv)
		}
		if !ok {
			return false
		}
	}
	return true
}

func awsTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

func tags(m map[string]string) []tag {
	keys := slices.Sorted(maps.Keys(m))
	out := make([]tag, 0, len(keys))
	for _, k := range keys {
		out = append(out, tag{k, m[k]})
	}
	return out
}

// renderVPN renders a connection. AWS always reports when a tunnel's status
// last changed; a tunnel the model created without one gets the current time
// once.
func renderVPN(v *VPNConnection, cgw *CustomerGateway, now time.Time) vpnConnection {
	out := vpnConnection{
		ID: v.ID, State: state(v.State), CustomerGatewayID: v.CustomerGatewayID, Category: "VPN", Type: "ipsec.1",
		VPNGatewayID: v.VPNGatewayID, TransitGatewayID: v.TransitGatewayID, Tags: tags(v.Tags),
		Options: vpnOptions{StaticRoutesOnly: v.StaticRoutesOnly, LocalIPv4NetworkCidr: "0.0.0.0/0", RemoteIPv4NetworkCidr: "0.0.0.0/0",
			OutsideIPAddressType: "PublicIpv4", TunnelInsideIPVersion: "ipv4"},
	}
	if st := state(v.State); st == "available" || st == "pending" {
		out.CGWConfiguration = renderCGWConfiguration(v, cgw)
	}
	for _, cidr := range v.StaticRoutes {
		out.Routes = append(out.Routes, staticRoute{cidr, "Static", "available"})
	}
	for _, t := range v.Tunnels {
		out.Options.Tunnels = append(out.Options.Tunnels, tunnelOption{
			OutsideIP: t.OutsideIP, InsideCIDR: t.InsideCIDR,
			Phase1LifetimeSeconds: t.Phase1LifetimeSeconds, Phase2LifetimeSeconds: t.Phase2LifetimeSeconds,
			DPDTimeoutSeconds: t.DPDTimeoutSeconds, DPDTimeoutAction: t.DPDTimeoutAction, StartupAction: t.StartupAction,
			IKEVersions: []value{{"ikev1"}, {"ikev2"}},
			LogOptions:  logOptions(t),
		})
		if t.LastStatusChange.IsZero() {
			t.LastStatusChange = now.UTC()
		}
		status := t.Status
		if status == "" {
			status = "DOWN"
		}
		out.Telemetry = append(out.Telemetry, vgwTelemetry{
			OutsideIP: t.OutsideIP, Status: status, LastStatusChange: awsTime(t.LastStatusChange),
			StatusMessage: t.StatusMessage, AcceptedRouteCount: t.AcceptedRoutes,
		})
	}
	return out
}

func (s *Sim) describeCustomerGateways(w http.ResponseWriter, r *http.Request, region *Region) {
	ids := list(r.PostForm, "CustomerGatewayId")
	for _, id := range ids {
		if region.customerGateway(id) == nil {
			s.fail(w, http.StatusBadRequest, "InvalidCustomerGatewayID.NotFound", fmt.Sprintf("The customerGateway ID '%s' does not exist", id))
			return
		}
	}
	fs := filters(r.PostForm)
	if name, bad := invalidFilter(fs, "customer-gateway-id", "ip-address", "state", "bgp-asn"); bad {
		s.fail(w, http.StatusBadRequest, "InvalidParameterValue", fmt.Sprintf("The filter '%s' is invalid", name))
		return
	}
	resp := describeCustomerGatewaysResponse{Xmlns: xmlns, RequestID: s.nextRequestID(), Items: []customerGateway{}}
	for _, g := range region.CustomerGateways {
		if len(ids) > 0 && !matches(ids, g.ID) {
			continue
		}
		ok := true
		for name, values := range fs {
			switch {
			case name == "customer-gateway-id":
				ok = ok && matches(values, g.ID)
			case name == "ip-address":
				ok = ok && matches(values, g.IP)
			case name == "state":
				ok = ok && matches(values, state(g.State))
			case name == "bgp-asn":
				ok = ok && matches(values, g.BGPASN)
			default:
				tv, has := g.Tags[strings.TrimPrefix(name, "tag:")]
				ok = ok && has && matches(values, tv)
			}
		}
		if ok {
			resp.Items = append(resp.Items, customerGateway{ID: g.ID, State: state(g.State), Type: "ipsec.1", IPAddress: g.IP,
				BGPASN: g.BGPASN, DeviceName: g.DeviceName, Tags: tags(g.Tags)})
		}
	}
	s.write(w, resp)
}

func (s *Sim) getVPNTunnelReplacementStatus(w http.ResponseWriter, r *http.Request, region *Region) {
	id, ip := r.PostForm.Get("VpnConnectionId"), r.PostForm.Get("VpnTunnelOutsideIpAddress")
	if id == "" || ip == "" {
		s.fail(w, http.StatusBadRequest, "MissingParameter", "The request must contain the parameters VpnConnectionId and VpnTunnelOutsideIpAddress")
		return
	}
	v := region.vpn(id)
	if v == nil {
		s.fail(w, http.StatusBadRequest, "InvalidVpnConnectionID.NotFound", fmt.Sprintf("The vpnConnection ID '%s' does not exist", id))
		return
	}
	t := v.tunnel(ip)
	if t == nil {
		s.fail(w, http.StatusBadRequest, "InvalidParameterValue", fmt.Sprintf("The VPN tunnel outside IP address '%s' does not belong to %s", ip, id))
		return
	}
	resp := getVpnTunnelReplacementStatusResponse{Xmlns: xmlns, RequestID: s.nextRequestID(), VPNConnectionID: id,
		VPNGatewayID: v.VPNGatewayID, TransitGatewayID: v.TransitGatewayID, CustomerGateway: v.CustomerGatewayID, OutsideIP: ip}
	if t.PendingMaintenance != "" {
		resp.Maintenance = &maintenanceDetails{PendingMaintenance: t.PendingMaintenance, MaintenanceAutoAppliedAfter: awsTime(t.MaintenanceAutoAppliedAfter)}
	}
	s.write(w, resp)
}

func (s *Sim) serveSTS(w http.ResponseWriter, r *http.Request, action string) {
	if action != "AssumeRole" || r.PostForm.Get("Version") != stsVersion {
		s.fail(w, http.StatusBadRequest, "InvalidAction", fmt.Sprintf("ec2sim's STS answers only AssumeRole (Version %s)", stsVersion))
		return
	}
	arn := r.PostForm.Get("RoleArn")
	var resp assumeRoleResponse
	resp.Xmlns = "https://sts.amazonaws.com/doc/" + stsVersion + "/"
	resp.Result.Credentials.AccessKeyID = "ASIAEC2SIMASSUMED000"
	resp.Result.Credentials.SecretAccessKey = "ec2sim-assumed-secret"
	resp.Result.Credentials.SessionToken = "ec2sim-session-token"
	resp.Result.Credentials.Expiration = s.now().Add(time.Hour).UTC().Format(time.RFC3339)
	resp.Result.AssumedRoleUser.Arn = arn + "/" + r.PostForm.Get("RoleSessionName")
	resp.Result.AssumedRoleUser.AssumedRoleID = "AROAEC2SIM:" + r.PostForm.Get("RoleSessionName")
	resp.RequestID = s.nextRequestID()
	s.write(w, resp)
}

// renderCGWConfiguration writes the generic customer gateway configuration
// of v, with AWS's defaults (the MSS 1379 of the seed incident among them)
// and a made-up pre-shared key.
func renderCGWConfiguration(v *VPNConnection, cgw *CustomerGateway) string {
	doc := cgwConfiguration{ID: v.ID, CustomerGatewayID: v.CustomerGatewayID, VPNGatewayID: v.VPNGatewayID, Type: "ipsec.1"}
	for i, t := range v.Tunnels {
		var tun cgwIPsecTun
		if cgw != nil {
			tun.CustomerGateway.OutsideAddress = cgw.IP
			if !v.StaticRoutesOnly {
				tun.CustomerGateway.BGPASN, tun.CustomerGateway.BGPHoldTime = cgw.BGPASN, 30
			}
		}
		tun.VPNGateway.OutsideAddress = t.OutsideIP
		if p, err := netip.ParsePrefix(t.InsideCIDR); err == nil && p.Addr().Is4() {
			a := p.Masked().Addr().As4()
			mask := net.CIDRMask(p.Bits(), 32)
			a[3]++
			tun.VPNGateway.InsideAddress = netip.AddrFrom4(a).String()
			a[3]++
			tun.CustomerGateway.InsideAddress = netip.AddrFrom4(a).String()
			for _, e := range []*cgwEnd{&tun.CustomerGateway, &tun.VPNGateway} {
				e.InsideMask, e.InsideCIDR = net.IP(mask).String(), p.Bits()
			}
		}
		if !v.StaticRoutesOnly {
			tun.VPNGateway.BGPASN, tun.VPNGateway.BGPHoldTime = "64512", 30
		}
		tun.IKE.AuthenticationProtocol, tun.IKE.EncryptionProtocol, tun.IKE.Lifetime = "sha1", "aes-128-cbc", 28800
		tun.IKE.PFS, tun.IKE.Mode = "group2", "main"
		tun.IKE.PreSharedKey = fmt.Sprintf("ec2simPSK%s%d", strings.TrimPrefix(v.ID, "vpn-"), i+1)
		tun.IPsec.Protocol, tun.IPsec.AuthenticationProtocol, tun.IPsec.EncryptionProtocol = "esp", "hmac-sha1-96", "aes-128-cbc"
		tun.IPsec.Lifetime, tun.IPsec.PFS, tun.IPsec.Mode = 3600, "group2", "tunnel"
		tun.IPsec.ClearDFBit, tun.IPsec.FragmentBeforeEncrypt, tun.IPsec.TCPMSSAdjustment = true, true, 1379
		tun.IPsec.DPDDelay, tun.IPsec.DPDRetry = 10, 3
		doc.Tunnels = append(doc.Tunnels, tun)
	}
	b, err := xml.Marshal(doc)
	if err != nil {
		return "" // the document is made of strings and ints only
	}
	return xml.Header + string(b)
}

// logOptions renders a tunnel's CloudWatch log settings as AWS does.
func logOptions(t *Tunnel) cloudWatchLogOptions {
	o := cloudWatchLogOptions{LogEnabled: t.LogGroup != "", BGPLogEnabled: t.BGPLogGroup != ""}
	if o.LogEnabled {
		o.LogGroupArn, o.LogOutputFormat = t.LogGroup, "json"
	}
	if o.BGPLogEnabled {
		o.BGPLogGroupArn, o.BGPLogOutputFormat = t.BGPLogGroup, "json"
	}
	return o
}
