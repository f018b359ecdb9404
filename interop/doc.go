// Package interop holds interoperability tests that run smsfw against
// third-party SMPP software (see README.md); it has no non-test code.
package interop
