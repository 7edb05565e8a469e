//go:build !tollcrash

package main

import "github.com/tollhq/toll/tools"

// crashHook is the checkpoint hook of a release build: none. Only a binary built with
// -tags tollcrash can be made to crash at a step of a paid call (crashhook.go).
func crashHook(env) func(tools.Step) { return nil }
