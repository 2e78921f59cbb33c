package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// decoder walks a parsed YAML node tree into Go values. yaml.v3's own
// decoder reports unknown keys and type errors with a line but without the
// key path, and stops at the first error; operators need
// "file:line: routers[0].timeout: …" for every problem at once, so the walk
// is done here, recording where every key was seen for later validation
// messages.
type decoder struct {
	file string
	pos  map[string]int // key path → line of the key in the file
	errs []error
}

var durationType = reflect.TypeFor[time.Duration]()

// defaulter is implemented by config types whose zero value is not their
// default. The decoder calls setDefaults on every new value before filling it
// from YAML, so a key that is absent keeps its default and one that is present
// overrides it.
type defaulter interface{ setDefaults() }

func (d *decoder) errorf(line int, path, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // "key:" with no value keeps the default
	}
	if v.CanAddr() {
		if df, ok := v.Addr().Interface().(defaulter); ok && v.IsZero() {
			df.setDefaults()
		}
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		v = v.Elem()
	}
	switch {
	case v.Type() == durationType:
		d.decodeDuration(n, v, path)
	case v.Kind() == reflect.Struct:
		d.decodeStruct(n, v, path)
	case v.Kind() == reflect.Slice:
		d.decodeSlice(n, v, path)
	case v.Kind() == reflect.Map:
		d.decodeMap(n, v, path)
	case v.Kind() == reflect.String:
		if s, ok := d.scalar(n, path, "a string"); ok {
			v.SetString(s)
		}
	case v.Kind() == reflect.Bool:
		s, ok := d.scalar(n, path, "true or false")
		if !ok {
			return
		}
		switch s {
		case "true":
			v.SetBool(true)
		case "false":
			v.SetBool(false)
		default:
			d.errorf(n.Line, path, "%q is not a boolean (want true or false)", s)
		}
	case v.Kind() == reflect.Int:
		s, ok := d.scalar(n, path, "an integer")
		if !ok {
			return
		}
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n.Tag != "!!int" {
			d.errorf(n.Line, path, "%q is not an integer", s)
			return
		}
		v.SetInt(i)
	default:
		// Only reachable if a config type gains a field of an unsupported kind.
		d.errorf(n.Line, path, "internal error: cannot decode into %s", v.Type())
	}
}

func (d *decoder) scalar(n *yaml.Node, path, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n.Line, path, "expected %s, got %s", want, kindName(n))
		return "", false
	}
	return n.Value, true
}

func (d *decoder) decodeDuration(n *yaml.Node, v reflect.Value, path string) {
	s, ok := d.scalar(n, path, "a duration such as 30s, 5m or 1h")
	if !ok {
		return
	}
	dur, err := time.ParseDuration(s)
	if err != nil {
		d.errorf(n.Line, path, "%q is not a duration (use a number with a unit: 30s, 5m, 1h30m)", s)
		return
	}
	if dur < 0 {
		d.errorf(n.Line, path, "%q: duration cannot be negative", s)
		return
	}
	v.SetInt(int64(dur))
}

// yamlFields maps the yaml keys of a struct type to field indexes.
func yamlFields(t reflect.Type) (map[string][]int, []string) {
	fields := map[string][]int{}
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if opts == "inline" && f.Type.Kind() == reflect.Struct {
			// An embedded group of keys (SSHLogin): its keys are the
			// parent's own.
			sub, subNames := yamlFields(f.Type)
			for k, idx := range sub {
				fields[k] = append([]int{i}, idx...)
			}
			names = append(names, subNames...)
			continue
		}
		if tag == "" || tag == "-" || !f.IsExported() {
			continue
		}
		fields[tag] = []int{i}
		names = append(names, tag)
	}
	return fields, names
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n.Line, path, "expected a mapping of keys, got %s", kindName(n))
		return
	}
	fields, names := yamlFields(v.Type())
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Value == "<<" && k.Tag == "!!merge" {
			d.decodeStruct(val, v, path) // YAML merge key: "<<: *defaults"
			continue
		}
		kp := joinPath(path, k.Value)
		idx, ok := fields[k.Value]
		if !ok {
			d.errorf(k.Line, kp, "unknown key (allowed here: %s)", strings.Join(names, ", "))
			continue
		}
		if seen[k.Value] {
			d.errorf(k.Line, kp, "duplicate key")
			continue
		}
		seen[k.Value] = true
		d.pos[kp] = k.Line
		d.decode(val, v.FieldByIndex(idx), kp)
	}
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n.Line, path, "expected a list, got %s", kindName(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		ip := fmt.Sprintf("%s[%d]", path, i)
		d.pos[ip] = item.Line
		d.decode(item, s.Index(i), ip)
	}
	v.Set(s)
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n.Line, path, "expected a mapping, got %s", kindName(n))
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		kp := joinPath(path, k.Value)
		if k.Kind != yaml.ScalarNode {
			d.errorf(k.Line, path, "map keys must be plain strings")
			continue
		}
		if v.MapIndex(reflect.ValueOf(k.Value)).IsValid() {
			d.errorf(k.Line, kp, "duplicate key")
			continue
		}
		d.pos[kp] = k.Line
		elem := reflect.New(v.Type().Elem()).Elem()
		d.decode(val, elem, kp)
		v.SetMapIndex(reflect.ValueOf(k.Value), elem)
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "nothing"
}

func reflectValue(c *Config) reflect.Value { return reflect.ValueOf(c).Elem() }
