package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/tollhq/toll/tools/x402"
)

// prompter asks questions on a terminal: the question on out, the answer a line of in.
// It reads one byte at a time, so that nothing typed after the line (a passphrase read
// without echo next) is taken.
type prompter struct {
	in  io.Reader
	out io.Writer
}

func newPrompter(in io.Reader, out io.Writer) *prompter { return &prompter{in: in, out: out} }

// line reads a line, without its end.
func (p *prompter) line() (string, error) {
	var b []byte
	one := make([]byte, 1)
	for {
		n, err := p.in.Read(one)
		if n == 1 {
			if one[0] == '\n' {
				return strings.TrimSpace(string(b)), nil
			}
			b = append(b, one[0])
		}
		if err != nil {
			if errors.Is(err, io.EOF) && len(b) > 0 {
				return strings.TrimSpace(string(b)), nil
			}
			return "", err
		}
	}
}

// ask asks question, with def the answer an empty line gives, until check accepts it.
func (p *prompter) ask(question, def string, check func(string) error) (string, error) {
	for {
		fmt.Fprintf(p.out, "%s [%s]: ", question, def)
		v, err := p.line()
		if err != nil {
			return "", fmt.Errorf("read the answer to %q: %w", question, err)
		}
		if v == "" {
			v = def
		}
		if err := check(v); err != nil {
			fmt.Fprintf(p.out, "  %v\n", err)
			continue
		}
		return v, nil
	}
}

// ask asks what the flags did not settle: the network, the caps, where to keep the key,
// and whether to make one or import one.
func (n *initCmd) ask(p *prompter) error {
	fmt.Fprintf(p.out, "Setting toll up: %s and a keystore. An empty answer takes the default in brackets.\n\n", n.config)
	var err error
	n.network, err = p.ask("Network toll may pay on (base, base-sepolia, or eip155:ID)", n.network, func(s string) error {
		_, err := x402.ChainID(s)
		return err
	})
	if err != nil {
		return err
	}
	for _, c := range []struct {
		question string
		l        *limit
	}{
		{"Most one call may pay, in USDC (or none)", &n.perCall},
		{"Most all calls may pay in a day, in USDC (or none)", &n.perDay},
	} {
		if _, err := p.ask(c.question, c.l.String(), func(s string) error { return c.l.Set(s) }); err != nil {
			return err
		}
	}
	if n.keystore, err = p.ask("Keystore file for the payer key", n.keystore, func(s string) error { return nil }); err != nil {
		return err
	}
	choice, err := p.ask("Key: new (a fresh key), import (type or paste a private key), or the path of a keystore file to import", first(n.key, "new"),
		func(s string) error {
			if s == "new" || s == "import" {
				return nil
			}
			if _, err := os.Stat(s); err != nil {
				return fmt.Errorf("answer new, import, or the path of a keystore file (%v)", err)
			}
			return nil
		})
	if err != nil {
		return err
	}
	n.key = choice
	return n.defaults() // the answers' paths, made absolute
}
