package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"golang.org/x/term"
)

// terminal is what the passphrase prompt needs of the user's terminal: whether a file
// descriptor is one, and a line read from it without echo. osTerminal is the real one;
// tests inject their own.
type terminal struct {
	isTerminal   func(fd int) bool
	readPassword func(ctx context.Context, fd int) ([]byte, error)
}

// osTerminal is golang.org/x/term.
func osTerminal() terminal { return terminal{isTerminal: term.IsTerminal, readPassword: readPassword} }

// readPassword reads a line from the terminal fd with echo off. If ctx ends first (Ctrl-C:
// the terminal still sends SIGINT, which main turns into the end of ctx), it puts the
// terminal back as it was and returns; the read it leaves behind ends with the process.
func readPassword(ctx context.Context, fd int) ([]byte, error) {
	state, err := term.GetState(fd)
	if err != nil {
		return nil, err
	}
	type line struct {
		b   []byte
		err error
	}
	done := make(chan line, 1)
	go func() {
		b, err := term.ReadPassword(fd)
		done <- line{b, err}
	}()
	select {
	case l := <-done:
		return l.b, l.err
	case <-ctx.Done():
		_ = term.Restore(fd, state)
		return nil, context.Cause(ctx)
	}
}

// passphrasePrompt is the keystore.Source.Prompt of a command: when stdin is a terminal,
// it asks on stderr for the passphrase of keystorePath and reads it from stdin without
// echo (twice when confirm is set, for a new keystore). When stdin is not a terminal it
// returns nil, and a missing passphrase stays an error that says where to put one.
//
// This is safe for toll serve over stdio, where stdin carries the MCP protocol: an MCP
// host starts toll with pipes, never a terminal, so the prompt never runs there. A person
// who starts toll serve by hand in a terminal types the passphrase first; the read takes
// one byte at a time up to the newline, so nothing typed after it is lost to the protocol.
func passphrasePrompt(ctx context.Context, stdin io.Reader, stderr io.Writer, t terminal, keystorePath string, confirm bool) func() (string, error) {
	f, ok := stdin.(interface{ Fd() uintptr })
	if !ok || !t.isTerminal(int(f.Fd())) {
		return nil
	}
	fd := int(f.Fd())
	ask := func(prompt string) (string, error) {
		fmt.Fprint(stderr, prompt)
		b, err := t.readPassword(ctx, fd)
		fmt.Fprintln(stderr)
		return string(b), err
	}
	prompt := fmt.Sprintf("Passphrase for %s: ", keystorePath)
	if confirm {
		prompt = fmt.Sprintf("Passphrase for the new keystore %s: ", keystorePath)
	}
	return func() (string, error) {
		p, err := ask(prompt)
		if err != nil || !confirm || p == "" {
			return p, err
		}
		again, err := ask("The same passphrase again: ")
		if err != nil {
			return "", err
		}
		if again != p {
			return "", errors.New("the two passphrases typed differ; nothing was written, run the command again")
		}
		return p, nil
	}
}
