package main

// The binary carries its own CA roots and time zone database, used only
// where the system has none: in the OCI image (the binary alone, from
// scratch) HTTPS to AWS, Slack and webhooks still verifies certificates, and
// diagnose --router-timezone and the configuration's time zones still load.
import (
	_ "time/tzdata"

	_ "golang.org/x/crypto/x509roots/fallback"
)
