package ec2sim

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"
)

// CloudWatch: the simulator answers GetMetricData for the AWS/VPN metrics
// TunnelDataIn and TunnelDataOut, in the protocol the SDK's cloudwatch
// client speaks (Smithy RPC v2 CBOR: POST
// /service/GraniteServiceVersion20100801/operation/GetMetricData with a
// CBOR body). Datapoints are what AWS publishes per tunnel: the bytes
// received (after decryption) and sent (before encryption) per period, with
// dimensions VpnId and TunnelIpAddress (AWS Site-to-Site VPN User Guide,
// "Monitoring with Amazon CloudWatch").

// TunnelData is one datapoint of a tunnel's traffic.
type TunnelData struct {
	At      time.Time
	In, Out float64 // bytes in the period
}

type metricKey struct{ region, vpnID, outsideIP string }

// AddTunnelData publishes a datapoint of a tunnel's traffic.
func (s *Sim) AddTunnelData(region, vpnID, outsideIP string, d TunnelData) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.metrics == nil {
		s.metrics = map[metricKey][]TunnelData{}
	}
	k := metricKey{region, vpnID, outsideIP}
	s.metrics[k] = append(s.metrics[k], d)
}

// ThrottleMetrics makes the next n GetMetricData calls fail with
// ThrottlingException.
func (s *Sim) ThrottleMetrics(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.metricsThrottle = n
}

const cloudWatchPath = "/service/GraniteServiceVersion20100801/operation/"

// serveCloudWatch answers one CloudWatch call; s.mu is held.
func (s *Sim) serveCloudWatch(w http.ResponseWriter, region, op string, body []byte) {
	fail := func(status int, code, msg string) {
		w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
		w.Header().Set("Content-Type", "application/cbor")
		w.WriteHeader(status)
		w.Write(cbor.Encode(cbor.Map{"__type": cbor.String("com.amazonaws.cloudwatch#" + code), "message": cbor.String(msg)}))
	}
	if op != "GetMetricData" {
		fail(http.StatusBadRequest, "InvalidAction", "ec2sim serves GetMetricData only")
		return
	}
	if s.metricsThrottle > 0 {
		s.metricsThrottle--
		fail(http.StatusBadRequest, "Throttling", "Rate exceeded")
		return
	}
	v, err := cbor.Decode(body)
	in, ok := v.(cbor.Map)
	if err != nil || !ok {
		fail(http.StatusBadRequest, "SerializationException", fmt.Sprintf("not a CBOR map: %v", err))
		return
	}
	start, err1 := cbor.AsTime(in["StartTime"])
	end, err2 := cbor.AsTime(in["EndTime"])
	queries, _ := in["MetricDataQueries"].(cbor.List)
	if err1 != nil || err2 != nil || len(queries) == 0 || len(queries) > 500 {
		fail(http.StatusBadRequest, "InvalidParameterValue", "StartTime, EndTime and 1 to 500 MetricDataQueries are required")
		return
	}
	var results cbor.List
	for _, q := range queries {
		qm, _ := q.(cbor.Map)
		id, _ := qm["Id"].(cbor.String)
		stat, _ := qm["MetricStat"].(cbor.Map)
		metric, _ := stat["Metric"].(cbor.Map)
		name, _ := metric["MetricName"].(cbor.String)
		ns, _ := metric["Namespace"].(cbor.String)
		dims := map[string]string{}
		if list, ok := metric["Dimensions"].(cbor.List); ok {
			for _, d := range list {
				dm, _ := d.(cbor.Map)
				k, _ := dm["Name"].(cbor.String)
				val, _ := dm["Value"].(cbor.String)
				dims[string(k)] = string(val)
			}
		}
		if ns != "AWS/VPN" || (name != "TunnelDataIn" && name != "TunnelDataOut") || stat["Stat"] != cbor.String("Sum") {
			fail(http.StatusBadRequest, "InvalidParameterValue", fmt.Sprintf("query %s: ec2sim serves AWS/VPN TunnelDataIn/TunnelDataOut Sum only", id))
			return
		}
		var stamps, values cbor.List
		points := slices.Clone(s.metrics[metricKey{region, dims["VpnId"], dims["TunnelIpAddress"]}])
		// Newest first, as GetMetricData returns them by default.
		slices.SortFunc(points, func(a, b TunnelData) int { return b.At.Compare(a.At) })
		for _, p := range points {
			if p.At.Before(start) || !p.At.Before(end) {
				continue
			}
			stamps = append(stamps, &cbor.Tag{ID: 1, Value: cbor.Float64(float64(p.At.UnixMilli()) / 1000)})
			val := p.In
			if name == "TunnelDataOut" {
				val = p.Out
			}
			values = append(values, cbor.Float64(val))
		}
		results = append(results, cbor.Map{"Id": id, "Label": name, "Timestamps": stamps, "Values": values, "StatusCode": cbor.String("Complete")})
	}
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	w.Write(cbor.Encode(cbor.Map{"MetricDataResults": results, "Messages": cbor.List{}}))
}

// isCloudWatch reports whether a request is for CloudWatch, and its
// operation.
func isCloudWatch(r *http.Request) (string, bool) {
	op, ok := strings.CutPrefix(r.URL.Path, cloudWatchPath)
	return op, ok && r.Header.Get("Smithy-Protocol") == "rpc-v2-cbor"
}
