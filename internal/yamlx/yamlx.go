// Package yamlx decodes smsfw's YAML files strictly (unknown keys are
// errors) and keeps the line of every key, so that validation errors read
// "file:line: message" like a compiler's.
package yamlx

import (
	"bytes"
	"errors"
	"fmt"
	"io"
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
