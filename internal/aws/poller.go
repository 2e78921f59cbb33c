package aws

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"
	"go.uber.org/zap"

	"github.com/vpnwatchd/vpnwatchd/internal/aws/vpnlog"
	"github.com/vpnwatchd/vpnwatchd/internal/backoff"
	"github.com/vpnwatchd/vpnwatchd/internal/config"
)

// ec2API is the part of the EC2 client the poller uses.
type ec2API interface {
	DescribeVpnConnections(context.Context, *ec2.DescribeVpnConnectionsInput, ...func(*ec2.Options)) (*ec2.DescribeVpnConnectionsOutput, error)
	DescribeCustomerGateways(context.Context, *ec2.DescribeCustomerGatewaysInput, ...func(*ec2.Options)) (*ec2.DescribeCustomerGatewaysOutput, error)
	GetVpnTunnelReplacementStatus(context.Context, *ec2.GetVpnTunnelReplacementStatusInput, ...func(*ec2.Options)) (*ec2.GetVpnTunnelReplacementStatusOutput, error)
}

// Options are the poller's collaborators.
type Options struct {
	Logger *zap.Logger
	// OnRequest is called for every HTTP attempt the SDK makes (retries
	// included) with the operation name and the AWS error code, "OK" on
	// success. It feeds vpnwatch_aws_api_requests_total.
	OnRequest func(source, region, operation, code string)
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// MaxAttempts is the SDK retryer's attempts per call; 3 when zero.
	MaxAttempts int
	// HTTPClient replaces the SDK's HTTP client: a Recorder for support
	// bundles, a Replay to diagnose one offline.
	HTTPClient awssdk.HTTPClient
	// Credentials replaces the SDK's default credential chain.
	Credentials awssdk.CredentialsProvider
	// MaxResponseBytes bounds one EC2 answer; DefaultMaxResponseBytes
	// when zero.
	MaxResponseBytes int64
}

// Poller polls one AWS source in each of its regions.
type Poller struct {
	src     config.AWSSource
	opts    Options
	regions []*region
	logsGap time.Duration // between FilterLogEvents calls (logsGap; shorter in tests)
}

// region holds what the poller remembers between polls of one region. Only
// one goroutine touches it at a time.
type region struct {
	name   string
	client ec2API
	// logs reads AWS's own tunnel logs; nil when aws[].logs is off.
	logs *vpnlog.Reader
	// seen holds connections from earlier polls, to report those that vanish.
	seen     map[string]seenConnection
	maint    map[string]*Maintenance // by tunnel outside IP
	backoff  time.Time               // no calls before this time after throttling
	throttle int                     // consecutive throttled polls
	// The same for CloudWatch Logs, and where the next poll starts reading
	// when there are more log groups than one poll reads.
	logsBackoff  time.Time
	logsThrottle int
	logsNext     int
	// metrics reads the tunnels' traffic (CloudWatch GetMetricData); nil
	// when aws[].cloudwatch_metrics is off.
	metrics         metricsFunc
	metricsBackoff  time.Time
	metricsThrottle int
}

type seenConnection struct {
	conn Connection
	// goneSince is when AWS stopped returning the connection.
	goneSince time.Time
}

// How long a vanished connection stays in snapshots (as StateGone), and the
// backoff bounds after AWS throttles a region.
const (
	goneRetention = 24 * time.Hour
	backoffBase   = 15 * time.Second
	backoffMax    = 10 * time.Minute
	maintWorkers  = 4
	// maintPerPoll caps GetVpnTunnelReplacementStatus calls per region and
	// poll, so that 1,000 connections do not mean 2,000 calls at start-up;
	// the least recently asked tunnels go first.
	maintPerPoll   = 100
	defaultRetries = 3
	// CloudWatch Logs allows about 5 FilterLogEvents requests/s per
	// account and region, shared with everything else the account runs:
	// a poll makes at most logsPerPoll calls in a region (more groups and
	// pages are read in turns), logsGap apart.
	logsPerPoll = 25
	logsGap     = 200 * time.Millisecond
)

