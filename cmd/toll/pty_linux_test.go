package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tollhq/toll/wallet"
	"github.com/tollhq/toll/wallet/keystore"
)

// openPTY opens a Linux pseudo-terminal pair (/dev/ptmx, then /dev/pts/N), closed when
// the test ends. It skips the test where the machine has none.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil { // unlockpt
		t.Skipf("no pseudo-terminal: unlock: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN) // ptsname
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { tty.Close() })
	return master, tty
}

// echoes reports whether the terminal echoes what is typed.
func echoes(t *testing.T, tty *os.File) bool {
	t.Helper()
	tios, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return tios.Lflag&unix.ECHO != 0
}

// TestPassphraseOnATerminal runs the built binary with a real pseudo-terminal as its stdin
// and controlling terminal, and neither a passphrase file nor TOLL_PASSPHRASE: toll asks
// on stderr, turns echo off before the passphrase is typed, unlocks the keystore with it,
// and the terminal never shows it. Ctrl-C at the prompt stops toll and gives the terminal
// back with echo on.
func TestPassphraseOnATerminal(t *testing.T) {
	dir := t.TempDir()
	const pass = "typed on a real terminal 3x"
	ks := filepath.Join(dir, "key.json")
	want := createKeystore(t, ks, pass).Address().Hex()

	t.Run("unlocks", func(t *testing.T) {
		s := startOnTerminal(t, "wallet", "address", "--keystore", ks)
		s.typeAtPrompt(t, "Passphrase for ", pass+"\n")
		if err := s.wait(t); err != nil {
			t.Fatalf("toll wallet address: %v\nstderr:\n%s", err, s.stderr.String())
		}
		if got := strings.TrimSpace(s.stdout.String()); got != want {
			t.Errorf("stdout = %q, want the address %s", got, want)
		}
		if strings.Contains(s.shown.String(), pass) || strings.Contains(s.stderr.String(), pass) {
			t.Errorf("the passphrase was shown: terminal %q, stderr %q", s.shown.String(), s.stderr.String())
		}
		if !strings.Contains(s.stderr.String(), "Passphrase for "+ks+": ") {
			t.Errorf("stderr = %q, want the prompt", s.stderr.String())
		}
	})
	t.Run("new keystore", func(t *testing.T) {
		path := filepath.Join(dir, "new.json")
		s := startOnTerminal(t, "wallet", "new", "--light", "--keystore", path)
		s.typeAtPrompt(t, "Passphrase for the new keystore ", pass+"\n")
		s.typeAtPrompt(t, "The same passphrase again: ", pass+"\n")
		if err := s.wait(t); err != nil {
			t.Fatalf("toll wallet new: %v\nstderr:\n%s", err, s.stderr.String())
		}
		if strings.Contains(s.shown.String(), pass) || strings.Contains(s.stderr.String(), pass) {
			t.Errorf("the passphrase was shown: terminal %q, stderr %q", s.shown.String(), s.stderr.String())
		}
		w, err := keystore.Open(path, pass, wallet.Options{}) // the typed passphrase is the keystore's
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(s.stdout.String()); got != w.Address().Hex() {
			t.Errorf("stdout = %q, want the new address %s", got, w.Address().Hex())
		}
	})
	t.Run("Ctrl-C", func(t *testing.T) {
		s := startOnTerminal(t, "wallet", "address", "--keystore", ks)
		s.typeAtPrompt(t, "Passphrase for ", "\x03") // VINTR: the terminal sends SIGINT to toll
		err := s.wait(t)
		if code := s.cmd.ProcessState.ExitCode(); err == nil || code != 1 {
			t.Errorf("toll wallet address after Ctrl-C: %v (exit code %d), want exit code 1", err, code)
		}
		if !s.echoAtEnd {
			t.Error("toll left the terminal without echo")
		}
		if s.stdout.String() != "" {
			t.Errorf("stdout = %q, want nothing", s.stdout.String())
		}
	})
}

// onTerminal is a toll process whose stdin is a pseudo-terminal.
type onTerminal struct {
	cmd            *exec.Cmd
	master, tty    *os.File
	stdout, stderr safeBuffer
	shown          safeBuffer    // what the terminal displayed: the echo of what was typed
	drained        chan struct{} // closed when the terminal has nothing more to display
	echoAtEnd      bool          // whether the terminal echoed once toll had ended
}

func startOnTerminal(t *testing.T, args ...string) *onTerminal {
	t.Helper()
	s := &onTerminal{drained: make(chan struct{})}
	s.master, s.tty = openPTY(t)
	if !echoes(t, s.tty) {
		t.Fatal("a new terminal does not echo")
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	s.cmd = exec.CommandContext(ctx, tollBinary(t), args...)
	s.cmd.Env = withoutTollEnv()
	s.cmd.Stdin, s.cmd.Stdout, s.cmd.Stderr = s.tty, &s.stdout, &s.stderr
	// A session of its own with the terminal as its controlling terminal, so that Ctrl-C
	// reaches it as it does at a shell.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(s.drained)
		buf := make([]byte, 4096)
		for {
			n, err := s.master.Read(buf)
			s.shown.Write(buf[:n])
			if err != nil { // EIO once no process holds the terminal open
				return
			}
		}
	}()
	return s
}

// typeAtPrompt waits for prompt on stderr and for echo to be off, then types text.
func (s *onTerminal) typeAtPrompt(t *testing.T, prompt, text string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	select {
	case <-s.stderr.seen(prompt):
	case <-ctx.Done():
		t.Fatalf("no %q; stderr:\n%s", prompt, s.stderr.String())
	}
	for echoes(t, s.tty) { // toll turns echo off just after it writes the prompt
		select {
		case <-ctx.Done():
			t.Fatal("echo stayed on at the prompt")
		case <-time.After(5 * time.Millisecond):
		}
	}
	if _, err := s.master.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

// wait waits for toll to end, notes whether the terminal echoes, then waits for it to
// have displayed everything.
func (s *onTerminal) wait(t *testing.T) error {
	t.Helper()
	err := s.cmd.Wait()
	s.echoAtEnd = echoes(t, s.tty)
	s.tty.Close() // the master reads EIO once this last copy is closed
	<-s.drained
	return err
}
