package aws

import (
	"context"
	"errors"
	"fmt"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"go.uber.org/zap"

	"github.com/vpnwatchd/vpnwatchd/internal/backoff"
)

// metricsFunc is the one CloudWatch call the poller makes
// ((*cloudwatch.Client).GetMetricData, held as a method value).
type metricsFunc func(context.Context, *cloudwatch.GetMetricDataInput, ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error)

// newMetricsClient is the region's CloudWatch GetMetricData, with the same
// endpoint, HTTP client and request counting as EC2.
func (p *Poller) newMetricsClient(cfg awssdk.Config, regionName string) metricsFunc {
	c := cloudwatch.NewFromConfig(cfg, func(o *cloudwatch.Options) {
		o.Region = regionName
		if p.src.Endpoint != "" {
			o.BaseEndpoint = awssdk.String(p.src.Endpoint)
		}
		if p.opts.HTTPClient != nil {
			o.HTTPClient = p.opts.HTTPClient
		}
		o.HTTPClient = guardedClient{base: o.HTTPClient, limit: p.opts.MaxResponseBytes, cbor: true}
		o.APIOptions = append(o.APIOptions, p.countRequests(regionName))
	})
	return c.GetMetricData
}

// Traffic datapoints: 1-minute sums, asked for the last trafficWindow (AWS
// publishes them minutes late), at most 500 queries (250 tunnels) a call.
const (
	trafficPeriod  = time.Minute
	trafficWindow  = 15 * time.Minute
	queriesPerCall = 500
)

// readTraffic gives each tunnel of an available connection its latest
// AWS/VPN TunnelDataIn and TunnelDataOut datapoints: one GetMetricData call
// per 250 tunnels (and its pages) per poll. A failure is logged and leaves
// the traffic out; throttling backs it off as for EC2.
func (p *Poller) readTraffic(ctx context.Context, r *region, conns []Connection, now time.Time) {
	if r.metrics == nil {
		return
	}
	if now.Before(r.metricsBackoff) {
		p.opts.Logger.Debug("AWS tunnel traffic not read: throttled, backing off", zap.String("region", r.name), zap.Time("until", r.metricsBackoff))
		return
	}
	type ref struct{ c, t int }
	var tunnels []ref
	for i, c := range conns {
		if c.State != StateAvailable {
			continue
		}
		for j := range c.Tunnels {
			tunnels = append(tunnels, ref{i, j})
		}
	}
	for first := 0; first < len(tunnels); first += queriesPerCall / 2 {
		batch := tunnels[first:min(len(tunnels), first+queriesPerCall/2)]
		in := &cloudwatch.GetMetricDataInput{StartTime: awssdk.Time(now.Add(-trafficWindow)), EndTime: awssdk.Time(now),
			ScanBy: cwtypes.ScanByTimestampDescending}
		for k, tr := range batch {
			c, t := conns[tr.c], conns[tr.c].Tunnels[tr.t]
			for _, name := range []string{"TunnelDataIn", "TunnelDataOut"} {
				in.MetricDataQueries = append(in.MetricDataQueries, cwtypes.MetricDataQuery{
					Id: awssdk.String(fmt.Sprintf("t%d_%s", k, map[string]string{"TunnelDataIn": "in", "TunnelDataOut": "out"}[name])),
					MetricStat: &cwtypes.MetricStat{Period: awssdk.Int32(int32(trafficPeriod.Seconds())), Stat: awssdk.String("Sum"),
						Metric: &cwtypes.Metric{Namespace: awssdk.String("AWS/VPN"), MetricName: awssdk.String(name),
							Dimensions: []cwtypes.Dimension{{Name: awssdk.String("VpnId"), Value: awssdk.String(c.ID)},
								{Name: awssdk.String("TunnelIpAddress"), Value: awssdk.String(t.OutsideIP)}}}},
					ReturnData: awssdk.Bool(true)})
			}
		}
		latest := map[string]struct {
			v  float64
			at time.Time
		}{}
		for page := 0; page < 10; page++ {
			cctx, cancel := p.callCtx(ctx)
			out, err := r.metrics(cctx, in)
			cancel()
			if err != nil {
				err = explain(ctx, "GetMetricData", err)
				if errors.Is(err, ErrThrottled) {
					r.metricsThrottle++
					wait := backoff.Policy{Base: backoffBase, Max: backoffMax}.Jittered(r.metricsThrottle)
					r.metricsBackoff = now.Add(wait)
					err = fmt.Errorf("%w; next try after %s", err, wait.Round(time.Second))
				}
				p.opts.Logger.Warn("AWS tunnel traffic not read this poll", zap.String("region", r.name), zap.Error(err))
				return
			}
			for _, res := range out.MetricDataResults {
				id := awssdk.ToString(res.Id)
				for i := range min(len(res.Timestamps), len(res.Values)) {
					if cur, ok := latest[id]; !ok || res.Timestamps[i].After(cur.at) {
						latest[id] = struct {
							v  float64
							at time.Time
						}{res.Values[i], res.Timestamps[i]}
					}
				}
			}
			if out.NextToken == nil {
				break
			}
			in.NextToken = out.NextToken
		}
		r.metricsThrottle = 0
		for k, tr := range batch {
			inP, okIn := latest[fmt.Sprintf("t%d_in", k)]
			outP, okOut := latest[fmt.Sprintf("t%d_out", k)]
			if !okIn && !okOut {
				continue
			}
			tt := &TunnelTraffic{In: inP.v, Out: outP.v, At: inP.at, Period: trafficPeriod}
			if outP.at.After(tt.At) {
				tt.At = outP.at
			}
			conns[tr.c].Tunnels[tr.t].Traffic = tt
		}
	}
}