// New builds the SDK clients of every region of src. Credentials come from
// the SDK's default chain, the profile and role_arn of src; nothing is
// called until Poll.
func New(ctx context.Context, src config.AWSSource, opts Options) (*Poller, error) {
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	opts.Logger = opts.Logger.With(zap.String("source", src.Name)) // on every line, once
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxAttempts == 0 {
		opts.MaxAttempts = defaultRetries
	}
	if opts.MaxResponseBytes == 0 {
		opts.MaxResponseBytes = DefaultMaxResponseBytes
	}
	p := &Poller{src: src, opts: opts}
	// One configuration (credentials cache, CA bundle, HTTP client) for all
	// regions of the source: loading it per region would read the shared
	// files and the CA bundle, and assume the role, once per region.
	cfg, err := p.loadConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("aws %s: %w", src.Name, err)
	}
	for _, name := range src.Regions {
		r := &region{
			name: name, client: p.newClient(cfg, name),
			seen: map[string]seenConnection{}, maint: map[string]*Maintenance{},
		}
		if src.Logs {
			r.logs = &vpnlog.Reader{Filter: p.newLogsClient(cfg, name), Keep: cmp.Or(src.LogsKept, config.DefaultLogsKept)}
		}
		if src.CloudWatchMetrics {
			r.metrics = p.newMetricsClient(cfg, name)
		}
		p.regions = append(p.regions, r)
	}
	p.logsGap = logsGap
	return p, nil
}

// sdkLogger routes the SDK's own messages (such as a warning that a
// connection could not be reused) into the daemon's structured log instead
// of the SDK's plain lines on stderr.
func sdkLogger(l *zap.Logger) logging.Logger {
	l = l.With(zap.String("component", "aws-sdk"))
	return logging.LoggerFunc(func(c logging.Classification, format string, v ...any) {
		if c == logging.Warn {
			l.Warn(fmt.Sprintf(format, v...))
			return
		}
		l.Debug(fmt.Sprintf(format, v...))
	})
}

func (p *Poller) loadConfig(ctx context.Context) (awssdk.Config, error) {
	lo := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithLogger(sdkLogger(p.opts.Logger)),
		awsconfig.WithRetryer(func() awssdk.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) { o.MaxAttempts = p.opts.MaxAttempts })
		}),
	}
	if len(p.src.Regions) > 0 {
		// STS is called in the first region; regional clients override it.
		lo = append(lo, awsconfig.WithRegion(p.src.Regions[0]))
	}
	if p.src.Profile != "" {
		lo = append(lo, awsconfig.WithSharedConfigProfile(p.src.Profile))
	}
	if p.opts.Credentials != nil {
		lo = append(lo, awsconfig.WithCredentialsProvider(p.opts.Credentials))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		return cfg, fmt.Errorf("load AWS configuration: %w", err)
	}
	if rec, ok := p.opts.HTTPClient.(*Recorder); ok {
		rec.mu.Lock()
		if rec.Base == nil {
			rec.Base = cfg.HTTPClient
		}
		rec.mu.Unlock()
	}
	if p.src.RoleARN != "" {
		stsClient := sts.NewFromConfig(cfg, func(o *sts.Options) {
			if p.src.Endpoint != "" {
				o.BaseEndpoint = awssdk.String(p.src.Endpoint)
			}
		})
		cfg.Credentials = awssdk.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsClient, p.src.RoleARN,
			func(o *stscreds.AssumeRoleOptions) { o.RoleSessionName = "vpnwatchd" }))
	}
	return cfg, nil
}

// ec2Client is the SDK's client behind ec2API, held as method values. This
// is not ceremony: storing *ec2.Client in an interface (or in a field of a
// type stored in one) makes the linker keep all of its 800 methods, since
// text/template, linked through exporter-toolkit, may call any exported
// method by name; that was 38 of the binary's 66 MB and up to 15 MiB of
// resident memory. Closures hide the type from reflection.
type ec2Client struct {
	describeVPNs      func(context.Context, *ec2.DescribeVpnConnectionsInput, ...func(*ec2.Options)) (*ec2.DescribeVpnConnectionsOutput, error)
	describeCGWs      func(context.Context, *ec2.DescribeCustomerGatewaysInput, ...func(*ec2.Options)) (*ec2.DescribeCustomerGatewaysOutput, error)
	replacementStatus func(context.Context, *ec2.GetVpnTunnelReplacementStatusInput, ...func(*ec2.Options)) (*ec2.GetVpnTunnelReplacementStatusOutput, error)
}

