// Command toll is an MCP tool server that lets an AI agent pay for x402 APIs by itself,
// within spending caps the user sets, and records every spend in a ledger.
//
//	toll serve --spec api.yaml --keystore key.json --network eip155:8453
//	toll demo
//	toll ledger list
//
// Run "toll help" for every command and flag.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	if err != nil {
		var u usageError
		if !errors.Is(err, errHelp) {
			fmt.Fprintln(os.Stderr, "toll:", err)
		}
		if errors.As(err, &u) || errors.Is(err, errHelp) {
			if errors.Is(err, errHelp) {
				os.Exit(0)
			}
			os.Exit(2)
		}
		os.Exit(1)
	}
}
