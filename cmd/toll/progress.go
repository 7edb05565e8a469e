package main

import (
	"fmt"
	"io"
	"time"
)

// progress shows how long work is going on one line of a terminal, rewritten in place
// ("probing 12/40"); where stderr is not a terminal (a pipe, a log, a test) it writes
// nothing, so that only the results reach them.
type progress struct {
	w    io.Writer // nil: not a terminal
	last time.Time
	text string
}

// progressMinGap is the least time between two updates of the line.
const progressMinGap = 100 * time.Millisecond

// newProgress returns the progress line of a command: on stderr when it is a terminal.
func (a *app) newProgress() *progress {
	f, ok := a.stderr.(interface{ Fd() uintptr })
	if !ok || !osTerminal().isTerminal(int(f.Fd())) {
		return &progress{}
	}
	return &progress{w: a.stderr}
}

// show rewrites the line, at most every progressMinGap unless final.
func (p *progress) show(final bool, format string, args ...any) {
	if p.w == nil || (!final && time.Since(p.last) < progressMinGap) {
		return
	}
	p.last = time.Now()
	text := fmt.Sprintf(format, args...)
	pad := ""
	if n := len(p.text) - len(text); n > 0 {
		pad = fmt.Sprintf("%*s", n, "")
	}
	fmt.Fprintf(p.w, "\r%s%s", text, pad)
	p.text = text
}

// done ends the line, so that what is written next starts on a line of its own.
func (p *progress) done() {
	if p.w != nil && p.text != "" {
		fmt.Fprintf(p.w, "\r%*s\r", len(p.text), "")
		p.text = ""
	}
}
