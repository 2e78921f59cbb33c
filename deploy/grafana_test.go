package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// dashboard is what the tests read of the Grafana dashboard's JSON model.
type dashboard struct {
	Inputs []struct {
		Name     string `json:"name"`
		Type     string `json:"type"`
		PluginID string `json:"pluginId"`
	} `json:"__inputs"`
	Requires []struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	} `json:"__requires"`
	UID        string `json:"uid"`
	Title      string `json:"title"`
	Templating struct {
		List []variable `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type dsRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type variable struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	Query      string `json:"query"`
	Datasource *dsRef `json:"datasource"`
	Multi      bool   `json:"multi"`
	IncludeAll bool   `json:"includeAll"`
	AllValue   string `json:"allValue"`
	Current    struct {
		Value string `json:"value"`
	} `json:"current"`
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *dsRef `json:"datasource"`
	GridPos    struct {
		X int `json:"x"`
		Y int `json:"y"`
		W int `json:"w"`
		H int `json:"h"`
	} `json:"gridPos"`
	Collapsed bool     `json:"collapsed"`
	Panels    []panel  `json:"panels"`
	Targets   []target `json:"targets"`
}

type target struct {
	RefID      string `json:"refId"`
	Expr       string `json:"expr"`
	Datasource *dsRef `json:"datasource"`
}

// group is a row of the dashboard with its panels; the panels above the
// first row are a group with no title.
type group struct {
	title  string
	panels []panel
}

// groups splits the dashboard into its rows: a collapsed row holds its
// panels, an open one is followed by them.
func (d dashboard) groups() []group {
	gs := []group{{}}
	for _, p := range d.Panels {
		switch {
		case p.Type == "row":
			gs = append(gs, group{title: p.Title, panels: p.Panels})
		default:
			gs[len(gs)-1].panels = append(gs[len(gs)-1].panels, p)
		}
	}
	return gs
}

// The dashboard's query variables, in order, and the label each picks.
var dashboardVariables = []struct{ name, label string }{
	{"job", "job"}, {"instance", "instance"}, {"region", "region"}, {"vpn_connection_id", "vpn_connection_id"}, {"gateway", "router"},
}

// Its rows, in order; the panels above the first row are untitled.
var dashboardRows = []string{"", "AWS side", "RTX routers", "strongSwan gateways", "Other gateway kinds", "Path MTU probes", "vpnwatchd health"}

// The health panels must show every one of these.
var healthMetrics = []string{"vpnwatch_last_cycle_timestamp_seconds", "vpnwatch_cycle_duration_seconds_bucket", "vpnwatch_config_last_reload_successful",
	"vpnwatch_state_writable", "vpnwatch_notifications_total", "vpnwatch_notifications_failed_total", "vpnwatch_notification_queue_length"}

var (
	// A metric in a query, with its label matchers when it has any.
	selectorRE = regexp.MustCompile(`\b(vpnwatch_[a-z_]+)(\{([^}]*)\})?`)
	// A variable Grafana replaces: $name or ${name}.
	varRefRE = regexp.MustCompile(`\$(\w+)|\$\{(\w+)\}`)
	// What a query variable asks Prometheus: label_values(metric{matchers}, label).
	labelValuesRE = regexp.MustCompile(`^label_values\((vpnwatch_[a-z_]+)(\{[^}]*\})?, *(\w+)\)$`)
)

// grafanaBuiltins are the variables Grafana itself defines that queries use.
var grafanaBuiltins = map[string]bool{"__rate_interval": true}

func loadDashboard(t *testing.T) ([]byte, dashboard) {
	t.Helper()
	b, err := os.ReadFile("grafana/vpnwatchd.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("grafana/vpnwatchd.json: %v", err)
	}
	return b, d
}

// importDashboard does what Grafana's "Import dashboard" does with the
// data sources the user picks (inputs: name → data source uid): every
// ${NAME} of an __inputs entry, in any string of the model except
// __inputs itself, becomes the value.
func importDashboard(t *testing.T, raw []byte, inputs map[string]string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	var eval func(v any) any
	eval = func(v any) any {
		switch v := v.(type) {
		case string:
			for name, value := range inputs {
				v = strings.ReplaceAll(v, "${"+name+"}", value)
			}
			return v
		case []any:
			for i := range v {
				v[i] = eval(v[i])
			}
		case map[string]any:
			for k := range v {
				if k != "__inputs" {
					v[k] = eval(v[k])
				}
			}
		}
		return v
	}
	out, err := json.Marshal(eval(m))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// exportedSource is vpnwatchd's non-test Go source, where every metric it
// exports is defined as Namespace+"_suffix" or Name: "suffix".
func exportedSource(t *testing.T) string {
	t.Helper()
	var src strings.Builder
	err := filepath.WalkDir("../internal", func(p string, e os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
			b, err := os.ReadFile(p)
			src.Write(b)
			return err
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return src.String()
}

// The dashboard's structure: what Grafana's import needs, the variables
// and how queries use them, one row per side and gateway kind, the
// health panels; and every query names metrics vpnwatchd exports.
// TestGrafanaDashboardQueries runs the queries on a real Prometheus.
func TestGrafanaDashboard(t *testing.T) {
	raw, d := loadDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Errorf("dashboard uid %q, title %q: both are required", d.UID, d.Title)
	}

	// Import: Grafana asks for the Prometheus data source (__inputs) and
	// lists what the dashboard needs (__requires).
	if len(d.Inputs) != 1 || d.Inputs[0].Name != "DS_PROMETHEUS" || d.Inputs[0].Type != "datasource" || d.Inputs[0].PluginID != "prometheus" {
		t.Errorf("__inputs = %+v, want one datasource input DS_PROMETHEUS of plugin prometheus", d.Inputs)
	}
	required := map[string]bool{}
	for _, r := range d.Requires {
		required[r.Type+"/"+r.ID] = true
	}
	wantRequired := []string{"grafana/grafana", "datasource/prometheus"}
	for _, g := range d.groups() {
		for _, p := range g.panels {
			if !slices.Contains(wantRequired, "panel/"+p.Type) {
				wantRequired = append(wantRequired, "panel/"+p.Type)
			}
		}
	}
	for _, w := range wantRequired {
		if !required[w] {
			t.Errorf("__requires lacks %s", w)
		}
	}
	const picked = "P1809F7CD0C75ACF3"
	importedRaw := importDashboard(t, raw, map[string]string{"DS_PROMETHEUS": picked})
	if i := strings.Index(string(importedRaw), "${DS_"); i >= 0 {
		t.Errorf("after import, a data source input is left: %s", importedRaw[i:min(len(importedRaw), i+40)])
	}
	var imported dashboard
	if err := json.Unmarshal(importedRaw, &imported); err != nil {
		t.Fatal(err)
	}
	byName := map[string]variable{}
	for _, v := range imported.Templating.List {
		byName[v.Name] = v
	}
	if ds := byName["datasource"]; ds.Type != "datasource" || ds.Query != "prometheus" || ds.Current.Value != picked {
		t.Errorf("variable datasource = %+v: want a Prometheus data source variable whose default is the data source picked at import", ds)
	}
	// Every query goes to the data source the variable names.
	viaVariable := dsRef{Type: "prometheus", UID: "${datasource}"}
	for _, g := range imported.groups() {
		for _, p := range g.panels {
			if p.Datasource == nil || *p.Datasource != viaVariable {
				t.Errorf("panel %q: datasource %+v, want %+v", p.Title, p.Datasource, viaVariable)
			}
			for _, tg := range p.Targets {
				if tg.Datasource != nil && *tg.Datasource != viaVariable {
					t.Errorf("panel %q target %s: datasource %+v, want %+v", p.Title, tg.RefID, tg.Datasource, viaVariable)
				}
			}
		}
	}

	// Variables: the data source, then job, instance, region, VPN and
	// gateway, each asking Prometheus for the values of one label and
	// offering "All" as a regular expression that also matches series
	// without the label.
	var names []string
	for _, v := range d.Templating.List {
		names = append(names, v.Name)
	}
	wantNames := []string{"datasource"}
	for _, v := range dashboardVariables {
		wantNames = append(wantNames, v.name)
	}
	if !slices.Equal(names, wantNames) {
		t.Errorf("variables %v, want %v", names, wantNames)
	}
	defined := map[string]bool{}
	for _, v := range d.Templating.List {
		for _, ref := range varRefs(v.Query) {
			if !defined[ref] {
				t.Errorf("variable %s: its query uses $%s, which is not a variable defined before it", v.Name, ref)
			}
		}
		defined[v.Name] = true
		if v.Name == "datasource" {
			continue
		}
		if v.Type != "query" || !v.Multi || !v.IncludeAll || v.AllValue != ".*" {
			t.Errorf("variable %s: type %q multi %v includeAll %v allValue %q, want a query variable, multi-value, with All = .*", v.Name, v.Type, v.Multi, v.IncludeAll, v.AllValue)
		}
		if !labelValuesRE.MatchString(v.Query) {
			t.Errorf("variable %s: query %q is not label_values(vpnwatch_metric{…}, label)", v.Name, v.Query)
		}
	}

	// Panels: unique ids (also inside collapsed rows), a size, a place
	// on the 24-column grid that no other panel takes, and queries.
	src := exportedSource(t)
	seen := map[int]string{}
	checkLayout := func(ps []panel) {
		for i, p := range ps {
			if other, dup := seen[p.ID]; dup {
				t.Errorf("panels %q and %q have the same id %d", other, p.Title, p.ID)
			}
			seen[p.ID] = p.Title
			g := p.GridPos
			if p.Type == "" || g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
				t.Errorf("panel %q: type %q, gridPos %+v: a type and a size inside the 24 columns are required", p.Title, p.Type, g)
			}
			for _, q := range ps[:i] {
				h := q.GridPos
				if g.X < h.X+h.W && h.X < g.X+g.W && g.Y < h.Y+h.H && h.Y < g.Y+g.H {
					t.Errorf("panels %q and %q overlap: %+v, %+v", q.Title, p.Title, h, g)
				}
			}
		}
	}
	checkLayout(d.Panels)
	for _, p := range d.Panels {
		if p.Type == "row" && p.Collapsed {
			checkLayout(p.Panels)
		}
	}

	var rows []string
	for _, g := range d.groups() {
		rows = append(rows, g.title)
		metrics := map[string]bool{}
		for _, p := range g.panels {
			if p.Type == "row" || len(p.Targets) == 0 {
				t.Errorf("row %q: panel %q has no queries", g.title, p.Title)
			}
			for _, tg := range p.Targets {
				if tg.RefID == "" || strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("panel %q: a target without refId or expr", p.Title)
				}
				for _, ref := range varRefs(tg.Expr) {
					if !defined[ref] && !grafanaBuiltins[ref] {
						t.Errorf("panel %q: $%s is no variable of the dashboard", p.Title, ref)
					}
				}
				sels := selectorRE.FindAllStringSubmatch(tg.Expr, -1)
				if len(sels) == 0 {
					t.Errorf("panel %q: %q queries no vpnwatch_ metric", p.Title, tg.Expr)
				}
				for _, s := range sels {
					m, matchers := s[1], s[3]
					metrics[m] = true
					suffix := strings.TrimPrefix(strings.TrimSuffix(m, "_bucket"), "vpnwatch_")
					if !strings.Contains(src, `"_`+suffix+`"`) && !strings.Contains(src, `Name: "`+suffix+`"`) {
						t.Errorf("panel %q queries %s, which vpnwatchd does not export", p.Title, m)
					}
					// Every vpnwatchd series has job and instance: the
					// dashboard shows the instances picked.
					for _, f := range []string{`job=~"$job"`, `instance=~"$instance"`} {
						if !strings.Contains(matchers, f) {
							t.Errorf("panel %q: %s in %q is not filtered by %s", p.Title, m, tg.Expr, f)
						}
					}
					if err := rowHolds(g.title, m, matchers); err != nil {
						t.Errorf("row %q, panel %q: %v", g.title, p.Title, err)
					}
				}
			}
		}
		if g.title == "vpnwatchd health" {
			for _, m := range healthMetrics {
				if !metrics[m] {
					t.Errorf("the health row does not show %s", m)
				}
			}
		}
	}
	if !slices.Equal(rows, dashboardRows) {
		t.Errorf("rows %q, want %q", rows, dashboardRows)
	}
	// The series of one kind of gateway are in its row only: a row of a
	// kind nobody runs shows "No data", and no other panel depends on it.
	for _, g := range d.groups() {
		for _, p := range g.panels {
			for _, tg := range p.Targets {
				for _, s := range selectorRE.FindAllStringSubmatch(tg.Expr, -1) {
					switch {
					case strings.HasPrefix(s[1], "vpnwatch_rtx_") && g.title != "RTX routers",
						strings.HasPrefix(s[1], "vpnwatch_gateway_") && g.title != "strongSwan gateways" && g.title != "Other gateway kinds",
						strings.HasPrefix(s[1], "vpnwatch_aws_") && g.title != "AWS side":
						t.Errorf("panel %q in row %q queries %s", p.Title, g.title, s[1])
					}
				}
			}
		}
	}
}

// rowHolds says whether a row may show metric m (with those label
// matchers): each side and gateway kind has its own row.
func rowHolds(row, m, matchers string) error {
	want := map[string]string{
		"AWS side":            "vpnwatch_aws_",
		"RTX routers":         "vpnwatch_rtx_",
		"strongSwan gateways": "vpnwatch_gateway_",
		"Other gateway kinds": "vpnwatch_gateway_",
		"Path MTU probes":     "vpnwatch_probe_",
	}[row]
	if want != "" && !strings.HasPrefix(m, want) {
		return fmt.Errorf("%s is not a %s* series", m, want)
	}
	kind := map[string]string{"strongSwan gateways": `kind="strongswan"`, "Other gateway kinds": `kind!="strongswan"`}[row]
	if kind != "" && !strings.Contains(matchers, kind) {
		return fmt.Errorf("%s is not filtered by %s", m, kind)
	}
	return nil
}

// varRefs are the variables s uses.
func varRefs(s string) []string {
	var out []string
	for _, m := range varRefRE.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1]+m[2])
	}
	return out
}
