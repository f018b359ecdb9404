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
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error is a problem at a position in a file. Err, when set, is what the
// problem is a case of (ErrConfig for configuration files).
type Error struct {
	File string
	Line int
	Msg  string
	Err  error
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

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

// ErrConfig is wrapped by every problem of a configuration file (At's
// errors and DecodeConfig's).
var ErrConfig = errors.New("invalid configuration")

// At is where a section of a configuration file sits: the file, the lines
// of its keys and the key path of the section ("" at the top level,
// "events", "upstreams.main.tls"). A section validates itself with it
// without knowing where it is mounted.
type At struct {
	File   string
	Lines  Lines
	Prefix string
}

// Path is the full key path of path, a key path inside the section
// ("" is the section itself).
func (a At) Path(path string) string {
	switch {
	case a.Prefix == "":
		return path
	case path == "":
		return a.Prefix
	case path[0] == '[':
		return a.Prefix + path
	}
	return a.Prefix + "." + path
}

// In is the position of the sub-section at path.
func (a At) In(path string) At { return At{File: a.File, Lines: a.Lines, Prefix: a.Path(path)} }

// Errorf is a configuration problem (it wraps ErrConfig) at the line of
// path, a key path inside the section (or of its closest ancestor in the
// file).
func (a At) Errorf(path, format string, args ...any) *Error {
	e := a.Lines.Errorf(a.File, a.Path(path), format, args...)
	e.Err = ErrConfig
	return e
}

// Problems collects the problems a section's Validate finds, so that it
// reports every one of them: each is a configuration error at its key's
// line whose message starts with the key's full path, joined to the rest
// by sep (": " reads "mo_routes[0].name: want ...", " " reads
// "events.queue 0 outside ..."; each section keeps its own).
type Problems struct {
	at   At
	sep  string
	errs *[]error // shared with the sub-sections' collectors (In)
}

// Problems returns an empty collector for the section at a.
func (a At) Problems(sep string) *Problems {
	return &Problems{at: a, sep: sep, errs: new([]error)}
}

// In is a collector for the sub-section at path that adds to p's problems.
func (p *Problems) In(path string) *Problems {
	return &Problems{at: p.at.In(path), sep: p.sep, errs: p.errs}
}

// Add records a problem at key, a key path inside the section ("" is the
// section itself); the message is the key's full path, sep, then format.
func (p *Problems) Add(key, format string, args ...any) {
	*p.errs = append(*p.errs, p.at.Errorf(key, "%s"+p.sep+format, append([]any{p.at.Path(key)}, args...)...))
}

// Append records errors as they are (nil ones are skipped).
func (p *Problems) Append(errs ...error) {
	for _, err := range errs {
		if err != nil {
			*p.errs = append(*p.errs, err)
		}
	}
}

// Err returns nil, the one problem, or every problem in line order (Join).
func (p *Problems) Err() error { return Join(*p.errs...) }

// Errors are every problem found in a file, in line order, one a line of
// Error().
type Errors []*Error

func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, x := range e {
		lines[i] = x.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.Is and errors.As see each problem (and ErrConfig).
func (e Errors) Unwrap() []error {
	out := make([]error, len(e))
	for i, x := range e {
		out[i] = x
	}
	return out
}

// Join returns nil, the one problem, or every problem in line order
// (Errors); nil errors are skipped and Errors are flattened. An error
// without a position keeps them all as they are (errors.Join).
func Join(errs ...error) error {
	var all Errors
	for _, err := range errs {
		var e *Error
		var es Errors
		switch {
		case err == nil:
		case errors.As(err, &es):
			all = append(all, es...)
		case errors.As(err, &e):
			all = append(all, e)
		default:
			return errors.Join(errs...)
		}
	}
	switch len(all) {
	case 0:
		return nil
	case 1:
		return all[0]
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Line < all[j].Line })
	return all
}

// Validator is a configuration section, or a whole file, that checks
// itself (and may resolve defaults that depend on other keys).
type Validator interface {
	Validate(at At) error
}

// DecodeConfig strictly decodes a configuration file into v, expands
// ${NAME} in its string values from the environment, then validates it:
// unknown keys, wrong types, unset variables and invalid values are errors
// with their lines, all of them in line order, wrapping ErrConfig.
func DecodeConfig(file string, data []byte, v Validator) error {
	lines, err := Decode(file, data, v)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Err = ErrConfig
		}
		return err
	}
	if err := expandEnv(file, data, v); err != nil {
		return err
	}
	return Join(v.Validate(At{File: file, Lines: lines}))
}

