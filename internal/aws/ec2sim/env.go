package ec2sim

import (
	"net/http/httptest"
	"testing"
	"time"
)

// Env is the environment that points the AWS SDK's default credential chain
// at static test credentials and away from everything else: no shared config
// files, no profile, no endpoint override, and no instance metadata service
// (which would be a request to 169.254.169.254 — never made from tests).
var Env = map[string]string{
	"AWS_ACCESS_KEY_ID":                   "AKIAEC2SIMEXAMPLE000",
	"AWS_SECRET_ACCESS_KEY":               "ec2sim-example-secret-key",
	"AWS_SESSION_TOKEN":                   "",
	"AWS_PROFILE":                         "",
	"AWS_DEFAULT_PROFILE":                 "",
	"AWS_CONFIG_FILE":                     "/nonexistent/vpnwatchd-ec2sim/config",
	"AWS_SHARED_CREDENTIALS_FILE":         "/nonexistent/vpnwatchd-ec2sim/credentials",
	"AWS_EC2_METADATA_DISABLED":           "true",
	"AWS_ENDPOINT_URL":                    "",
	"AWS_ENDPOINT_URL_EC2":                "",
	"AWS_ENDPOINT_URL_STS":                "",
	"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "",
	"AWS_REGION":                          "",
	"AWS_DEFAULT_REGION":                  "",
}

// Start serves a new simulator on a loopback port for the rest of the test
// and sets Env for it. It returns the simulator and its endpoint URL.
func Start(t testing.TB, now func() time.Time) (*Sim, string) {
	t.Helper()
	for k, v := range Env {
		t.Setenv(k, v)
	}
	sim := New(now)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, srv.URL
}