func newEC2Client(c *ec2.Client) ec2Client {
	return ec2Client{describeVPNs: c.DescribeVpnConnections, describeCGWs: c.DescribeCustomerGateways, replacementStatus: c.GetVpnTunnelReplacementStatus}
}

func (e ec2Client) DescribeVpnConnections(ctx context.Context, in *ec2.DescribeVpnConnectionsInput, o ...func(*ec2.Options)) (*ec2.DescribeVpnConnectionsOutput, error) {
	return e.describeVPNs(ctx, in, o...)
}

func (e ec2Client) DescribeCustomerGateways(ctx context.Context, in *ec2.DescribeCustomerGatewaysInput, o ...func(*ec2.Options)) (*ec2.DescribeCustomerGatewaysOutput, error) {
	return e.describeCGWs(ctx, in, o...)
}

func (e ec2Client) GetVpnTunnelReplacementStatus(ctx context.Context, in *ec2.GetVpnTunnelReplacementStatusInput, o ...func(*ec2.Options)) (*ec2.GetVpnTunnelReplacementStatusOutput, error) {
	return e.replacementStatus(ctx, in, o...)
}

// newLogsClient is the region's CloudWatch Logs FilterLogEvents, with the
// same endpoint, HTTP client and request counting as EC2 (held as a method
// value, for the same reason as ec2Client).
func (p *Poller) newLogsClient(cfg awssdk.Config, regionName string) vpnlog.FilterFunc {
	c := cloudwatchlogs.NewFromConfig(cfg, func(o *cloudwatchlogs.Options) {
		o.Region = regionName
		if p.src.Endpoint != "" {
			o.BaseEndpoint = awssdk.String(p.src.Endpoint)
		}
		if p.opts.HTTPClient != nil {
			o.HTTPClient = p.opts.HTTPClient
		}
		o.HTTPClient = guardedClient{base: o.HTTPClient, limit: p.opts.MaxResponseBytes, jsonObject: true}
		o.APIOptions = append(o.APIOptions, p.countRequests(regionName))
	})
	filter := c.FilterLogEvents
	// timeout is per call, as for EC2, not per read of a group's pages.
	return func(ctx context.Context, in *cloudwatchlogs.FilterLogEventsInput, o ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error) {
		cctx, cancel := p.callCtx(ctx)
		defer cancel()
		return filter(cctx, in, o...)
	}
}

// logsPacer holds one poll's FilterLogEvents calls of a region inside
// CloudWatch Logs' quota: gap apart, at most left of them.
type logsPacer struct {
	gap  time.Duration
	left int
	last time.Time
}

// pace waits until the next call may be made; false when the poll's calls
// are spent or ctx ends.
func (l *logsPacer) pace(ctx context.Context) bool {
	if l.left <= 0 {
		return false
	}
	if !l.last.IsZero() {
		if wait := l.gap - time.Since(l.last); wait > 0 {
			t := time.NewTimer(wait)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return false
			case <-t.C:
			}
		}
	}
	if ctx.Err() != nil {
		return false
	}
	l.left--
	l.last = time.Now()
	return true
}

