package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// usageError is a mistake in the command line: exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// errHelp is returned when the user asked for help; it exits 0.
var errHelp = errors.New("help requested")

// env reads environment variables; tests pass their own.
type env func(string) string

const usageText = `toll: let an AI agent pay for x402 APIs, safely.

Usage:
  toll serve [flags] SPEC...     serve the operations of OpenAPI specs as MCP tools (stdio, or --http)
  toll demo                      run a paid call end to end on a built-in local x402 world (no network, no money)
  toll devnet                    run the local x402 world (chain JSON-RPC, facilitator, paid API) until interrupted
  toll catalog list|tools|check  show what the model will see of specs, and what was changed in them
  toll wallet new|address        create a key in an encrypted keystore, or print its address
  toll ledger list|verify|export inspect the spend ledger
  toll version                   print the version

Run "toll COMMAND -h" for a command's flags.
`

// run is the whole program; main only wires the process to it.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv env) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return usagef("no command given")
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		return runServe(ctx, rest, stdin, stdout, stderr, getenv)
	case "demo":
		return runDemo(ctx, rest, stdout, stderr)
	case "devnet":
		return runDevnet(ctx, rest, stdout, stderr)
	case "ledger":
		return runLedger(ctx, rest, stdout, stderr, getenv)
	case "wallet":
		return runWallet(ctx, rest, stdout, stderr, getenv)
	case "catalog":
		return runCatalog(ctx, rest, stdout, stderr, getenv)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "toll", version())
		return nil
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usageText)
		return nil
	default:
		fmt.Fprint(stderr, usageText)
		return usagef("unknown command %q", cmd)
	}
}

// parseFlags parses a command's flags, turning flag's errors into usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return usageError{strings.TrimSpace(err.Error())}
	}
	return nil
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
