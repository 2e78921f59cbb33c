package aws

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/smithy-go"
)

// ErrThrottled marks a poll that AWS throttled (RequestLimitExceeded) even
// after the SDK's retries; the region then backs off for a while.
var ErrThrottled = errors.New("throttled by AWS")

// ErrAuth marks a poll refused for its credentials or permissions: retrying
// will not help until someone fixes the IAM setup.
var ErrAuth = errors.New("AWS refused the credentials or permissions")

// NoCredentialsError is a poll that found no AWS credentials anywhere the
// SDK looks. Its message is one line an operator can act on; Detail is the
// SDK's own account of each place it tried, for the debug log.
type NoCredentialsError struct {
	Profile string
	Detail  error
}

func (e *NoCredentialsError) Error() string {
	profile := "the default profile"
	if e.Profile != "" {
		profile = fmt.Sprintf("profile %q", e.Profile)
	}
	return "no AWS credentials found: vpnwatchd tried the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), " +
		"the shared files (~/.aws/credentials and ~/.aws/config, " + profile + ") and an instance or container role; " +
		"give it one of those (under systemd: Environment= or LoadCredential= in a drop-in, see README \"AWS credentials\"), " +
		"or set aws[].profile / aws[].role_arn"
}

// Unwrap makes errors.Is(err, ErrAuth) hold: retrying will not help.
func (e *NoCredentialsError) Unwrap() error { return ErrAuth }

// iamPolicyHint points at the least-privilege policy shipped with vpnwatchd.
const iamPolicyHint = "the policy vpnwatchd needs is in deploy/aws/iam-policy.json"

// explain turns an SDK error into one an operator can act on, naming the
// operation and, for permission errors, the IAM action that is missing.
func explain(ctx context.Context, op string, err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code := ae.ErrorCode()
		switch code {
		case "RequestLimitExceeded", "Throttling", "ThrottlingException":
			return fmt.Errorf("%s: %w (%s: %s)", op, ErrThrottled, code, ae.ErrorMessage())
		case "UnauthorizedOperation", "AccessDenied", "AccessDeniedException":
			return fmt.Errorf("%s: %w: the IAM identity is not allowed ec2:%s (%s); %s", op, ErrAuth, op, code, iamPolicyHint)
		case "AuthFailure", "InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException":
			return fmt.Errorf("%s: %w: AWS did not accept the access key (%s: %s); check the credentials, profile or role_arn", op, ErrAuth, code, ae.ErrorMessage())
		case "ExpiredToken", "ExpiredTokenException", "RequestExpired":
			return fmt.Errorf("%s: %w: the credentials have expired (%s); renew the session or role credentials", op, ErrAuth, code)
		case "OptInRequired":
			return fmt.Errorf("%s: %w: the region is not enabled for this account (%s)", op, ErrAuth, code)
		}
		return fmt.Errorf("%s: %w", op, err)
	}
	// The SDK's credential chain found nothing (its message lists every
	// provider it tried, several lines long).
	if strings.Contains(err.Error(), "get identity: get credentials") {
		return fmt.Errorf("%s: %w", op, &NoCredentialsError{Detail: err})
	}
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: no answer from the EC2 API in time: %w", op, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}