// readLogs reads the log groups of the tunnels whose logging is on, one
// FilterLogEvents call (and its pages) per group, and gives each tunnel
// its recent events. A poll makes at most logsPerPoll calls in a region,
// logsGap apart, and at most the reader's MaxPages for one group: more
// groups, or a group with more pages (an endpoint answering empty pages
// with new tokens), are read on at the next poll, each from where it
// stopped. Throttling backs the region's log reading off as for EC2. A
// failure (no permission, throttling) is logged and leaves the events out:
// the EC2 poll stands.
func (p *Poller) readLogs(ctx context.Context, r *region, conns []Connection, now time.Time) {
	if r.logs == nil {
		return
	}
	var groups []string
	for _, c := range conns {
		for _, t := range c.Tunnels {
			if l := t.Logs; l != nil {
				if l.Enabled && l.Group != "" && !slices.Contains(groups, l.Group) {
					groups = append(groups, l.Group)
				}
				if l.BGPEnabled && l.BGPGroup != "" && !slices.Contains(groups, l.BGPGroup) {
					groups = append(groups, l.BGPGroup)
				}
			}
		}
	}
	slices.Sort(groups)
	switch {
	case len(groups) == 0:
	case now.Before(r.logsBackoff):
		p.opts.Logger.Debug("AWS tunnel logs not read: throttled, backing off", zap.String("region", r.name), zap.Time("until", r.logsBackoff))
	default:
		pacer := &logsPacer{gap: p.logsGap, left: logsPerPoll}
		r.logs.Pace = pacer.pace
		start := r.logsNext % len(groups)
		r.logsNext = start + len(groups)
		for i := range groups {
			if pacer.left == 0 {
				r.logsNext = start + i
				break
			}
			g := groups[(start+i)%len(groups)]
			_, err := r.logs.Read(ctx, g, now)
			if ctx.Err() != nil {
				return
			}
			if err == nil {
				if pacer.left == 0 && r.logs.Behind(g) {
					r.logsNext = start + i // cut short by this poll's calls: first next time
					break
				}
				continue
			}
			err = explain(ctx, "FilterLogEvents", err)
			if errors.Is(err, ErrThrottled) {
				r.logsThrottle++
				wait := backoff.Policy{Base: backoffBase, Max: backoffMax}.Jittered(r.logsThrottle)
				r.logsBackoff = now.Add(wait)
				p.opts.Logger.Warn("AWS tunnel logs throttled; reading them again later", zap.String("region", r.name), zap.String("log_group", g),
					zap.Duration("backoff", wait), zap.Error(err))
				r.logsNext = start + i // this group first next time
				break
			}
			p.opts.Logger.Warn("AWS tunnel logs not read this poll", zap.String("region", r.name), zap.String("log_group", g), zap.Error(err))
		}
		if !now.Before(r.logsBackoff) {
			r.logsThrottle = 0
		}
	}
	for i := range conns {
		for j := range conns[i].Tunnels {
			t := &conns[i].Tunnels[j]
			t.LogEvents = r.logs.Recent(conns[i].ID, t.OutsideIP)
		}
	}
}

func (p *Poller) newClient(cfg awssdk.Config, regionName string) ec2Client {
	return newEC2Client(ec2.NewFromConfig(cfg, func(o *ec2.Options) {
		o.Region = regionName
		if p.src.Endpoint != "" {
			o.BaseEndpoint = awssdk.String(p.src.Endpoint)
		}
		// Set on the client, not the shared config: the config loader
		// insists on its own client type when AWS_CA_BUNDLE is set.
		if p.opts.HTTPClient != nil {
			o.HTTPClient = p.opts.HTTPClient
		}
		o.HTTPClient = guardedClient{base: o.HTTPClient, limit: p.opts.MaxResponseBytes}
		o.APIOptions = append(o.APIOptions, p.countRequests(regionName))
	}))
}

// countRequests adds a middleware to the Deserialize step, which runs once
// per attempt (the retry loop sits in the Finalize step before it).
func (p *Poller) countRequests(regionName string) func(*middleware.Stack) error {
	return func(st *middleware.Stack) error {
		return st.Deserialize.Add(middleware.DeserializeMiddlewareFunc("vpnwatchdCountRequests",
			func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleDeserialize(ctx, in)
				if p.opts.OnRequest != nil {
					code := "OK"
					var ae smithy.APIError
					var ne *NotEC2Error
					switch {
					case err == nil:
					case errors.As(err, &ne):
						code = "NotAnEC2Response"
					case errors.Is(err, ErrResponseTooLarge):
						code = "ResponseTooLarge"
					case errors.As(err, &ae):
						code = ae.ErrorCode()
					case ctx.Err() != nil:
						code = "Timeout"
					default:
						code = "NetworkError"
					}
					p.opts.OnRequest(p.src.Name, regionName, awsmiddleware.GetOperationName(ctx), code)
				}
				return out, md, err
			}), middleware.Before)
	}
}

// Source returns the configuration the poller was built from.
func (p *Poller) Source() config.AWSSource { return p.src }

// Poll polls every region (regionsAtOnce at a time) and returns one
// snapshot per region, in the configured order. A slow or failing region
// does not hold up the others beyond its own timeout. Poll and PollRegions
// must not be called concurrently.
func (p *Poller) Poll(ctx context.Context) []Snapshot { return p.PollRegions(ctx, nil) }

