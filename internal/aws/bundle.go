package aws

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Support bundle file names of the raw EC2 responses (DESIGN.md, "Support
// bundles").
const (
	FileDescribeVPNConnections   = "describe-vpn-connections.xml"
	FileDescribeCustomerGateways = "describe-customer-gateways.xml"
)

var bundleFiles = map[string]string{
	"DescribeVpnConnections":   FileDescribeVPNConnections,
	"DescribeCustomerGateways": FileDescribeCustomerGateways,
}

// logsTarget is the X-Amz-Target of CloudWatch Logs' FilterLogEvents, the
// one call of the JSON protocol the poller makes.
const logsTarget = "Logs_20140328.FilterLogEvents"

// LogsFile is the bundle file (under the region's directory) of the raw
// records of one of AWS's VPN log groups, by name or ARN.
func LogsFile(group string) string {
	if i := strings.Index(group, ":log-group:"); i >= 0 {
		group = strings.TrimSuffix(group[i+len(":log-group:"):], ":*")
	}
	return "logs/" + strings.NewReplacer("/", "_", "\\", "_", "..", "_").Replace(strings.TrimPrefix(group, "/")) + ".json"
}

// logsRequest is the part of a FilterLogEvents request that names its group.
type logsRequest struct {
	LogGroupName       string `json:"logGroupName"`
	LogGroupIdentifier string `json:"logGroupIdentifier"`
}

// logsGroup reads the log group of a FilterLogEvents request and restores
// the body for sending.
func logsGroup(req *http.Request) (string, error) {
	b, err := requestBody(req)
	if err != nil || b == nil {
		return "", err
	}
	var in logsRequest
	if err := json.Unmarshal(b, &in); err != nil {
		return "", fmt.Errorf("FilterLogEvents request: %w", err)
	}
	if in.LogGroupIdentifier != "" {
		return in.LogGroupIdentifier, nil
	}
	return in.LogGroupName, nil
}

// logsPage is what a bundle keeps of FilterLogEvents answers: their events,
// as AWS sent them, de-duplicated by eventId.
type logsPage struct {
	Events []json.RawMessage `json:"events"`
}

// mergeEvents adds the events of one answer to those recorded before.
func mergeEvents(recorded, answer []byte) ([]byte, error) {
	var have, got logsPage
	if len(recorded) > 0 {
		if err := json.Unmarshal(recorded, &have); err != nil {
			return nil, err
		}
	}
	if err := json.Unmarshal(answer, &got); err != nil {
		return nil, fmt.Errorf("FilterLogEvents answer: %w", err)
	}
	seen := map[string]bool{}
	id := func(e json.RawMessage) string {
		var x struct {
			EventID string `json:"eventId"`
		}
		json.Unmarshal(e, &x)
		return x.EventID
	}
	for _, e := range have.Events {
		seen[id(e)] = true
	}
	for _, e := range got.Events {
		if k := id(e); k == "" || !seen[k] {
			seen[k] = true
			have.Events = append(have.Events, e)
		}
	}
	if have.Events == nil {
		have.Events = []json.RawMessage{}
	}
	return json.MarshalIndent(have, "", " ")
}

// requestBody reads a request's body and puts a copy back for sending; nil
// when it has none.
func requestBody(req *http.Request) ([]byte, error) {
	if req.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	req.Body = io.NopCloser(bytes.NewReader(b))
	return b, nil
}

var regionRE = regexp.MustCompile(`Credential=[^/]+/[0-9]{8}/([a-z0-9-]+)/`)

// requestAction reads the Action of a Query API request and restores the
// body for sending.
func requestAction(req *http.Request) (string, error) {
	b, err := requestBody(req)
	if err != nil || b == nil {
		return "", err
	}
	form, err := url.ParseQuery(string(b))
	if err != nil {
		return "", err
	}
	return form.Get("Action"), nil
}

// Recorder is an HTTP client for the SDK that keeps the raw body of the
// last successful answer to each bundle action, per region.
type Recorder struct {
	// Base sends the requests; the SDK's own client (with its TLS, proxy
	// and CA bundle settings) when the poller installs the recorder.
	Base   awssdk.HTTPClient
	mu     sync.Mutex
	bodies map[string]map[string][]byte // region → file → body
}

// Do sends the request and records the answer.
func (r *Recorder) Do(req *http.Request) (*http.Response, error) {
	if req.Header.Get("X-Amz-Target") == logsTarget {
		return r.doLogs(req)
	}
	action, err := requestAction(req)
	if err != nil {
		return nil, err
	}
	resp, err := r.base().Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	file, ok := bundleFiles[action]
	if !ok {
		return resp, nil
	}
	return r.keep(req, resp, file, func(_, body []byte) ([]byte, error) { return body, nil })
}

// keep reads an answer, hands the SDK a copy and stores what merge makes
// of the file recorded before and the body, under the request's region.
func (r *Recorder) keep(req *http.Request, resp *http.Response, file string, merge func(recorded, body []byte) ([]byte, error)) (*http.Response, error) {
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	region := ""
	if m := regionRE.FindStringSubmatch(req.Header.Get("Authorization")); m != nil {
		region = m[1]
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bodies == nil {
		r.bodies = map[string]map[string][]byte{}
	}
	if r.bodies[region] == nil {
		r.bodies[region] = map[string][]byte{}
	}
	kept, err := merge(r.bodies[region][file], body)
	if err != nil {
		return nil, err
	}
	r.bodies[region][file] = kept
	return resp, nil
}

// doLogs sends a FilterLogEvents request and adds the events of the answer
// to its group's file.
func (r *Recorder) doLogs(req *http.Request) (*http.Response, error) {
	group, err := logsGroup(req)
	if err != nil {
		return nil, err
	}
	resp, err := r.base().Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	return r.keep(req, resp, LogsFile(group), mergeEvents)
}

func (r *Recorder) base() awssdk.HTTPClient {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Base == nil {
		return http.DefaultClient
	}
	return r.Base
}

// Files returns the recorded bodies of a region by bundle file name.
func (r *Recorder) Files(region string) map[string][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.bodies[region])
}

// Replay is an HTTP client for the SDK that answers from the files of a
// support bundle, so that a bundle is decoded by the same SDK code as a
// live poll. Actions without a file get an error answer, and the parts of
// the snapshot that need them stay unknown.
type Replay struct {
	Files map[string][]byte // bundle file name → body
}

// Do answers one request from the files.
func (r Replay) Do(req *http.Request) (*http.Response, error) {
	if req.Header.Get("X-Amz-Target") == logsTarget {
		group, err := logsGroup(req)
		if err != nil {
			return nil, err
		}
		body, ok := r.Files[LogsFile(group)]
		status := http.StatusOK
		if !ok {
			status = http.StatusBadRequest
			body = fmt.Appendf(nil, `{"__type":"ResourceNotFoundException","message":"log group %s is not in the support bundle"}`, group)
		}
		return &http.Response{StatusCode: status, Status: http.StatusText(status), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Content-Type": []string{"application/x-amz-json-1.1"}}, Body: io.NopCloser(bytes.NewReader(body)),
			ContentLength: int64(len(body)), Request: req}, nil
	}
	action, err := requestAction(req)
	if err != nil {
		return nil, err
	}
	body, ok := r.Files[bundleFiles[action]]
	status := http.StatusOK
	if !ok {
		status = http.StatusBadRequest
		body = fmt.Appendf(nil, `<Response><Errors><Error><Code>VpnwatchdNotInBundle</Code><Message>%s is not in the support bundle</Message></Error></Errors><RequestID>bundle</RequestID></Response>`, action)
	}
	return &http.Response{StatusCode: status, Status: http.StatusText(status), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": []string{"text/xml"}}, Body: io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)), Request: req}, nil
}

// OfflineCredentials sign requests that never leave the process (Replay).
func OfflineCredentials() awssdk.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider("AKIAVPNWATCHDOFFLINE", "offline", "")
}

var (
	pskRE      = regexp.MustCompile(`(?s)<preSharedKey>.*?</preSharedKey>`)
	cgwConfRE  = regexp.MustCompile(`(?s)<customerGatewayConfiguration>.*?</customerGatewayConfiguration>`)
	pskArnRE   = regexp.MustCompile(`(?s)<preSharedKeyArn>.*?</preSharedKeyArn>`)
	redactedPH = "&lt;redacted&gt;" // "<redacted>", the one marker, as XML text
)

// Redact removes the secrets an EC2 response can hold before it goes into a
// support bundle: tunnel pre-shared keys, and the customer gateway
// configuration document (which repeats them).
func Redact(body []byte) []byte {
	body = pskRE.ReplaceAll(body, []byte("<preSharedKey>"+redactedPH+"</preSharedKey>"))
	body = pskArnRE.ReplaceAll(body, []byte("<preSharedKeyArn>"+redactedPH+"</preSharedKeyArn>"))
	return cgwConfRE.ReplaceAll(body, []byte("<customerGatewayConfiguration>"+redactedPH+"</customerGatewayConfiguration>"))
}

// Recorders holds one Recorder per AWS source, so that two sources in the
// same region keep their own responses.
type Recorders struct {
	mu sync.Mutex
	m  map[string]*Recorder
}

// For returns the recorder of a source.
func (r *Recorders) For(source string) *Recorder {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]*Recorder{}
	}
	if r.m[source] == nil {
		r.m[source] = &Recorder{}
	}
	return r.m[source]
}
