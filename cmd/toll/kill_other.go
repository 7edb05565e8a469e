//go:build !unix && tollcrash

package main

import "os"

// killSelf ends the process at once, as near to a crash as the platform allows.
func killSelf() {
	p, err := os.FindProcess(os.Getpid())
	if err == nil {
		_ = p.Kill()
	}
	os.Exit(137)
}
