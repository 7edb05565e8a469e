package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// usageError is a mistake in the command line: exit code 2. cmd is the command it concerns
// ("toll catalog list"), for the hint to its help.
type usageError struct {
	msg string
	cmd string
}

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{msg: fmt.Sprintf(format, args...)} }

// app is what every command writes to and reads from: the process's streams and
// environment, or a test's.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	env            env
}

// run is the whole program; main only wires the process to it. It builds the command tree
// afresh (no state outlives a call) and runs the command args name.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv env) error {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, env: getenv}
	root := a.root()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	var u usageError
	if errors.As(err, &u) && u.cmd == "" && cmd != nil {
		u.cmd = cmd.CommandPath()
		return u
	}
	return err
}

// exitCode is the process's exit code for what run returned: 0, 1 for a failure, 2 for a
// usage error. It prints the error, and for a usage error where to find the command's help.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "toll:", err)
	var u usageError
	if !errors.As(err, &u) {
		return 1
	}
	if u.cmd != "" {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", u.cmd)
	}
	return 2
}

func (a *app) root() *cobra.Command {
	root := &cobra.Command{
		Use:   "toll",
		Short: "let an AI agent pay for x402 APIs, safely",
		Long: `toll is an MCP tool server: the operations of OpenAPI specs become tools an AI agent can call,
and when an API answers 402 Payment Required, toll pays it in USDC within the caps you set,
recording every spend in a ledger.`,
		Version:       version(),
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          cobra.ArbitraryArgs,
		RunE:          group("toll", "a command: init, serve, demo, devnet, catalog, config, mcp-config, wallet, ledger or version"),
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(flagError)
	root.SetVersionTemplate("toll {{.Version}}\n")
	// A command that holds subcommands runs only to refuse a missing or unknown one: its
	// usage shows the subcommands, not a line of its own.
	root.SetUsageTemplate(strings.Replace(root.UsageTemplate(), "{{if .Runnable}}", "{{if and .Runnable (not .HasAvailableSubCommands)}}", 1))
	root.AddCommand(
		a.serveCommand(),
		a.demoCommand(),
		a.devnetCommand(),
		a.catalogCommand(),
		a.walletCommand(),
		a.initCommand(),
		a.configCommand(),
		a.mcpConfigCommand(),
		a.bundleCommand(),
		a.ledgerCommand(),
		a.approveCommand(),
		&cobra.Command{
			Use:   "version",
			Short: "print the version",
			Args:  noArgs,
			RunE: func(c *cobra.Command, _ []string) error {
				_, err := fmt.Fprintln(c.OutOrStdout(), "toll", version())
				return err
			},
		},
	)
	return root
}

// group is the RunE of a command that only holds subcommands: named without one it prints
// its usage on stderr, and with one it does not have it says so; both are usage errors.
func group(name, what string) func(*cobra.Command, []string) error {
	return func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			c.SetOut(c.ErrOrStderr())
			_ = c.Usage()
			return usagef("%s needs %s", name, what)
		}
		msg := fmt.Sprintf("unknown command %q for %s", args[0], name)
		c.SuggestionsMinimumDistance = 2
		if s := c.SuggestionsFor(args[0]); len(s) > 0 {
			msg += fmt.Sprintf("; did you mean %s?", strings.Join(s, " or "))
		}
		return usageError{msg: msg}
	}
}

// noArgs refuses positional arguments.
func noArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments (got %q)", c.CommandPath(), args[0])
	}
	return nil
}

// flagError turns pflag's parse errors into usage errors. pflag reads "-ledger" as the
// short flags -l -e -d...; the hint says long flags take two dashes.
func flagError(c *cobra.Command, err error) error {
	msg := err.Error()
	if strings.Contains(msg, "shorthand flag") {
		msg += "; long flags take two dashes, as in --ledger"
	}
	return usageError{msg: msg, cmd: c.CommandPath()}
}

// newFlags is a command's flag set, with the help listed in the order the flags are defined.
func newFlags(c *cobra.Command) *pflag.FlagSet {
	fs := c.Flags()
	fs.SortFlags = false
	return fs
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
