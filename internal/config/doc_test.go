package config

import (
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smsfw/smsfw/bpf"
	"github.com/smsfw/smsfw/proxy"
)

// Every configuration key of every section is in docs/configuration.md,
// and every default the code fills in is the one the document gives.
func TestConfigurationDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{} // key -> default cell
	for _, line := range strings.Split(string(doc), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		key := strings.Trim(strings.TrimSpace(cells[1]), "`")
		rows[key] = strings.Trim(strings.TrimSpace(cells[2]), "`")
	}
	defaults := reflect.ValueOf(&Config{Proxy: *(&proxy.Config{}).WithDefaults(), BPF: *(&bpf.Config{}).WithDefaults()}).Elem()
	var keys []docKey
	configKeys(reflect.TypeOf(Config{}), "", nil, &keys)
	for _, k := range keys {
		cell, ok := rows[k.path]
		if !ok {
			t.Errorf("docs/configuration.md: key %s is not documented", k.path)
			continue
		}
		delete(rows, k.path)
		if k.index == nil {
			continue // under a map or a list: defaults are described in words
		}
		v := defaults.FieldByIndex(k.index)
		if v.IsZero() || v.Kind() == reflect.Struct || v.Kind() == reflect.Pointer || cell == "computed" {
			continue
		}
		if !sameDefault(v, cell) {
			t.Errorf("docs/configuration.md: %s defaults to %v in the code, %q in the document", k.path, v.Interface(), cell)
		}
	}
	for k := range rows {
		t.Errorf("docs/configuration.md documents %s, which the code does not have", k)
	}
}

type docKey struct {
	path  string
	index []int // field index from Config; nil under maps and slices
}

func configKeys(t reflect.Type, prefix string, index []int, out *[]docKey) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		switch t.Kind() {
		case reflect.Map:
			prefix, index = prefix+".NAME", nil
		case reflect.Slice:
			prefix, index = prefix+"[]", nil
		case reflect.Pointer:
			index = nil // nil in the defaults: nothing to compare
		}
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t.PkgPath() == "time" {
		return
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		var idx []int
		if index != nil || prefix == "" {
			idx = append(append([]int(nil), index...), i)
		}
		if opts == "inline" { // a section whose keys sit where it is
			configKeys(f.Type, prefix, idx, out)
			continue
		}
		if tag == "" || tag == "-" {
			continue
		}
		path := tag
		if prefix != "" {
			path = prefix + "." + tag
		}
		*out = append(*out, docKey{path: path, index: idx})
		configKeys(f.Type, path, idx, out)
	}
}

func sameDefault(v reflect.Value, cell string) bool {
	if d, ok := v.Interface().(time.Duration); ok {
		c, err := time.ParseDuration(cell)
		return err == nil && c == d
	}
	switch v.Kind() {
	case reflect.Int, reflect.Int64, reflect.Uint32:
		n, err := strconv.ParseInt(cell, 10, 64)
		return err == nil && (v.CanInt() && n == v.Int() || v.CanUint() && uint64(n) == v.Uint())
	case reflect.String:
		return cell == v.String()
	}
	return cell == fmt.Sprint(v.Interface())
}
