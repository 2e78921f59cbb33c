package rtx

import (
	"github.com/vpnwatchd/vpnwatchd/internal/rtx/rtxsim"
	"reflect"
	"strings"
	"testing"
)

func TestRedactConfigMasksEveryCredentialForm(t *testing.T) {
	for line, secret := range rtxsim.SecretLines {
		for _, l := range []string{line, " " + line, "  " + line + "\r"} {
			got := RedactConfig(l)
			if strings.Contains(got, secret) {
				t.Errorf("%q → %q keeps the secret", l, got)
			}
			if !strings.Contains(got, "<redacted>") {
				t.Errorf("%q → %q: nothing marked", l, got)
			}
		}
	}
	// What the parser reads and the bundle needs is kept verbatim.
	for _, l := range []string{
		"tunnel select 1", " ipsec tunnel 201", "  ipsec sa policy 201 1 esp aes-cbc sha-hmac",
		"  ipsec ike remote address 1 203.0.113.10", "  ipsec ike local address 1 198.18.0.2",
		"  ipsec ike keepalive use 1 on dpd 10 3", "  ipsec ike duration ipsec-sa 1 3600",
		" ip tunnel tcp mss limit 1379", " ip tunnel mtu 1280", "ip lan2 mtu 1480",
		"bgp neighbor 1 64512 169.254.10.1 hold-time=30 local-address=169.254.10.2", "bgp use on",
		"ip route default gateway pp 1", "nat descriptor type 1 masquerade", "# RTX1200 Rev.10.01.65",
	} {
		if got := RedactConfig(l); got != l {
			t.Errorf("%q changed to %q", l, got)
		}
	}
}

// A redacted configuration still parses to the same tunnels, BGP and LANs:
// `diagnose` reads bundles.
func TestRedactedConfigParsesTheSame(t *testing.T) {
	for _, name := range []string{"aws-yamaha-sample-config.txt", "aws-yamaha-config-ikev2-adapted.txt", "show-config.1.txt"} {
		text := sample(t, name)
		var planted []string
		for l := range rtxsim.SecretLines {
			planted = append(planted, l)
		}
		text += "\n" + strings.Join(planted, "\n") + "\n"
		want, err := ParseConfig(text)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := ParseConfig(RedactConfig(text))
		if err != nil {
			t.Fatalf("%s redacted: %v", name, err)
		}
		// Descriptions are free text: masked in bundles.
		for i := range want.Tunnels {
			if want.Tunnels[i].Description != "" {
				want.Tunnels[i].Description = got.Tunnels[i].Description
			}
		}
		if !reflect.DeepEqual(got.Tunnels, want.Tunnels) || !reflect.DeepEqual(got.BGP, want.BGP) || !reflect.DeepEqual(got.LANs, want.LANs) {
			t.Errorf("%s: redaction changed what is parsed:\n%+v\n%+v", name, got.Tunnels, want.Tunnels)
		}
	}
}

func FuzzRedactConfigLine(f *testing.F) {
	for l := range rtxsim.SecretLines {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, l string) {
		out := RedactConfigLine(l)
		if out != l && !strings.Contains(out, "<redacted>") {
			t.Errorf("%q → %q", l, out)
		}
	})
}
