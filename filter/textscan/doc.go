// Package textscan holds the text primitives of the content filters: text
// normalization against obfuscation (Normalize, Skeleton, MaskDigits),
// near-duplicate fingerprints for campaign detection (Fingerprint, Hamming),
// link extraction (FindURLs, RegistrableDomain, IsShortener), multi-keyword
// search (Matcher) and bounded edit distance (Distance).
//
// Everything on the per-message path is allocation-free when given scratch
// space: each message is inspected inline, in microseconds.
package textscan
