// Command toll is an MCP tool server that lets an AI agent pay for x402 APIs by itself,
// within spending caps the user sets, and records every spend in a ledger.
//
//	toll init                                  # a toll.yaml and a keystore, by questions or flags
//	toll serve --config toll.yaml              # the MCP server (stdio, or --http)
//	toll demo                                  # paid calls on a built-in local x402 world
//	toll catalog discover --facilitator URL    # a facilitator's Bazaar as a catalog file
//	toll ledger list
//
// Run "toll --help", or "toll COMMAND --help", for every command and flag.
//
// # The command line
//
// The command tree, its help and its flag parsing come from github.com/spf13/cobra (with
// github.com/spf13/pflag), chosen over peterbourgon/ff/v3's ffcli because toll's commands
// take specs as arguments and users write flags after them ("toll serve api.yaml --network
// base"): pflag accepts flags anywhere on the line, where ff v3 parses with the standard
// flag package, which stops at the first argument. Cobra also generates the help of every
// command, so a command cannot be missing from it, and "--help" works on each. Flags take
// two dashes (--ledger); -h and -v are the only short ones.
//
// Each command is a small type holding its flags, with a command method that declares them
// and a run method that does the work, so it runs in-process in tests through run(...).
// Exit codes: 0 ok, 1 failure, 2 usage error. Settings come from the flag, then toll.yaml
// (--config or TOLL_CONFIG), then an environment variable (env.go), then a default; a flag
// and its toll.yaml key are parsed by one type (flags.go). Commands that only read (ledger
// list, verify and export, catalog, wallet address) never create a file.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}
