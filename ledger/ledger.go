package ledger

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Options configure a Ledger. The zero value is ready to use.
type Options struct {
	// Timeout is how long one operation waits for the file lock (and for the
	// other operations of this *Ledger) before it fails with ErrBusy.
	// Zero means 5 s; negative is an error.
	Timeout time.Duration

	// Now is the ledger clock: event times, reservation times and the
	// rolling-day window. Nil means time.Now. Lock waits use the real clock.
	Now func() time.Time

	// NoCreate makes Open fail with ErrNoLedger when there is no ledger at
	// the path (no file, or an empty one), instead of creating it: for
	// commands that only read, so that a mistyped path is an error and
	// leaves nothing behind. False (the zero value) creates the ledger.
	NoCreate bool
}

const (
	defaultTimeout = 5 * time.Second

	// Pauses between attempts to take the file lock (plus up to 100% jitter).
	// An attempt costs an open, a failed flock and a close (tens of µs).
	minPause = 100 * time.Microsecond
	maxPause = 2 * time.Millisecond
)

// Ledger is a handle on a ledger file. It holds no file descriptor and no
// lock between operations: each operation opens the bbolt file, takes its
// lock, runs one transaction and closes it, so several processes (and several
// handles in one process) can share the file and the caps hold across them.
// A *Ledger is safe for concurrent use; its operations run one at a time.
type Ledger struct {
	path    string
	timeout time.Duration
	now     func() time.Time
	id      []byte // the "id" meta value seen by Open

	// sem serializes this handle's operations (a second open of the file by
	// this handle would only wait on its own lock). closed is guarded by sem.
	sem    chan struct{}
	closed bool
}

// Open opens the ledger file at path, creating its parent directory (0700)
// and the file (0600) when they do not exist, and initializing an empty file;
// with Options.NoCreate it creates and writes nothing. The file is closed
// again before Open returns.
func Open(path string, opts Options) (*Ledger, error) {
	if path == "" {
		return nil, errors.New("open ledger: empty path")
	}
	if opts.Timeout < 0 {
		return nil, fmt.Errorf("open ledger %s: negative timeout %v", path, opts.Timeout)
	}
	l := &Ledger{path: path, timeout: opts.Timeout, now: opts.Now, sem: make(chan struct{}, 1)}
	if l.timeout == 0 {
		l.timeout = defaultTimeout
	}
	if l.now == nil {
		l.now = time.Now
	}
	if opts.NoCreate {
		return l, l.openExisting()
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open ledger %s: %w", path, err)
	}
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, os.ErrNotExist)

	db, err := l.lock(context.Background(), true, true, time.Now().Add(l.timeout))
	if err != nil {
		return nil, fmt.Errorf("open ledger: %w", err)
	}
	defer db.Close()
	var empty bool
	if err := db.View(func(tx *bolt.Tx) (err error) {
		empty, err = l.readMeta(tx)
		return err
	}); err != nil {
		return nil, fmt.Errorf("open ledger %s: %w", path, err)
	}
	if empty {
		if err := db.Update(l.initialize); err != nil {
			return nil, fmt.Errorf("open ledger %s: initialize: %w", path, err)
		}
	}
	if created {
		// Make the new file's directory entry durable too.
		if d, err := os.Open(dir); err == nil {
			_ = d.Sync()
			_ = d.Close()
		}
	}
	return l, nil
}

// openExisting checks, under a shared lock, that l.path holds a toll ledger,
// and reads its id. It writes nothing.
func (l *Ledger) openExisting() error {
	info, err := os.Stat(l.path)
	if errors.Is(err, os.ErrNotExist) || (err == nil && info.Size() == 0) {
		return fmt.Errorf("open ledger %s: %w", l.path, ErrNoLedger)
	}
	if err != nil {
		return fmt.Errorf("open ledger %s: %w", l.path, err)
	}
	db, err := l.lock(context.Background(), false, false, time.Now().Add(l.timeout))
	if err != nil {
		return fmt.Errorf("open ledger: %w", err)
	}
	defer db.Close()
	if err := db.View(func(tx *bolt.Tx) error {
		empty, err := l.readMeta(tx)
		if err == nil && empty {
			err = ErrNoLedger // a bbolt file that was never initialized
		}
		return err
	}); err != nil {
		return fmt.Errorf("open ledger %s: %w", l.path, err)
	}
	return nil
}

// readMeta checks that tx's file is a toll ledger and reads its id; a file
// with no bucket at all is empty, and no error.
func (l *Ledger) readMeta(tx *bolt.Tx) (empty bool, err error) {
	if k, _ := tx.Cursor().First(); k == nil {
		return true, nil
	}
	b, err := openBuckets(tx)
	if err != nil {
		return false, err
	}
	if f := b.meta.Get(keyFormat); string(f) != formatV1 {
		return false, fmt.Errorf("not a toll ledger (format %q, want %q)", clip(string(f)), formatV1)
	}
	l.id = bytes.Clone(b.meta.Get(keyID))
	if len(l.id) == 0 {
		return false, errors.New("not a toll ledger (no id)")
	}
	_, _, err = readHead(b.meta)
	return false, err
}

