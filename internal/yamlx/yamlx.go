// Package yamlx decodes smsfw's YAML files strictly (unknown keys are
// errors) and keeps the line of every key, so that validation errors read
// "file:line: message" like a compiler's.
package yamlx

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error is a problem at a position in a file.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// Lines maps a key path ("peers[1].password", "upstreams.main") to its line.
type Lines map[string]int

// Decode strictly decodes data into v and returns the line index. An empty
// document leaves v as it is.
func Decode(file string, data []byte, v any) (Lines, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return nil, convert(file, err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, convert(file, err)
	}
	lines := Lines{}
	index(&root, "", lines)
	return lines, nil
}

// convert turns yaml.v3's "yaml: line N: msg" (or its list form) into an *Error.
func convert(file string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n")
	var first string
	for _, l := range strings.Split(msg, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			first = l
			break
		}
	}
	var line int
	if n, _ := fmt.Sscanf(first, "line %d:", &line); n == 1 {
		rest := first[strings.Index(first, ":")+1:]
		return &Error{File: file, Line: line, Msg: strings.TrimSpace(rest)}
	}
	return &Error{File: file, Msg: first}
}

func index(n *yaml.Node, path string, out Lines) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			index(c, path, out)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			out[p] = k.Line
			index(n.Content[i+1], p, out)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			out[p] = c.Line
			index(c, p, out)
		}
	}
}

// Line returns the line of path, or of its closest ancestor that has one.
func (l Lines) Line(path string) int {
	line := l[path]
	for line == 0 && path != "" {
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
		line = l[path]
	}
	return line
}

// Errorf returns an *Error at path's line.
func (l Lines) Errorf(file, path, format string, args ...any) *Error {
	return &Error{File: file, Line: l.Line(path), Msg: fmt.Sprintf(format, args...)}
}

// ByteSize is a size in bytes written as an integer or as a number with a
// unit: B, KiB, MiB, GiB (1024-based; "64MiB", "8 MiB", "1.5GiB"). Decoding
// errors name the line.
type ByteSize int64

// Byte size units.
const (
	KiB ByteSize = 1 << 10
	MiB ByteSize = 1 << 20
	GiB ByteSize = 1 << 30
)

// UnmarshalYAML implements yaml.Unmarshaler.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseByteSize(n.Value)
	if err != nil || n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: byte size %q: want an integer or a number with B, KiB, MiB or GiB", n.Line, n.Value)}}
	}
	*b = v
	return nil
}

// ParseByteSize reads "65536", "64KiB", "8 MiB", "1.5GiB". Negative values
// are returned as they are (callers give them a meaning or refuse them).
func ParseByteSize(s string) (ByteSize, error) {
	s = strings.TrimSpace(s)
	unit := ByteSize(1)
	for _, u := range []struct {
		suffix string
		mult   ByteSize
	}{{"KiB", KiB}, {"MiB", MiB}, {"GiB", GiB}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, unit = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	if s == "" {
		return 0, errors.New("empty byte size")
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		if i > math.MaxInt64/int64(unit) || i < math.MinInt64/int64(unit) {
			return 0, errors.New("byte size out of range")
		}
		return ByteSize(i) * unit, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || unit == 1 || math.Abs(f*float64(unit)) >= math.MaxInt64 {
		return 0, errors.New("not a byte size")
	}
	return ByteSize(f * float64(unit)), nil
}

// String renders b with the largest unit that divides it ("64MiB").
func (b ByteSize) String() string {
	for _, u := range []struct {
		suffix string
		mult   ByteSize
	}{{"GiB", GiB}, {"MiB", MiB}, {"KiB", KiB}} {
		if b != 0 && b%u.mult == 0 {
			return strconv.FormatInt(int64(b/u.mult), 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

// DecodeNode strictly decodes one node of a document already decoded (a
// section kept as a yaml.Node so its owner decodes it): keys that v's
// struct types do not declare are errors at their line, as with Decode.
func DecodeNode(file string, n *yaml.Node, v any) error {
	if err := knownKeys(file, n, reflect.TypeOf(v)); err != nil {
		return err
	}
	if err := n.Decode(v); err != nil {
		return convert(file, err)
	}
	return nil
}

// knownKeys checks a mapping node's keys against t's yaml field names,
// recursively through structs, pointers, slices and maps.
func knownKeys(file string, n *yaml.Node, t reflect.Type) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode || n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 && n.Alias == nil {
			return nil
		}
		if n.Alias != nil {
			return knownKeys(file, n.Alias, t)
		}
		return knownKeys(file, n.Content[0], t)
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil // decodes itself
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return nil // the decoder reports the type mismatch
		}
		fields := map[string]reflect.Type{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			fields[name] = f.Type
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			ft, ok := fields[k.Value]
			if !ok {
				return &Error{File: file, Line: k.Line, Msg: fmt.Sprintf("field %s not found in type %s", k.Value, t)}
			}
			if err := knownKeys(file, n.Content[i+1], ft); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		if n.Kind == yaml.SequenceNode {
			for _, c := range n.Content {
				if err := knownKeys(file, c, t.Elem()); err != nil {
					return err
				}
			}
		}
	case reflect.Map:
		if n.Kind == yaml.MappingNode {
			for i := 1; i < len(n.Content); i += 2 {
				if err := knownKeys(file, n.Content[i], t.Elem()); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

var unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()
