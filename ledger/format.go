package ledger

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// File formats. A ledger records the newest format whose features it may hold in
// meta "format":
//
//   - toll-ledger/1: the first format.
//   - toll-ledger/2: events in canonical encoding version 2 (agent, approvals), and
//     buckets added since version 1 (allBuckets).
//   - toll-ledger/3: events in canonical encoding version 3 (method, HTTP status); call
//     records in the compact form that refers to the reserved event (callrecord.go);
//     the open call index and the per-recipient counters (openindex.go).
//
// A toll reads every format up to formatCurrent. The first write transaction on an
// older file upgrades it in place, in that same transaction: it creates the buckets
// the file lacks, builds what format 3 adds (upgradeTo3) and records formatCurrent, so an older toll then refuses the file
// by its format ("written by a newer toll") instead of misreading its events. A file
// of a newer format is refused by this toll, with the same clear error, and nothing
// is written to it.
const (
	formatPrefix  = "toll-ledger/"
	formatCurrent = 3
)

// formatName is the meta "format" value of format version v.
func formatName(v int) string { return formatPrefix + strconv.Itoa(v) }

// ErrNewerFormat is returned by Open (and any operation) on a ledger written by a newer
// toll: this toll cannot read it without risking a wrong answer, so it reads nothing.
var ErrNewerFormat = fmt.Errorf("ledger written by a newer toll")

// fileFormat parses meta "format": its version, or an error that says what the file is.
func fileFormat(v []byte) (int, error) {
	s := string(v)
	n, err := strconv.Atoi(strings.TrimPrefix(s, formatPrefix))
	switch {
	case !strings.HasPrefix(s, formatPrefix) || err != nil || n < 1:
		return 0, fmt.Errorf("not a toll ledger (format %q)", clip(s))
	case n > formatCurrent:
		return 0, fmt.Errorf("%w (format %s; this toll reads up to %s): use that toll or a newer one; nothing was read or written",
			ErrNewerFormat, clip(s), formatName(formatCurrent))
	}
	return n, nil
}

// upgrade brings the file of write transaction tx to formatCurrent: it creates the
// buckets an older format lacks and records the format. It does nothing on a file of
// the current format.
func upgrade(tx kvTx) error {
	meta := tx.bucket(bucketMeta)
	if meta == nil {
		return fmt.Errorf("not a toll ledger (buckets missing)")
	}
	n, err := fileFormat(meta.Get(keyFormat))
	if err != nil {
		return err
	}
	// A bucket that holds only derived state or a queue is made when missing, in any
	// format: Check (which a writer runs first) compares what it should hold with the
	// events, so one lost to damage is found there, not silently made empty here.
	for _, name := range allBuckets {
		if tx.bucket(name) != nil {
			continue
		}
		if _, err := tx.createBucket(name); err != nil {
			return fmt.Errorf("upgrade the ledger from %s: %w", formatName(n), err)
		}
	}
	if n == formatCurrent {
		return nil
	}
	if n < 3 {
		if err := upgradeTo3(tx); err != nil {
			return fmt.Errorf("upgrade the ledger from %s: %w", formatName(n), err)
		}
	}
	return meta.Put(keyFormat, []byte(formatName(formatCurrent)))
}

// checkBucketNames reports a name of allBuckets that the file holds as a value rather than
// a bucket: no write could make that bucket, so the file is not a ledger toll wrote.
func checkBucketNames(tx *bolt.Tx) error {
	c := tx.Cursor()
	for _, name := range allBuckets {
		if k, v := c.Seek(name); bytes.Equal(k, name) && v != nil {
			return fmt.Errorf("not a toll ledger (%q is a value where a bucket belongs)", name)
		}
	}
	return nil
}