// PollRegions polls the named regions of the source (all of them when
// names is nil) and returns their snapshots in the configured order.
func (p *Poller) PollRegions(ctx context.Context, names []string) []Snapshot {
	var regions []*region
	for _, r := range p.regions {
		if names == nil || slices.Contains(names, r.name) {
			regions = append(regions, r)
		}
	}
	out := make([]Snapshot, len(regions))
	var wg sync.WaitGroup
	slots := make(chan struct{}, regionsAtOnce)
	for i, r := range regions {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			out[i] = p.pollRegion(ctx, r)
		})
	}
	wg.Wait()
	return out
}

// Rounds is how many regions' polls a poll of n regions waits for one after
// the other (regionsAtOnce run at once).
func Rounds(n int) int { return max(1, (n+regionsAtOnce-1)/regionsAtOnce) }

// regionsAtOnce bounds the regions of a source polled at the same time: a
// region's answer is decoded whole (a few KiB per connection), so ten at
// once is ten answers in memory. Each call has its own timeout, so a hung
// region holds a slot for that long at most.
const regionsAtOnce = 4

func (p *Poller) pollRegion(ctx context.Context, r *region) Snapshot {
	start := p.opts.Now()
	snap := p.pollRegionAt(ctx, r, start)
	snap.Took = p.opts.Now().Sub(start)
	return snap
}

func (p *Poller) pollRegionAt(ctx context.Context, r *region, start time.Time) Snapshot {
	snap := Snapshot{Source: p.src.Name, Region: r.name, TakenAt: start}
	if start.Before(r.backoff) {
		snap.Err = fmt.Errorf("aws %s %s: %w: backing off until %s", p.src.Name, r.name, ErrThrottled, r.backoff.Format(time.RFC3339))
		return snap
	}
	conns, err := p.describeVPNs(ctx, r)
	var nc *NoCredentialsError
	if errors.As(err, &nc) {
		nc.Profile = p.src.Profile
		p.opts.Logger.Debug("what the AWS SDK tried for credentials", zap.String("region", r.name), zap.NamedError("sdk", nc.Detail))
	}
	if err != nil {
		if errors.Is(err, ErrThrottled) {
			r.throttle++
			wait := backoff.Policy{Base: backoffBase, Max: backoffMax}.Jittered(r.throttle)
			r.backoff = start.Add(wait)
			err = fmt.Errorf("%w; next try after %s", err, wait.Round(time.Second))
		}
		snap.Err = fmt.Errorf("aws %s %s: %w", p.src.Name, r.name, err)
		return snap
	}
	r.throttle = 0
	conns = p.dropDeletedAtDiscovery(r, conns)
	snap.Missing = p.missing(conns)
	if err := p.customerGateways(ctx, r, conns); err != nil {
		p.opts.Logger.Warn("customer gateways unknown this poll", zap.String("region", r.name), zap.Error(err))
	}
	p.maintenance(ctx, r, conns, start)
	p.readLogs(ctx, r, conns, start)
	p.readTraffic(ctx, r, conns, start)
	snap.LogsRead = r.logs != nil
	snap.Connections = p.withGone(r, conns, start)
	return snap
}

func (p *Poller) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, p.src.Timeout)
}

func (p *Poller) describeVPNs(ctx context.Context, r *region) ([]Connection, error) {
	in := &ec2.DescribeVpnConnectionsInput{}
	// A filter, not VpnConnectionIds: an unknown id in VpnConnectionIds
	// fails the whole call (InvalidVpnConnectionID.NotFound), a filter just
	// leaves it out and the poller reports it as missing.
	if len(p.src.VPNConnectionIDs) > 0 {
		in.Filters = append(in.Filters, types.Filter{Name: awssdk.String("vpn-connection-id"), Values: p.src.VPNConnectionIDs})
	}
	keys := slices.Sorted(maps.Keys(p.src.TagFilters))
	for _, k := range keys {
		in.Filters = append(in.Filters, types.Filter{Name: awssdk.String("tag:" + k), Values: []string{p.src.TagFilters[k]}})
	}
	cctx, cancel := p.callCtx(ctx)
	defer cancel()
	out, err := r.client.DescribeVpnConnections(cctx, in)
	if err != nil {
		return nil, explain(cctx, "DescribeVpnConnections", err)
	}
	conns := make([]Connection, 0, len(out.VpnConnections))
	for _, v := range out.VpnConnections {
		conns = append(conns, connectionFrom(v))
	}
	return conns, nil
}