func (l *Ledger) initialize(tx *bolt.Tx) error {
	for _, name := range allBuckets {
		if _, err := tx.CreateBucket(name); err != nil {
			return err
		}
	}
	id := make([]byte, 16)
	if _, err := crand.Read(id); err != nil {
		return err
	}
	l.id = []byte(hex.EncodeToString(id))
	meta := tx.Bucket(bucketMeta)
	for k, v := range map[string][]byte{
		string(keyFormat): []byte(formatV1),
		string(keyID):     l.id,
		string(keyHead):   append(u64(0), genesis[:]...),
		string(keyDay):    append(u64(0), '0'),
	} {
		if err := meta.Put([]byte(k), v); err != nil {
			return err
		}
	}
	return nil
}

// Close marks the handle closed, after any operation in progress. It holds
// no file, so there is nothing else to release. Later operations return
// ErrClosed.
func (l *Ledger) Close() error {
	l.sem <- struct{}{}
	l.closed = true
	<-l.sem
	return nil
}

// Path returns the ledger file's path.
func (l *Ledger) Path() string { return l.path }

// update runs fn in one read-write transaction (fsync'd on commit) under the
// file lock. If fn returns an error, nothing is written.
func (l *Ledger) update(ctx context.Context, fn func(b buckets) error) error {
	return l.run(ctx, true, fn)
}

// view runs fn in one read-only transaction under a shared file lock.
func (l *Ledger) view(ctx context.Context, fn func(b buckets) error) error {
	return l.run(ctx, false, fn)
}

func (l *Ledger) run(ctx context.Context, write bool, fn func(b buckets) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	start := time.Now()
	deadline := start.Add(l.timeout)
	timer := time.NewTimer(l.timeout)
	defer timer.Stop()
	select {
	case l.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return fmt.Errorf("%w: other operations of this process held %s for %v",
			ErrBusy, l.path, time.Since(start).Round(time.Millisecond))
	}
	defer func() { <-l.sem }()
	if l.closed {
		return ErrClosed
	}
	db, err := l.lock(ctx, write, false, deadline)
	if err != nil {
		return err
	}
	// A close error after commit is not reported: the data is durable, and
	// closing the descriptor releases the lock in any case.
	defer db.Close()
	txFn := func(tx *bolt.Tx) error {
		b, err := openBuckets(tx)
		if err != nil {
			return fmt.Errorf("%s: %w", l.path, err)
		}
		if id := b.meta.Get(keyID); !bytes.Equal(id, l.id) {
			return fmt.Errorf("ledger file %s was replaced since it was opened; open it again", l.path)
		}
		return fn(b)
	}
	if write {
		return db.Update(txFn)
	}
	return db.View(txFn)
}

// lock opens the bbolt file and takes its lock (exclusive for write, shared
// otherwise), retrying until deadline or ctx is done.
//
// bbolt's own wait polls every 50 ms and ignores ctx; instead each attempt is
// a non-blocking bbolt.Open (Timeout 1 ns: one try), retried here after a
// short, growing, jittered pause (minPause to maxPause).
func (l *Ledger) lock(ctx context.Context, write, create bool, deadline time.Time) (*bolt.DB, error) {
	opts := &bolt.Options{Timeout: time.Nanosecond, ReadOnly: !write}
	if !create {
		// The file must exist: never recreate a deleted ledger (its caps
		// would silently start again from zero).
		opts.OpenFile = func(name string, flag int, perm os.FileMode) (*os.File, error) {
			return os.OpenFile(name, flag&^os.O_CREATE, perm)
		}
	}
	pause := minPause
	var timer *time.Timer
	for {
		db, err := bolt.Open(l.path, 0o600, opts)
		if err == nil {
			return db, nil
		}
		if !errors.Is(err, bolterrors.ErrTimeout) {
			return nil, l.openError(err)
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, fmt.Errorf("%w: another toll process holds the lock on %s (waited %v); try again, or stop the other process",
				ErrBusy, l.path, (l.timeout - left).Round(time.Millisecond))
		}
		wait := min(pause+jitter(pause), left)
		if timer == nil {
			timer = time.NewTimer(wait)
			defer timer.Stop()
		} else {
			timer.Reset(wait)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timer.C:
		}
		pause = min(2*pause, maxPause)
	}
}

func (l *Ledger) openError(err error) error {
	switch {
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrVersionMismatch),
		errors.Is(err, bolterrors.ErrChecksum):
		return fmt.Errorf("%s is not a toll ledger (bbolt: %w)", l.path, err)
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("ledger file %s is gone: %w", l.path, err)
	}
	return fmt.Errorf("ledger %s: %w", l.path, err)
}

func jitter(d time.Duration) time.Duration { return rand.N(d) }
