package alert

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// post sends a JSON body and classifies the answer the way every HTTP
// integration needs: 2xx done; 429 and 5xx retry (honouring Retry-After);
// other 4xx fail for good. Errors name the URL as shownURL renders it: for
// a secret URL (Slack's, a webhook's url_file) scheme and host only.
//
// Redirects are not followed, whatever client is given: a 301/302 would
// turn the POST into a GET without the alert and count it delivered, and a
// 307/308 would send the alert, its signature and (in Referer) the secret
// URL to a host nobody configured. A 3xx is a failure naming the new
// location, retried like any other until the URL is fixed.
func post(ctx context.Context, client *http.Client, rawURL string, secret bool, body []byte, header http.Header) (bool, error) {
	redactURL := func(s string) string { return shownURL(s, secret) }
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("request to %s: %w", redactURL(rawURL), err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "vpnwatchd")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := noRedirects(client).Do(req)
	if err != nil {
		return true, fmt.Errorf("POST %s: %w", redactURL(rawURL), unwrapURLError(err))
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch {
	case resp.StatusCode/100 == 2:
		return false, nil
	case resp.StatusCode/100 == 3:
		to := "no Location"
		if loc, err := resp.Location(); err == nil {
			to = shownURL(loc.String(), secret)
		}
		return true, fmt.Errorf("POST %s: %s: redirect to %s not followed; if the new location is right, configure it as the receiver's URL", redactURL(rawURL), resp.Status, to)
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode/100 == 5:
		err := fmt.Errorf("POST %s: %s: %s", redactURL(rawURL), resp.Status, bytes.TrimSpace(msg))
		if s, ok := parseRetryAfter(resp.Header.Get("Retry-After")); ok {
			return true, &RetryAfterError{After: s, Err: err}
		}
		return true, err
	default:
		return false, fmt.Errorf("POST %s: %s: %s", redactURL(rawURL), resp.Status, bytes.TrimSpace(msg))
	}
}

// noRedirects is client (http.DefaultClient when nil) answering every
// redirect with the redirect itself.
func noRedirects(client *http.Client) *http.Client {
	if client == nil {
		client = http.DefaultClient
	}
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

func parseRetryAfter(v string) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

// shownURL is a URL as errors and the alert test may show it: a secret one
// (whose path or query is the token) as scheme and host; any other without
// its user information and query, which may hold credentials.
func shownURL(s string, secret bool) string {
	if secret {
		return redactURL(s)
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "<url>"
	}
	return u.Scheme + "://" + u.Host + u.EscapedPath()
}

// redactURL keeps scheme and host: webhook paths and queries hold tokens.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "<url>"
	}
	if u.Path == "" || u.Path == "/" {
		return u.Scheme + "://" + u.Host
	}
	return u.Scheme + "://" + u.Host + "/<redacted>"
}

// unwrapURLError drops *url.Error, whose text repeats the full URL.
func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