// dropDeletedAtDiscovery leaves out connections that are already deleted
// (or being deleted) the first time the poller sees them: AWS lists deleted
// connections for a while, and one found by tags or a region listing that
// was deleted before vpnwatchd watched it is history, not an outage. A
// connection deleted while watched, or one configured by id, stays: that
// is VPNConnectionGone.
func (p *Poller) dropDeletedAtDiscovery(r *region, conns []Connection) []Connection {
	kept := conns[:0]
	for _, c := range conns {
		_, watched := r.seen[c.ID]
		if (c.State == StateDeleted || c.State == StateDeleting) && !watched && !slices.Contains(p.src.VPNConnectionIDs, c.ID) {
			p.opts.Logger.Debug("VPN connection already deleted when first seen; not watched", zap.String("region", r.name),
				zap.String("vpn_connection_id", c.ID), zap.String("state", c.State))
			continue
		}
		kept = append(kept, c)
	}
	return kept
}

// missing lists the configured VPN connection ids that AWS did not return.
func (p *Poller) missing(conns []Connection) []string {
	var out []string
	for _, id := range p.src.VPNConnectionIDs {
		if !slices.ContainsFunc(conns, func(c Connection) bool { return c.ID == id }) {
			out = append(out, id)
		}
	}
	return out
}

// customerGateways fills in each connection's customer gateway IP and ASN
// with one call for all the gateways referenced.
func (p *Poller) customerGateways(ctx context.Context, r *region, conns []Connection) error {
	var ids []string
	for _, c := range conns {
		if c.CustomerGatewayID != "" && !slices.Contains(ids, c.CustomerGatewayID) {
			ids = append(ids, c.CustomerGatewayID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	cctx, cancel := p.callCtx(ctx)
	defer cancel()
	out, err := r.client.DescribeCustomerGateways(cctx, &ec2.DescribeCustomerGatewaysInput{
		Filters: []types.Filter{{Name: awssdk.String("customer-gateway-id"), Values: ids}},
	})
	if err != nil {
		return explain(cctx, "DescribeCustomerGateways", err)
	}
	byID := map[string]types.CustomerGateway{}
	for _, g := range out.CustomerGateways {
		byID[awssdk.ToString(g.CustomerGatewayId)] = g
	}
	for i := range conns {
		if g, ok := byID[conns[i].CustomerGatewayID]; ok {
			conns[i].CustomerGatewayIP = awssdk.ToString(g.IpAddress)
			conns[i].CustomerGatewayASN = awssdk.ToString(g.BgpAsn)
		}
	}
	return nil
}

// maintenance asks GetVpnTunnelReplacementStatus for the tunnels whose last
// answer is older than the maintenance interval, a few at a time, and
// attaches the latest answer to every tunnel.
func (p *Poller) maintenance(ctx context.Context, r *region, conns []Connection, now time.Time) {
	type job struct{ conn, tunnel int }
	var jobs []job
	for i, c := range conns {
		if c.State != StateAvailable {
			continue
		}
		for j, t := range c.Tunnels {
			if m := r.maint[t.OutsideIP]; m == nil || now.Sub(m.CheckedAt) >= p.src.MaintenanceInterval {
				jobs = append(jobs, job{i, j})
			}
		}
	}
	lastAsked := func(jb job) time.Time {
		if m := r.maint[conns[jb.conn].Tunnels[jb.tunnel].OutsideIP]; m != nil {
			return m.CheckedAt
		}
		return time.Time{}
	}
	sort.SliceStable(jobs, func(i, j int) bool { return lastAsked(jobs[i]).Before(lastAsked(jobs[j])) })
	if len(jobs) > maintPerPoll {
		jobs = jobs[:maintPerPoll]
	}
	results := make([]*Maintenance, len(jobs))
	sem := make(chan struct{}, maintWorkers)
	var wg sync.WaitGroup
	for k, jb := range jobs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			c := conns[jb.conn]
			ip := c.Tunnels[jb.tunnel].OutsideIP
			cctx, cancel := p.callCtx(ctx)
			defer cancel()
			out, err := r.client.GetVpnTunnelReplacementStatus(cctx, &ec2.GetVpnTunnelReplacementStatusInput{
				VpnConnectionId: awssdk.String(c.ID), VpnTunnelOutsideIpAddress: awssdk.String(ip),
			})
			if err != nil {
				p.opts.Logger.Warn("tunnel maintenance status unknown", zap.String("region", r.name),
					zap.String("vpn_connection_id", c.ID), zap.String("outside_ip", ip), zap.Error(explain(cctx, "GetVpnTunnelReplacementStatus", err)))
				return
			}
			m := &Maintenance{CheckedAt: now}
			if d := out.MaintenanceDetails; d != nil {
				m.Pending = awssdk.ToString(d.PendingMaintenance)
				m.AutoAppliedAfter = awssdk.ToTime(d.MaintenanceAutoAppliedAfter)
				m.LastApplied = awssdk.ToTime(d.LastMaintenanceApplied)
			}
			results[k] = m
		})
	}
	wg.Wait()
	for k, jb := range jobs {
		if results[k] != nil {
			r.maint[conns[jb.conn].Tunnels[jb.tunnel].OutsideIP] = results[k]
		}
	}
	for i := range conns {
		for j := range conns[i].Tunnels {
			if m := r.maint[conns[i].Tunnels[j].OutsideIP]; m != nil {
				mc := *m
				conns[i].Tunnels[j].Maintenance = &mc
			}
		}
	}
}

