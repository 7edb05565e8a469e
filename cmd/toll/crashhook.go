//go:build tollcrash

package main

import "github.com/tollhq/toll/tools"

// crashHook returns a checkpoint hook that kills the process with SIGKILL at the step of
// a paid call that TOLL_TEST_CRASH_AT names ("reserved", "signed", "sent", "responded",
// "recorded": see tools.Step); unset, it does nothing. It exists only in binaries built
// with -tags tollcrash, for the crash tests (crash_test.go); a release build has the
// no-op in crashhook_release.go.
func crashHook(getenv env) func(tools.Step) {
	step := tools.Step(getenv(envCrashAt))
	if step == "" {
		return nil
	}
	return func(s tools.Step) {
		if s == step {
			killSelf()
		}
	}
}