// ParseConfig decodes data (named file in errors) into a new T and
// validates it (DecodeConfig).
func ParseConfig[T any, P interface {
	*T
	Validator
}](file string, data []byte) (*T, error) {
	v := P(new(T))
	if err := DecodeConfig(file, data, v); err != nil {
		return nil, err
	}
	return v, nil
}

// LoadConfig reads the configuration file at path, then ParseConfig.
func LoadConfig[T any, P interface {
	*T
	Validator
}](path string) (*T, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseConfig[T, P](path, data)
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

// ChangedKeys lists the keys of a and b, values of one struct type, whose
// values differ: the yaml names of their fields, those of inline sections
// at the same level, in field order. Fields without a yaml name and
// unexported ones (derived values) are not compared.
func ChangedKeys(a, b any) []string {
	var out []string
	changedKeys(reflect.ValueOf(a), reflect.ValueOf(b), &out)
	return out
}

func changedKeys(a, b reflect.Value, out *[]string) {
	t := a.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch {
		case !f.IsExported():
		case opts == "inline" && f.Type.Kind() == reflect.Struct:
			changedKeys(a.Field(i), b.Field(i), out)
		case name != "" && name != "-" && !reflect.DeepEqual(a.Field(i).Interface(), b.Field(i).Interface()):
			*out = append(*out, name)
		}
	}
}

// Secret reads the secret file name, given at key path of the section:
// a relative name is resolved against the configuration file's directory,
// and the trailing newline is dropped. A file that cannot be read, or is
// empty, is a configuration error at path's line.
func (a At) Secret(path, name string) (string, error) {
	if !filepath.IsAbs(name) && a.File != "" {
		name = filepath.Join(filepath.Dir(a.File), name)
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return "", a.Errorf(path, "%s: %v", a.Path(path), err)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", a.Errorf(path, "%s: %s is empty", a.Path(path), name)
	}
	return s, nil
}

// expandEnv replaces ${NAME} in the string values of the document in data
// with the environment variable NAME ($${ stands for a literal ${), then
// decodes the document into v again when anything was replaced. An unset
// variable is an error at its line. Keys, and values of other types, are
// not expanded.
func expandEnv(file string, data []byte, v any) error {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return convert(file, err)
	}
	changed := false
	var errs []error
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		switch n.Kind {
		case yaml.ScalarNode:
			if n.Tag != "!!str" || !strings.Contains(n.Value, "${") {
				return
			}
			out, err := expandString(n.Value)
			if err != nil {
				errs = append(errs, &Error{File: file, Line: n.Line, Msg: err.Error(), Err: ErrConfig})
				return
			}
			n.Value, changed = out, true
		case yaml.MappingNode:
			for i := 1; i < len(n.Content); i += 2 {
				walk(n.Content[i])
			}
		default:
			for _, c := range n.Content {
				walk(c)
			}
		}
	}
	walk(&root)
	if len(errs) > 0 || !changed {
		return Join(errs...)
	}
	rv := reflect.ValueOf(v).Elem()
	rv.Set(reflect.Zero(rv.Type()))
	if err := root.Decode(v); err != nil {
		return convert(file, err)
	}
	return nil
}

// expandString expands ${NAME} and $${ in s.
func expandString(s string) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		if i > 0 && s[i-1] == '$' { // $${: a literal ${
			b.WriteString(s[:i-1] + "${")
			s = s[i+2:]
			continue
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return "", fmt.Errorf("unterminated ${ in a string value (write $${ for a literal ${)")
		}
		name := s[i+2 : i+j]
		if !envName(name) {
			return "", fmt.Errorf("${%s}: not an environment variable name (write $${ for a literal ${)", name)
		}
		val, ok := os.LookupEnv(name)
		if !ok {
			return "", fmt.Errorf("${%s}: environment variable %s is not set", name, name)
		}
		b.WriteString(s[:i] + val)
		s = s[i+j+1:]
	}
}

func envName(s string) bool {
	for i, c := range s {
		if c != '_' && !(c >= 'A' && c <= 'Z') && !(c >= 'a' && c <= 'z') && !(i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}
