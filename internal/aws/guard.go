package aws

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
)

// DefaultMaxResponseBytes bounds one EC2 answer. A region's
// DescribeVpnConnections is a few KiB per connection (with its customer
// gateway configuration document): 64 MiB is thousands of connections,
// and a misbehaving endpoint cannot make the daemon buffer gigabytes.
const DefaultMaxResponseBytes = 64 << 20

// ErrResponseTooLarge is an EC2 answer longer than the limit.
var ErrResponseTooLarge = errors.New("the answer is larger than vpnwatchd accepts from EC2")

// NotEC2Error is an HTTP 200 answer that is not an EC2 Query API response:
// a captive portal's page, a TLS-intercepting proxy's notice, an empty body
// from a wrong endpoint. Decoded as it is it would read as "no VPN
// connections": it is an error instead, and the source is stale.
type NotEC2Error struct {
	ContentType string
	Start       string // the first bytes, quoted
	Service     string // "" for EC2; "CloudWatch"
}

func (e *NotEC2Error) Error() string {
	service := e.Service
	if service == "" {
		service = "EC2"
	}
	return fmt.Sprintf("the endpoint answered HTTP 200 with something that is not an %s response (Content-Type %q, starting %s): a captive portal, a proxy or a wrong endpoint?",
		service, e.ContentType, e.Start)
}

// ec2RootRE is the start of every EC2 Query API success answer: the
// <ActionResponse> root element, whose first child is <requestId>
// (shared/aws-samples).
var ec2RootRE = regexp.MustCompile(`^\s*(?:<\?xml[^>]*\?>\s*)?<([A-Z][A-Za-z0-9]*Response)\b[^>]*>\s*<requestId>[^<]+</requestId>`)

// guardedClient checks EC2 answers before the SDK decodes them.
type guardedClient struct {
	base  awssdk.HTTPClient
	limit int64
	// cbor: the answers are CloudWatch's (Smithy RPC v2 CBOR), which say so
	// in their Smithy-Protocol header, not EC2's XML.
	cbor bool
	// jsonObject: the answers are CloudWatch Logs' (AWS JSON 1.1): a JSON
	// object, application/x-amz-json-1.1.
	jsonObject bool
}

const peekBytes = 1 << 10

// Do sends the request and hands the SDK a body that fails past the size
// limit; a 200 answer must start like an EC2 response.
func (g guardedClient) Do(req *http.Request) (*http.Response, error) {
	resp, err := g.base.Do(req)
	if err != nil || resp == nil {
		return resp, err
	}
	br := bufio.NewReaderSize(resp.Body, peekBytes)
	if resp.StatusCode == http.StatusOK && g.cbor {
		if resp.Header.Get("Smithy-Protocol") != "rpc-v2-cbor" {
			head, _ := br.Peek(peekBytes)
			resp.Body.Close()
			return nil, &NotEC2Error{ContentType: resp.Header.Get("Content-Type"), Start: quoteStart(head), Service: "CloudWatch"}
		}
	} else if resp.StatusCode == http.StatusOK && g.jsonObject {
		head, _ := br.Peek(peekBytes)
		if t := bytes.TrimLeft(head, " \t\r\n"); len(t) == 0 || t[0] != '{' || !strings.Contains(resp.Header.Get("Content-Type"), "json") {
			resp.Body.Close()
			return nil, &NotEC2Error{ContentType: resp.Header.Get("Content-Type"), Start: quoteStart(head), Service: "CloudWatch Logs"}
		}
	} else if resp.StatusCode == http.StatusOK {
		head, _ := br.Peek(peekBytes)
		head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
		if m := ec2RootRE.FindSubmatch(head); m == nil || string(m[1]) == "Response" {
			resp.Body.Close()
			return nil, &NotEC2Error{ContentType: resp.Header.Get("Content-Type"), Start: quoteStart(head)}
		}
	}
	resp.Body = &capped{r: br, left: g.limit, c: resp.Body}
	return resp, nil
}

func quoteStart(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return "(an empty body)"
	}
	return fmt.Sprintf("%.60q", b)
}

// capped fails a read once more than left bytes came.
type capped struct {
	r    io.Reader
	left int64
	c    io.Closer
}

func (c *capped) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if int64(n) > c.left {
		return 0, ErrResponseTooLarge
	}
	c.left -= int64(n)
	return n, err
}

func (c *capped) Close() error { return c.c.Close() }
