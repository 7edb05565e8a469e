// Package stress holds toll's concurrency property tests of the paid-call path: many
// goroutines paying at once under every cap, run under the race detector in CI. It has no
// code of its own; it lives apart from package tools so that its race-enabled test binary
// does not link the simulated EVM that the tools tests use.
package stress
