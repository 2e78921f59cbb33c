package main

import (
	"debug/elf"
	"debug/gosym"
	"os"
	"strings"
	"testing"
)

// The EC2 client has 800 methods; the program calls three. If *ec2.Client
// ends up in an interface again, the linker keeps all of them (text/template
// is linked and may call any method by name): 38 MB more binary and up to
// 15 MiB more resident memory. This test binary links Main, so its function
// table shows what the real one keeps.
func TestUnusedEC2OperationsNotLinked(t *testing.T) {
	f, err := elf.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// go test strips the symbol table; the runtime's own function table
	// (.gopclntab) is always there.
	sec := f.Section(".gopclntab")
	text := f.Section(".text")
	if sec == nil || text == nil {
		t.Fatal("test binary has no .gopclntab or .text section")
	}
	pcln, err := sec.Data()
	if err != nil {
		t.Fatal(err)
	}
	tab, err := gosym.NewTable(nil, gosym.NewLineTable(pcln, text.Addr))
	if err != nil {
		t.Fatal(err)
	}
	var kept, used []string
	for _, fn := range tab.Funcs {
		name, ok := strings.CutPrefix(fn.Name, "github.com/aws/aws-sdk-go-v2/service/ec2.(*Client).")
		if !ok {
			continue
		}
		switch name {
		case "RunInstances", "DeleteVpnConnection", "CreateVpc":
			kept = append(kept, name)
		case "DescribeVpnConnections":
			used = append(used, name)
		}
	}
	if len(used) == 0 {
		t.Fatal("no ec2.(*Client).DescribeVpnConnections symbol: the check looks at the wrong names")
	}
	if len(kept) > 0 {
		t.Errorf("the binary links EC2 operations the poller never calls (%v): is *ec2.Client stored in an interface? See ec2Client in internal/aws", kept)
	}
}
