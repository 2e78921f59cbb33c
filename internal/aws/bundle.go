package aws

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"regexp"
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

var regionRE = regexp.MustCompile(`Credential=[^/]+/[0-9]{8}/([a-z0-9-]+)/`)

// requestAction reads the Action of a Query API request and restores the
// body for sending.
func requestAction(req *http.Request) (string, error) {
	if req.Body == nil {
		return "", nil
	}
	b, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return "", err
	}
	req.Body = io.NopCloser(bytes.NewReader(b))
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
	action, err := requestAction(req)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	base := r.Base
	r.mu.Unlock()
	if base == nil {
		base = http.DefaultClient
	}
	resp, err := base.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	file, ok := bundleFiles[action]
	if !ok {
		return resp, nil
	}
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
	if r.bodies == nil {
		r.bodies = map[string]map[string][]byte{}
	}
	if r.bodies[region] == nil {
		r.bodies[region] = map[string][]byte{}
	}
	r.bodies[region][file] = body
	r.mu.Unlock()
	return resp, nil
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