// withGone remembers the connections AWS returned and appends those it
// returned before but not now, as StateGone with their last known tunnels'
// addresses, so that a connection deleted by someone does not silently drop
// out of the monitoring.
func (p *Poller) withGone(r *region, conns []Connection, now time.Time) []Connection {
	present := map[string]bool{}
	for _, c := range conns {
		present[c.ID] = true
		r.seen[c.ID] = seenConnection{conn: c}
	}
	var gone []Connection
	for id, s := range r.seen {
		if present[id] {
			continue
		}
		if s.goneSince.IsZero() {
			s.goneSince = now
			r.seen[id] = s
		}
		if now.Sub(s.goneSince) > goneRetention {
			delete(r.seen, id)
			continue
		}
		g := Connection{ID: id, Name: s.conn.Name, State: StateGone, Routing: s.conn.Routing,
			CustomerGatewayID: s.conn.CustomerGatewayID, GatewayID: s.conn.GatewayID, Tags: s.conn.Tags}
		for _, t := range s.conn.Tunnels {
			g.Tunnels = append(g.Tunnels, Tunnel{OutsideIP: t.OutsideIP, InsideCIDR: t.InsideCIDR})
		}
		gone = append(gone, g)
	}
	sort.Slice(gone, func(i, j int) bool { return gone[i].ID < gone[j].ID })
	return append(conns, gone...)
}

