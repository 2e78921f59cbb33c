package aws

import (
	"io"
	"net/http"
	"strings"
)

// httpClient sends raw, unsigned Query API requests, as a misconfigured
// client would.
type httpClient struct{}

type rawResp struct {
	status int
	body   string
}

func (httpClient) post(url, form string) (rawResp, error) {
	resp, err := http.Post(url, "application/x-www-form-urlencoded", strings.NewReader(form))
	if err != nil {
		return rawResp{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return rawResp{resp.StatusCode, string(b)}, err
}
