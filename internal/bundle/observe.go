package bundle

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/aws"
	"github.com/vpnwatchd/vpnwatchd/internal/config"
	"github.com/vpnwatchd/vpnwatchd/internal/correlate"
	"github.com/vpnwatchd/vpnwatchd/internal/gateway"
	"github.com/vpnwatchd/vpnwatchd/internal/rtx"
	"github.com/vpnwatchd/vpnwatchd/internal/strongswan"
)

// Observations decodes a bundle into what the correlator evaluates: the EC2
// responses through the real SDK (replayed, no network), the RTX outputs
// through the same parsers as a live poll. It also returns what the bundle
// could not show. A file that cannot be read is an error naming it. The
// routers' SA history is the caller's to apply (SAHistory).
func (b Bundle) Observations(ctx context.Context, loc *time.Location) (correlate.Observations, []string, error) {
	var obs correlate.Observations
	var unchecked []string
	for _, f := range b.Ignored {
		unchecked = append(unchecked, correlate.Printable(fmt.Sprintf("%s: %s, ignored", filepath.Join(b.Dir, f.Path), f.Reason)))
	}
	at := b.Meta.TakenAt
	for _, source := range slices.Sorted(maps.Keys(b.AWS)) {
		for _, region := range slices.Sorted(maps.Keys(b.AWS[source])) {
			files := b.AWS[source][region]
			dir := filepath.Join(b.Dir, "aws", source, region)
			if _, ok := files[aws.FileDescribeVPNConnections]; !ok {
				unchecked = append(unchecked, fmt.Sprintf("%s: no %s: AWS tunnel status not checked", dir, aws.FileDescribeVPNConnections))
				continue
			}
			if _, ok := files[aws.FileDescribeCustomerGateways]; !ok {
				unchecked = append(unchecked, fmt.Sprintf("%s: no %s: customer gateway address not checked", dir, aws.FileDescribeCustomerGateways))
			}
			p, err := aws.New(ctx, config.AWSSource{Name: source, Regions: []string{region}, Timeout: 10 * time.Second, MaintenanceInterval: time.Hour,
				Logs: slices.Contains(b.Meta.AWSLogs, source)},
				aws.Options{HTTPClient: aws.Replay{Files: files}, Credentials: aws.OfflineCredentials(), MaxAttempts: 1, Now: func() time.Time { return at }})
			if err != nil {
				return obs, nil, fmt.Errorf("%s: %w", dir, err)
			}
			snap := p.Poll(ctx)[0]
			if snap.Err != nil {
				return obs, nil, fmt.Errorf("%s: %w", filepath.Join(dir, aws.FileDescribeVPNConnections), snap.Err)
			}
			obs.AWS = append(obs.AWS, snap)
			obs.Expected = append(obs.Expected, correlate.SourceRef{Type: correlate.SourceAWS, Name: source, Region: region})
		}
	}
	for _, router := range slices.Sorted(maps.Keys(b.RTX)) {
		snap, missing, err := rtx.Build(router, b.RTX[router], loc)
		if err != nil {
			if pe := (*rtx.ParseError)(nil); errors.As(err, &pe) {
				return obs, nil, fmt.Errorf("%s:%d: %s: %q", filepath.Join(b.Dir, "rtx", router, CommandFile(pe.Command)), pe.Line, pe.Msg, pe.Text)
			}
			return obs, nil, fmt.Errorf("%s: %w", filepath.Join(b.Dir, "rtx", router), err)
		}
		for _, m := range missing {
			unchecked = append(unchecked, fmt.Sprintf("%s: no %s", filepath.Join(b.Dir, "rtx", router), CommandFile(m)))
		}
		snap.TakenAt = at
		obs.RTX = append(obs.RTX, snap)
		obs.Expected = append(obs.Expected, correlate.SourceRef{Type: correlate.SourceRTX, Name: router})
	}
	for _, gw := range slices.Sorted(maps.Keys(b.StrongSwan)) {
		dir := filepath.Join(b.Dir, "strongswan", gw)
		snap, err := strongswan.Build(gw, b.StrongSwan[gw], at)
		if err != nil {
			return obs, nil, fmt.Errorf("%s: %w", dir, err)
		}
		for _, u := range snap.Unchecked {
			unchecked = append(unchecked, fmt.Sprintf("%s: %s", dir, u))
		}
		snap.Unchecked = nil // said above, with the bundle's path
		obs.Gateways = append(obs.Gateways, snap)
		obs.Expected = append(obs.Expected, config.StrongSwanSource(gw))
	}
	return obs, unchecked, nil
}

// SAHistory is what is known of the gateways' SAs across the bundles of
// one diagnosis, as a daemon's pollers keep it across polls: bundles read
// in order show a rekey that failed between them. The zero value is ready.
type SAHistory struct {
	routers  map[string]*rtx.SAHistory
	gateways map[config.SourceID]*gateway.SAHistory
}

// Apply notes the SAs of obs's router and gateway snapshots.
func (h *SAHistory) Apply(obs *correlate.Observations) {
	if h.routers == nil {
		h.routers, h.gateways = map[string]*rtx.SAHistory{}, map[config.SourceID]*gateway.SAHistory{}
	}
	for i := range obs.RTX {
		s := &obs.RTX[i]
		if h.routers[s.Router] == nil {
			h.routers[s.Router] = &rtx.SAHistory{}
		}
		h.routers[s.Router].Apply(s)
	}
	for i := range obs.Gateways {
		s := &obs.Gateways[i]
		if h.gateways[s.Source] == nil {
			h.gateways[s.Source] = &gateway.SAHistory{}
		}
		h.gateways[s.Source].Apply(s)
	}
}