// connectionFrom converts the SDK's view of a connection. Tunnel options and
// telemetry are joined by outside IP.
func connectionFrom(v types.VpnConnection) Connection {
	c := Connection{
		ID:                awssdk.ToString(v.VpnConnectionId),
		State:             string(v.State),
		Type:              string(v.Type),
		Category:          awssdk.ToString(v.Category),
		CustomerGatewayID: awssdk.ToString(v.CustomerGatewayId),
		GatewayID:         awssdk.ToString(v.VpnGatewayId),
		Routing:           RoutingBGP,
		Tags:              map[string]string{},
	}
	if c.GatewayID == "" {
		c.GatewayID = awssdk.ToString(v.TransitGatewayId)
	}
	for _, t := range v.Tags {
		c.Tags[awssdk.ToString(t.Key)] = awssdk.ToString(t.Value)
	}
	c.Name = c.Tags["Name"]
	for _, r := range v.Routes {
		c.StaticRoutes = append(c.StaticRoutes, awssdk.ToString(r.DestinationCidrBlock))
	}
	var opts []types.TunnelOption
	if o := v.Options; o != nil {
		if awssdk.ToBool(o.StaticRoutesOnly) {
			c.Routing = RoutingStatic
		}
		opts = o.TunnelOptions
	}
	byIP := map[string]int{}
	tunnel := func(ip string) *Tunnel {
		if i, ok := byIP[ip]; ok {
			return &c.Tunnels[i]
		}
		byIP[ip] = len(c.Tunnels)
		c.Tunnels = append(c.Tunnels, Tunnel{OutsideIP: ip,
			Phase1Lifetime: DefaultPhase1Lifetime, Phase2Lifetime: DefaultPhase2Lifetime,
			DPDTimeout: DefaultDPDTimeout, DPDTimeoutAction: DefaultDPDTimeoutAction, StartupAction: DefaultStartupAction})
		return &c.Tunnels[len(c.Tunnels)-1]
	}
	for _, o := range opts {
		t := tunnel(awssdk.ToString(o.OutsideIpAddress))
		t.InsideCIDR = awssdk.ToString(o.TunnelInsideCidr)
		if t.InsideCIDR == "" {
			t.InsideCIDR = awssdk.ToString(o.TunnelInsideIpv6Cidr)
		}
		if o.Phase1LifetimeSeconds != nil {
			t.Phase1Lifetime = seconds(*o.Phase1LifetimeSeconds)
		}
		if o.Phase2LifetimeSeconds != nil {
			t.Phase2Lifetime = seconds(*o.Phase2LifetimeSeconds)
		}
		if o.RekeyMarginTimeSeconds != nil {
			t.RekeyMargin = seconds(*o.RekeyMarginTimeSeconds)
		}
		if o.DpdTimeoutSeconds != nil {
			t.DPDTimeout = seconds(*o.DpdTimeoutSeconds)
		}
		if s := awssdk.ToString(o.DpdTimeoutAction); s != "" {
			t.DPDTimeoutAction = s
		}
		if s := awssdk.ToString(o.StartupAction); s != "" {
			t.StartupAction = s
		}
		if lo := o.LogOptions; lo != nil && lo.CloudWatchLogOptions != nil {
			cw := lo.CloudWatchLogOptions
			t.Logs = &TunnelLogs{Enabled: awssdk.ToBool(cw.LogEnabled), Group: awssdk.ToString(cw.LogGroupArn), Format: awssdk.ToString(cw.LogOutputFormat),
				BGPEnabled: awssdk.ToBool(cw.BgpLogEnabled), BGPGroup: awssdk.ToString(cw.BgpLogGroupArn), BGPFormat: awssdk.ToString(cw.BgpLogOutputFormat)}
		}
		for _, x := range o.IkeVersions {
			t.IKEVersions = append(t.IKEVersions, awssdk.ToString(x.Value))
		}
		for _, x := range o.Phase1EncryptionAlgorithms {
			t.Phase1Encryption = append(t.Phase1Encryption, awssdk.ToString(x.Value))
		}
		for _, x := range o.Phase2EncryptionAlgorithms {
			t.Phase2Encryption = append(t.Phase2Encryption, awssdk.ToString(x.Value))
		}
		for _, x := range o.Phase1IntegrityAlgorithms {
			t.Phase1Integrity = append(t.Phase1Integrity, awssdk.ToString(x.Value))
		}
		for _, x := range o.Phase2IntegrityAlgorithms {
			t.Phase2Integrity = append(t.Phase2Integrity, awssdk.ToString(x.Value))
		}
		for _, x := range o.Phase1DHGroupNumbers {
			t.Phase1DHGroups = append(t.Phase1DHGroups, int(awssdk.ToInt32(x.Value)))
		}
		for _, x := range o.Phase2DHGroupNumbers {
			t.Phase2DHGroups = append(t.Phase2DHGroups, int(awssdk.ToInt32(x.Value)))
		}
	}
	for _, tel := range v.VgwTelemetry {
		t := tunnel(awssdk.ToString(tel.OutsideIpAddress))
		t.Status = string(tel.Status)
		t.StatusMessage = awssdk.ToString(tel.StatusMessage)
		t.AcceptedRoutes = int(awssdk.ToInt32(tel.AcceptedRouteCount))
		t.LastStatusChange = awssdk.ToTime(tel.LastStatusChange)
	}
	return c
}

func seconds[T ~int32 | ~int64](n T) time.Duration { return time.Duration(n) * time.Second }

// String renders a tunnel as the console shows it, for logs.
func (t Tunnel) String() string {
	return t.OutsideIP + " " + t.Status + " " + strconv.Quote(t.StatusMessage)
}
