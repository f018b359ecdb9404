// Package unsafex has the two zero-copy conversions the inspection path
// uses between strings and bytes. The results alias their input: callers
// must not modify the bytes, nor keep either past the message's inspection.
package unsafex

import "unsafe"

// String views b as a string without copying.
func String(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// Bytes views s as bytes without copying; the bytes are read-only.
func Bytes(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
