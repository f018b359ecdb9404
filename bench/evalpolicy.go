package bench

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/smsfw/smsfw/deploy"
	"github.com/smsfw/smsfw/rules"
)

// An operator fragment is what an operator knows, written as a partial
// policy and merged over the policy under test, so that the measurement
// follows the shipped policy as it changes:
//
//   - lists: a list of the same name gets the fragment's items added (the
//     types must agree); a new name adds the list;
//   - sender_registry: entries are added; an entry for a sender the policy
//     already protects adds its peers to that entry's;
//   - detectors, tariffs: settings replace the policy's, key by key.
//
// Rules, limits and the default are the policy's: a fragment adding them
// would measure another policy.
var fragmentKeys = []string{"lists", "sender_registry", "detectors", "tariffs"}

// evalPolicy is the policy to evaluate: rulesPath ("" the shipped default,
// embedded) with the operator fragment at operator ("" none) merged over it,
// and a description for reports.
func evalPolicy(rulesPath, operator string) (rules.Source, string, error) {
	var (
		base     fs.FS
		name     string
		describe string
	)
	if rulesPath == "" {
		base, name, describe = deploy.Files, deploy.DefaultPolicyPath, "deploy/rules/default.yaml (embedded)"
	} else {
		abs, err := filepath.Abs(rulesPath)
		if err != nil {
			return rules.Source{}, "", err
		}
		base, name, describe = os.DirFS(filepath.Dir(abs)), filepath.Base(abs), rulesPath
	}
	if operator == "" {
		if rulesPath == "" {
			return deploy.DefaultPolicySource(), describe, nil
		}
		return rules.FileSource(rulesPath), describe, nil
	}
	data, err := fs.ReadFile(base, name)
	if err != nil {
		return rules.Source{}, "", err
	}
	frag, err := os.ReadFile(operator)
	if err != nil {
		return rules.Source{}, "", err
	}
	merged, err := mergeFragment(data, operator, frag)
	if err != nil {
		return rules.Source{}, "", err
	}
	// The merged policy sits beside the base, so that relative list files
	// resolve as they do for the base.
	mname := path.Join(path.Dir(name), ".eval-merged-"+path.Base(name))
	return rules.FSSource(overlayFS{FS: base, name: mname, data: merged}, mname),
		describe + " + " + operator, nil
}

// overlayFS is base with one more file.
type overlayFS struct {
	fs.FS
	name string
	data []byte
}

func (o overlayFS) ReadFile(name string) ([]byte, error) {
	if name == o.name {
		return slices.Clone(o.data), nil
	}
	return fs.ReadFile(o.FS, name)
}

// mergeFragment merges the fragment (file named fragName) over the policy.
func mergeFragment(policy []byte, fragName string, frag []byte) ([]byte, error) {
	var base map[string]any
	if err := yaml.Unmarshal(policy, &base); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(frag, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", fragName, err)
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s: empty", fragName)
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: want a mapping of %s", fragName, root.Line, strings.Join(fragmentKeys, ", "))
	}
	errAt := func(n *yaml.Node, format string, args ...any) error {
		return fmt.Errorf("%s:%d: %s", fragName, n.Line, fmt.Sprintf(format, args...))
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if !slices.Contains(fragmentKeys, k.Value) {
			return nil, errAt(k, "%q: an operator fragment has only %s (rules, limits and the default are the policy's)",
				k.Value, strings.Join(fragmentKeys, ", "))
		}
		var val any
		if err := v.Decode(&val); err != nil {
			return nil, errAt(v, "%v", err)
		}
		var err error
		switch k.Value {
		case "lists":
			err = mergeLists(base, val)
		case "sender_registry":
			err = mergeRegistry(base, val)
		default:
			m, ok := val.(map[string]any)
			if !ok {
				return nil, errAt(v, "%s: want a mapping", k.Value)
			}
			base[k.Value] = deepMerge(base[k.Value], m)
		}
		if err != nil {
			return nil, errAt(v, "%v", err)
		}
	}
	return yaml.Marshal(base)
}

func mergeLists(base map[string]any, val any) error {
	frag, ok := val.(map[string]any)
	if !ok {
		return fmt.Errorf("lists: want a mapping of list names")
	}
	lists, _ := base["lists"].(map[string]any)
	if lists == nil {
		lists = map[string]any{}
		base["lists"] = lists
	}
	names := make([]string, 0, len(frag))
	for n := range frag {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fl, ok := frag[n].(map[string]any)
		if !ok {
			return fmt.Errorf("list %q: want type and items", n)
		}
		if _, ok := fl["file"]; ok {
			return fmt.Errorf("list %q: give a fragment's items inline, not in a file", n)
		}
		bl, ok := lists[n].(map[string]any)
		if !ok {
			lists[n] = fl
			continue
		}
		if fl["type"] != nil && fl["type"] != bl["type"] {
			return fmt.Errorf("list %q is of type %v in the policy, %v in the fragment", n, bl["type"], fl["type"])
		}
		if _, ok := bl["file"]; ok {
			return fmt.Errorf("list %q is read from a file in the policy: put the operator's items in a list of another name", n)
		}
		items, _ := bl["items"].([]any)
		add, _ := fl["items"].([]any)
		bl["items"] = append(items, add...)
	}
	return nil
}

func mergeRegistry(base map[string]any, val any) error {
	frag, ok := val.([]any)
	if !ok {
		return fmt.Errorf("sender_registry: want a list of {sender, peers}")
	}
	reg, _ := base["sender_registry"].([]any)
	for i, e := range frag {
		fe, ok := e.(map[string]any)
		sender, _ := fe["sender"].(string)
		if !ok || sender == "" {
			return fmt.Errorf("sender_registry[%d]: want {sender, peers}", i)
		}
		found := false
		for _, b := range reg {
			be, _ := b.(map[string]any)
			if s, _ := be["sender"].(string); be != nil && strings.EqualFold(s, sender) {
				peers, _ := be["peers"].([]any)
				add, _ := fe["peers"].([]any)
				for _, p := range add {
					if !slices.Contains(peers, p) {
						peers = append(peers, p)
					}
				}
				be["peers"] = peers
				found = true
				break
			}
		}
		if !found {
			reg = append(reg, fe)
		}
	}
	base["sender_registry"] = reg
	return nil
}

// deepMerge returns base with over's keys set, mappings merged key by key.
func deepMerge(base any, over map[string]any) map[string]any {
	b, _ := base.(map[string]any)
	if b == nil {
		b = map[string]any{}
	}
	for k, v := range over {
		if vm, ok := v.(map[string]any); ok {
			b[k] = deepMerge(b[k], vm)
			continue
		}
		b[k] = v
	}
	return b
}
