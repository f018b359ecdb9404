package rules

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/expr-lang/expr/vm"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/textscan"
	"github.com/smsfw/smsfw/internal/yamlx"
)

func skeletonKey(s string) string { return string(textscan.Skeleton(nil, []byte(s))) }

// detectors decodes and checks every registered detector's section (one
// without a section gets its defaults) and the memory section.
func (c *compiler) detectors(p *Policy, s *Snapshot) error {
	d := &p.Detectors
	for _, name := range d.order {
		if name != "memory" && filter.LookupPlugin(name) == nil {
			return c.errf("detectors."+name, "unknown detector %q (known: %s)", name, pluginNames())
		}
	}
	if n := d.sections["memory"]; n != nil {
		if err := c.memory(n, &s.Memory); err != nil {
			return err
		}
	}
	s.Settings = map[string]filter.Settings{}
	for _, pl := range filter.Plugins() {
		path := "detectors." + pl.Name
		n := d.sections[pl.Name]
		if pl.Settings == nil {
			if n != nil {
				return c.errf(path, "detector %q has no settings", pl.Name)
			}
			continue
		}
		set := pl.Settings()
		if n != nil {
			if err := yamlx.DecodeNode(c.file, n, set); err != nil {
				return positioned(err)
			}
		}
		var first error
		set.Check(&filter.SettingsCheck{Section: path, Lists: s.Lists, Report: func(key, msg string) {
			if first == nil {
				first = c.errf(strings.TrimSuffix(path+"."+key, "."), "%s", msg)
			}
		}})
		if first != nil {
			return first
		}
		s.Settings[pl.Name] = set
	}
	return nil
}

func pluginNames() string {
	var names []string
	for _, p := range filter.Plugins() {
		names = append(names, p.Name)
	}
	return strings.Join(append(names, "memory"), ", ")
}

// memory decodes detectors.memory: total and a size per counter owner.
func (c *compiler) memory(n *yaml.Node, m *Memory) error {
	if n.Kind != yaml.MappingNode {
		return c.errf("detectors.memory", "detectors.memory must be a mapping (total, or a detector's name, to a size)")
	}
	owners := MemoryOwners()
	m.Sizes = map[string]yamlx.ByteSize{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, path := n.Content[i].Value, "detectors.memory."+n.Content[i].Value
		var v yamlx.ByteSize
		if err := yamlx.DecodeNode(c.file, n.Content[i+1], &v); err != nil {
			return positioned(err)
		}
		switch _, known := owners[key]; {
		case key == "total":
			if v != 0 && (v < yamlx.MiB || v > 1024*yamlx.GiB) {
				return c.errf(path, "memory.total %s outside [1MiB, 1024GiB]", v)
			}
			m.Total = v
		case known:
			if v != 0 && (v < 64*yamlx.KiB || v > 1024*yamlx.GiB) {
				return c.errf(path, "memory.%s %s outside [64KiB, 1024GiB]", key, v)
			}
			m.Sizes[key] = v
		default:
			names := []string{"total"}
			for o := range owners {
				names = append(names, o)
			}
			sort.Strings(names[1:])
			return c.errf(path, "memory: unknown key %q (%s)", key, strings.Join(names, ", "))
		}
	}
	return nil
}

// positioned turns a yamlx error into a PolicyError.
func positioned(err error) error {
	var ye *yamlx.Error
	if errors.As(err, &ye) {
		return &PolicyError{Pos: ye}
	}
	return err
}

// Decision is the outcome of the rules for one message.
type Decision struct {
	Verdict filter.Verdict
	// Monitor lists monitor-mode rules that matched (what they would have done).
	Monitor []*Rule
	// Rule is the deciding rule (nil: the default or a limit decided).
	Rule *Rule
	// Errors are rules whose evaluation failed (they are skipped).
	Errors []error
}

// Evaluate runs the rules in order: the first matching enforce rule decides;
// monitor rules that match are recorded and evaluation goes on. The VM is the
// caller's (one per goroutine: reusing it avoids an allocation per rule).
//
// env is the caller's (pooled): its Msg and Det are the message's facts and
// findings. Keeping it out of this frame keeps the evaluation allocation-free.
func (s *Snapshot) Evaluate(v *vm.VM, env *Env, dir filter.Direction, out *Decision) {
	mask := env.Det.Fired
	rules := s.Rules
	if mask == 0 && s.bareReady {
		// No finding fired (most allowed messages): only the rules that
		// need none can match.
		rules = s.bare
	}
	for _, r := range rules {
		if r.Direction >= 0 && r.Direction != int(dir) {
			continue
		}
		if r.need != 0 && r.need&mask == 0 {
			continue // it needs a finding that did not fire
		}
		if r.native != nil {
			if !r.native(env).b {
				continue
			}
		} else {
			res, err := v.Run(r.prog, env)
			if err != nil {
				out.Errors = append(out.Errors, fmt.Errorf("rule %q: %w", r.ID, err))
				continue
			}
			if b, _ := res.(bool); !b {
				continue
			}
		}
		if r.Monitor {
			out.Monitor = append(out.Monitor, r)
			continue
		}
		out.Verdict = r.Verdict
		out.Rule = r
		return
	}
	out.Verdict = s.Default
}
