package rules

import (
	"crypto/sha256"
	"io/fs"
	"os"
	"path"
	"path/filepath"
)

// Source is where a policy and the list files it names are read from: the
// operating system's files, or an fs.FS (the policy embedded in the binary,
// tests). A policy's relative list files resolve against its directory in
// the same source.
type Source struct {
	fsys fs.FS // nil: the OS
	path string
}

// FileSource is the policy file at path.
func FileSource(path string) Source { return Source{path: path} }

// FSSource is the policy at name inside fsys.
func FSSource(fsys fs.FS, name string) Source { return Source{fsys: fsys, path: name} }

// Path is the policy's name, as errors show it.
func (s Source) Path() string { return s.path }

func (s Source) read(name string) ([]byte, error) {
	if s.fsys == nil {
		return os.ReadFile(name)
	}
	return fs.ReadFile(s.fsys, name)
}

// resolve names a list file relative to the policy's directory.
func (s Source) resolve(name string) string {
	if s.fsys == nil {
		if filepath.IsAbs(name) {
			return name
		}
		return filepath.Join(filepath.Dir(s.path), name)
	}
	return path.Join(path.Dir(s.path), name)
}

// inputs are the files a snapshot was built from, with their digests: a
// change to any of them (the policy or a list file) is a reason to reload.
type inputs map[string][sha256.Size]byte

func (in inputs) add(name string, data []byte) { in[name] = sha256.Sum256(data) }

// changed reports whether a file differs from what the snapshot was built
// from (an unreadable file counts as unchanged: the reload would fail).
func (in inputs) changed(src Source) bool {
	for name, sum := range in {
		data, err := src.read(name)
		if err == nil && sha256.Sum256(data) != sum {
			return true
		}
	}
	return false
}

// ParseSource reads, strictly decodes, validates and compiles the policy
// and its list files from src.
func ParseSource(src Source) (*Snapshot, error) {
	data, err := src.read(src.path)
	if err != nil {
		return nil, err
	}
	return parse(src, data)
}
