package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/tollhq/toll/ledger"
)

// fileReport prints what toll ledger verify --file found in the export name: whole, or
// partial (a filtered export, or lines removed), with the positions it lacks.
func fileReport(w io.Writer, name string, rep ledger.FileReport) {
	if rep.Complete {
		fmt.Fprintf(w, "export %s: %d events, hash chain intact; last hash %s (compare it with the ledger's, from toll ledger verify: events cut from the end of an export show only there)\n", name, rep.Events, rep.Head)
		return
	}
	fmt.Fprintf(w, "export %s: PARTIAL: %d of the chain's first %d events; missing %d: %s\n", name, rep.Events, rep.Seq, rep.Missing, gapList(rep))
	fmt.Fprintf(w, "each event's hash matches its contents and consecutive events link; the history and totals were not checked (they need the missing events); last hash %s\n", rep.Head)
	fmt.Fprintf(w, "%d of its events are covered by a signed head in the file (linked to it without a gap)\n", rep.Covered)
}

// gapList is the missing positions of rep, as "1-9, 14".
func gapList(rep ledger.FileReport) string {
	parts := make([]string, 0, len(rep.Gaps)+1)
	var listed uint64
	for _, g := range rep.Gaps {
		listed += g.To - g.From + 1
		if g.From == g.To {
			parts = append(parts, fmt.Sprint(g.From))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", g.From, g.To))
		}
	}
	if listed < rep.Missing {
		parts = append(parts, fmt.Sprintf("and %d more", rep.Missing-listed))
	}
	return strings.Join(parts, ", ")
}
