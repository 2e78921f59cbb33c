package config

import (
	"reflect"
	"testing"
)

func TestSources(t *testing.T) {
	c := &Config{AWS: []AWSSource{{Name: "prod", Regions: []string{"ap-northeast-1", "ap-northeast-3"}}},
		Routers: []Router{{Name: "osaka"}}, Probes: []Probe{{Name: "vpc"}}}
	want := []SourceID{AWSRegion("prod", "ap-northeast-1"), AWSRegion("prod", "ap-northeast-3"), RouterSource("osaka"), ProbeSource("vpc")}
	if got := c.Sources(); !reflect.DeepEqual(got, want) {
		t.Errorf("Sources() = %v", got)
	}
	for id, s := range map[SourceID]string{want[0]: "aws prod ap-northeast-1", want[2]: "rtx osaka", want[3]: "probe vpc", {Type: SourceAWS, Name: "prod"}: "aws prod"} {
		if id.String() != s {
			t.Errorf("%#v: %q, want %q", id, id.String(), s)
		}
	}
}
