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
	"runtime/debug"
	"strings"
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

	// NoCreate makes Open fail with ErrNoLedger when nothing is at the path,
	// instead of creating a ledger there: for commands that only read, so
	// that a mistyped path is an error and leaves nothing behind. False (the
	// zero value) creates the ledger. Either way, a file that is there but
	// empty or damaged is ErrDamaged, never a new ledger.
	NoCreate bool

	// Signer, when set, signs the head of the chain after every settlement, in the same
	// transaction, and when SignHead is called (signed.go). Nil signs nothing.
	Signer HeadSigner

	// Migrate lets OpenURL apply the schema migrations a PostgreSQL ledger lacks (toll
	// serve with ledger_migrate: true). False: an older schema is ErrSchema. Unused for
	// a bbolt file, which upgrades itself (format.go).
	Migrate bool
}

const (
	defaultTimeout = 5 * time.Second

	// unlockedWalks is how many times Open checks the pages without the lock (see
	// walkUnlocked) before it checks them under the lock.
	unlockedWalks = 3

	// Pauses between attempts to take the file lock (plus up to 100% jitter), where
	// it is not taken by a blocking flock (see lock). An attempt costs an open, a
	// failed lock and a close (tens of µs).
	minPause = 100 * time.Microsecond
	maxPause = 2 * time.Millisecond
)

// errNoWait is waitLock's answer where it does not wait (lock polls there).
var errNoWait = errors.New("no blocking file lock here")

// Ledger is a handle on a ledger file. It holds no lock between operations:
// each operation takes the file's lock, runs one transaction and releases it, on
// the file kept open from its last operation unless another handle or process
// committed since (keep.go), so several processes (and several handles in one
// process) can share the file and the caps hold across them.
// A *Ledger is safe for concurrent use; its operations run one at a time.
type Ledger struct {
	path    string
	timeout time.Duration
	now     func() time.Time
	signer  HeadSigner
	id      []byte // the "id" meta value seen by Open
	st      store  // the storage: the bbolt file at path, or a PostgreSQL database
	// closeStore, when set, releases what the store holds (a database's connections).
	closeStore func()

	// sem serializes this handle's operations (a second open of the file by
	// this handle would only wait on its own lock). closed is guarded by sem.
	sem    chan struct{}
	closed bool
	// kept is the bbolt file kept open between operations, without its lock (keep.go);
	// nil for none. Guarded by sem.
	kept  *boltFile
	queue writeQueue // writes waiting for the next group commit (group.go)
	// outcomeDelay, when not zero, replaces the constant outcomeDelay (tests that must
	// see an outcome ride the next write, whatever the machine's speed).
	outcomeDelay time.Duration
}

// Open opens the ledger file at path. When nothing is at path, it creates the parent
// directory (0700) and a new, empty ledger (0600), atomically: the path never holds a
// partial file. With Options.NoCreate it creates and writes nothing.
//
// Only a path that does not exist becomes a new ledger. A file that is there is checked
// whole before anything else reads it (see file.go): an empty, cut-short or damaged file
// is a *DamageError (errors.Is(err, ErrDamaged)), and is left as it was. The file is
// closed again before Open returns.
func Open(path string, opts Options) (*Ledger, error) {
	if path == "" {
		return nil, errors.New("open ledger: empty path")
	}
	if opts.Timeout < 0 {
		return nil, fmt.Errorf("open ledger %s: negative timeout %v", path, opts.Timeout)
	}
	l := &Ledger{path: path, timeout: opts.Timeout, now: opts.Now, signer: opts.Signer, sem: make(chan struct{}, 1)}
	l.st = boltStore{l}
	if l.timeout == 0 {
		l.timeout = defaultTimeout
	}
	if l.now == nil {
		l.now = time.Now
	}
	if !opts.NoCreate {
		if err := create(path); err != nil {
			return nil, fmt.Errorf("create ledger %s: %w", path, err)
		}
	}
	if err := l.openExisting(!opts.NoCreate); err != nil {
		return nil, err
	}
	return l, nil
}

// create makes a new, empty ledger at path when nothing is there. The ledger is built
// in a temporary file beside it and linked into place, so that the path holds either
// nothing or a whole ledger; a file already at path is left alone.
func create(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		return err // nil: something is there
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".new-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	defer os.Remove(name)
	if err := tmp.Close(); err != nil {
		return err
	}
	db, err := bolt.Open(name, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return err
	}
	err = db.Update(func(tx *bolt.Tx) error { return initialize(boltTx{tx: tx}) })
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Link(name, path); err != nil && !errors.Is(err, os.ErrExist) {
		// A file system without hard links: rename, unless a ledger appeared meanwhile.
		if _, serr := os.Lstat(path); !errors.Is(serr, os.ErrNotExist) {
			return serr
		}
		if err := os.Rename(name, path); err != nil {
			return err
		}
	}
	// Make the new file's directory entry durable too.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// openExisting checks, under a shared lock, that l.path holds a whole toll ledger, and
// reads its id. A bbolt file that never held a ledger (a crash while an older toll
// created it) is initialized when init is set, else it is ErrNoLedger.
func (l *Ledger) openExisting(init bool) error {
	if _, err := os.Stat(l.path); err != nil {
		if errors.Is(err, os.ErrNotExist) && !init {
			err = ErrNoLedger
		}
		return fmt.Errorf("open ledger %s: %w", l.path, err)
	}
	var empty bool
	read := func() error {
		return l.guard(func() error {
			f, err := l.lock(context.Background(), false, time.Now().Add(l.timeout), true)
			if err != nil {
				return err
			}
			defer f.db.Close()
			return f.db.View(func(tx *bolt.Tx) (err error) {
				empty, err = l.readMeta(tx)
				return err
			})
		})
	}
	err := read()
	if err == nil && empty {
		if !init {
			err = ErrNoLedger
		} else if err = l.initializeEmpty(); err == nil {
			err = read()
		}
	}
	var de *DamageError
	if errors.As(err, &de) {
		return err // it names the path
	}
	if err != nil {
		return fmt.Errorf("open ledger %s: %w", l.path, err)
	}
	return nil
}

// initializeEmpty initializes a bbolt file that holds no bucket, under the write lock.
func (l *Ledger) initializeEmpty() error {
	return l.guard(func() error {
		f, err := l.lock(context.Background(), true, time.Now().Add(l.timeout), false)
		if err != nil {
			return err
		}
		defer f.db.Close()
		return f.db.Update(func(tx *bolt.Tx) error {
			if empty, err := l.readMeta(tx); err != nil || !empty {
				return err // another process initialized it meanwhile
			}
			return initialize(boltTx{tx: tx})
		})
	})
}

// readMeta checks that tx's file is a toll ledger and reads its id. A file with no
// bucket at all, that bbolt never committed a transaction to, is empty, and no error.
func (l *Ledger) readMeta(tx *bolt.Tx) (empty bool, err error) {
	if k, _ := tx.Cursor().First(); k == nil {
		committed := tx.ID() // a write transaction's is the next one
		if tx.Writable() {
			committed--
		}
		if committed > 1 { // bbolt creates a file at transaction 1
			return false, &DamageError{Path: l.path, Detail: fmt.Sprintf("it holds nothing after %d transactions", committed)}
		}
		return true, nil
	}
	b, err := openBuckets(tx) // checks the format too
	if err != nil {
		return false, err
	}
	if err := checkBucketNames(tx); err != nil {
		return false, err
	}
	l.id = bytes.Clone(b.meta.Get(keyID))
	if len(l.id) == 0 {
		return false, errors.New("not a toll ledger (no id)")
	}
	_, _, err = readHead(b.meta)
	return false, err
}

// initialize creates the buckets and the meta records of a new ledger.
func initialize(tx kvTx) error {
	for _, name := range allBuckets {
		if _, err := tx.createBucket(name); err != nil {
			return err
		}
	}
	id := make([]byte, 16)
	if _, err := crand.Read(id); err != nil {
		return err
	}
	meta := tx.bucket(bucketMeta)
	for k, v := range map[string][]byte{
		string(keyFormat): []byte(formatName(formatCurrent)),
		string(keyID):     []byte(hex.EncodeToString(id)),
		string(keyHead):   append(u64(0), genesis[:]...),
		string(keyDay):    append(u64(0), '0'),
	} {
		if err := meta.Put([]byte(k), v); err != nil {
			return err
		}
	}
	return nil
}

// Close marks the handle closed, after any operation in progress, and closes the
// file it kept open between operations (or a database's connections). Later
// operations return ErrClosed.
func (l *Ledger) Close() error {
	l.sem <- struct{}{}
	defer func() { <-l.sem }()
	if !l.closed {
		// Outcomes recorded for later (RecordLater) are written first.
		if group := l.queue.take(); len(group) > 0 {
			l.commitGroup(context.Background(), time.Now().Add(l.timeout), group)
		}
		if l.closeStore != nil {
			l.closeStore()
		}
		l.drop()
	}
	l.closed = true
	return nil
}

// Path returns the ledger file's path, or for a PostgreSQL ledger its database URL
// without the password.
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

// run runs fn in a transaction of its own (a read) or in the next group commit (a
// write: group.go), under the handle's semaphore and the file lock.
func (l *Ledger) run(ctx context.Context, write bool, fn func(b buckets) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	start := time.Now()
	deadline := start.Add(l.timeout)
	var (
		p    *pending
		done <-chan error // nil for a read: never ready
	)
	if write {
		p = &pending{fn: fn, done: make(chan error, 1)}
		done = p.done
		l.queue.add(p)
	}
	timer := time.NewTimer(l.timeout)
	defer timer.Stop()
	select {
	case l.sem <- struct{}{}:
	case err := <-done: // a leader ran it
		return err
	case <-ctx.Done():
		return p.abandon(ctx.Err())
	case <-timer.C:
		return p.abandon(fmt.Errorf("%w: other operations of this process held %s for %v",
			ErrBusy, l.path, time.Since(start).Round(time.Millisecond)))
	}
	defer func() { <-l.sem }()
	if l.closed {
		for _, q := range l.queue.take() {
			q.finish(ErrClosed)
		}
		if p != nil {
			return <-p.done
		}
		return ErrClosed
	}
	if !write {
		if group := l.queue.take(); len(group) > 0 {
			// Outcomes recorded for later (RecordLater): a read sees them.
			l.commitGroup(context.WithoutCancel(ctx), deadline, group)
		}
		return l.inFile(ctx, false, deadline, fn)
	}
	group := l.queue.take()
	if len(group) > 1 || (len(group) == 1 && group[0] != p) {
		// The others' writes must not fail because this caller gave up: the wait for the
		// lock is bounded by the deadline alone.
		ctx = context.WithoutCancel(ctx)
	}
	l.commitGroup(ctx, deadline, group)
	return <-p.done // run now, or by the leader before
}

// inFile runs fn in one transaction of the ledger's store (a write one, durable on
// commit, when write is set), after checking that the store still holds the ledger
// this handle opened.
func (l *Ledger) inFile(ctx context.Context, write bool, deadline time.Time, fn func(b buckets) error) error {
	return l.st.run(ctx, write, deadline, func(tx kvTx) error {
		b, err := openKV(tx)
		if err != nil {
			return fmt.Errorf("%s: %w", l.path, err)
		}
		if id := b.meta.Get(keyID); !bytes.Equal(id, l.id) {
			return fmt.Errorf("ledger %s was replaced since it was opened; open it again", l.path)
		}
		return fn(b)
	})
}

// guard runs fn with a fault on the mapped file turned into a panic
// (runtime/debug.SetPanicOnFault), and turns a panic in fn (such a fault, or
// bbolt's own assertion on a page it finds damaged) into a *DamageError. bbolt rolls
// its transaction back on a panic, so nothing is written.
func (l *Ledger) guard(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = l.panicked(r)
		}
	}()
	return fn()
}

func (l *Ledger) panicked(r any) error {
	msg, _, _ := strings.Cut(fmt.Sprint(r), "\n")
	return &DamageError{Path: l.path, Detail: "reading it failed (" + clip(msg) + ")"}
}

// lock opens the bbolt file and takes its lock (exclusive for write, shared
// otherwise), waiting until deadline or ctx is done. It never creates the file: a
// deleted ledger is never recreated (its caps would silently start again from zero).
// Once the lock is held, the file is checked (checkMeta; with deep, checkPages too, but
// first without the lock: see walkUnlocked) before bbolt reads a page of it, except the
// freelist bbolt reads while it opens for writing, which guard covers.
//
// bbolt's own wait polls every 50 ms and ignores ctx. Instead, where bbolt locks with
// flock, the lock is taken before bbolt's attempt by a blocking flock bounded by the
// deadline and ctx (waitLock): a waiter is woken when the lock is released, so waits
// are as short as the holder's transaction, whoever holds it. Elsewhere each attempt
// is a non-blocking bbolt.Open (Timeout 1 ns: one try), retried here after a short,
// growing, jittered pause (minPause to maxPause).
func (l *Ledger) lock(ctx context.Context, write bool, deadline time.Time, deep bool) (*boltFile, error) {
	// Without the lock, a walk may fail on a page a writer was rewriting: try again
	// before taking the lock for it.
	for range unlockedWalks {
		if !deep {
			break
		}
		deep = !l.walkUnlocked()
	}
	pause := minPause
	var timer *time.Timer
	for {
		f, err := l.openChecked(ctx, write, deep, deadline)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, bolterrors.ErrTimeout) {
			return nil, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, l.busy(l.timeout - left)
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

// busy is the error of an operation that waited for the file lock for waited in vain.
func (l *Ledger) busy(waited time.Duration) error {
	return fmt.Errorf("%w: another toll process holds the lock on %s (waited %v); try again, or stop the other process",
		ErrBusy, l.path, waited.Round(time.Millisecond))
}

// openChecked is one attempt of lock.
func (l *Ledger) openChecked(ctx context.Context, write, deep bool, deadline time.Time) (_ *boltFile, err error) {
	var db *bolt.DB
	var file *os.File
	opts := &bolt.Options{Timeout: time.Nanosecond, ReadOnly: !write}
	opts.OpenFile = func(name string, flag int, perm os.FileMode) (*os.File, error) {
		f, err := os.OpenFile(name, flag&^os.O_CREATE, perm)
		if err != nil {
			return nil, err
		}
		// bbolt would make an empty file a new database.
		if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() || fi.Size() == 0 {
			f.Close()
			return nil, fileError(l.path, fi, err)
		}
		if err := waitLock(ctx, f, write, deadline); err != nil && !errors.Is(err, errNoWait) {
			f.Close()
			return nil, err
		}
		file = f
		return f, nil
	}
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if db != nil {
			db.Close()
		} else if file != nil {
			// bbolt.Open panicked holding the lock, and its mapping of the file
			// (which stays, unreachable) would keep it: release it, and say what
			// is wrong with the file if its size or meta pages tell.
			unlockFile(file)
			err = diagnose(file, l.path)
			file.Close()
			if err != nil {
				return
			}
		}
		panic(r) // for guard
	}()
	db, err = bolt.Open(l.path, 0o600, opts)
	if err != nil {
		return nil, l.openError(err)
	}
	fi, err := file.Stat()
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("ledger %s: %w", l.path, err)
	}
	m, err := checkMeta(file, fi.Size(), l.path)
	if err == nil && deep {
		err = l.checkPages(file, m)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return &boltFile{db: db, file: file, write: write, txid: m.txid}, nil
}

// walkUnlocked checks the pages of the file without its lock, so that a large ledger's
// check at Open does not keep writers waiting (about 0.2 s a gigabyte), and
// reports whether every page it read was well-formed. Without the lock, writers may
// commit meanwhile; then the pages of an older transaction may be reused, and the walk
// may read a page being written: a walk that fails proves nothing, and lock checks the
// pages again under the lock, which reports the failure if it is real. A walk that
// passes holds: damage at rest is in pages that were there when the walk began, which
// it read (unless a writer rewrote them meanwhile, with well-formed pages), and any page
// it did not read was written by bbolt since, which points only to pages it wrote.
func (l *Ledger) walkUnlocked() bool {
	f, err := os.Open(l.path)
	if err != nil {
		return false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return false
	}
	m, err := checkMeta(f, fi.Size(), l.path)
	return err == nil && l.checkPages(f, m) == nil
}

// checkPages reads the pages in use of f, whose meta is m, and checks them.
func (l *Ledger) checkPages(f *os.File, m boltMeta) error { return checkPages(f, m, l.path) }

// fileError explains why the file at path, with info fi or stat error err, cannot be a
// ledger.
func fileError(path string, fi os.FileInfo, err error) error {
	switch {
	case err != nil:
		return err
	case fi.IsDir():
		return fmt.Errorf("ledger %s is a directory, not a ledger file", path)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("ledger %s is not a regular file", path)
	}
	return &DamageError{Path: path, Detail: emptyFile}
}

// openError explains an error of bbolt.Open. When bbolt finds the file unreadable, the
// file is read again here (without the lock: only to say what is wrong with it).
func (l *Ledger) openError(err error) error {
	var de *DamageError
	switch {
	case errors.Is(err, bolterrors.ErrTimeout), errors.As(err, &de),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("ledger file %s is gone: %w", l.path, err)
	}
	if f, ferr := os.Open(l.path); ferr == nil {
		defer f.Close()
		if derr := diagnose(f, l.path); derr != nil {
			return derr
		}
	}
	return fmt.Errorf("ledger %s: %w", l.path, err)
}

// diagnose returns what checkMeta finds wrong with f, or nil.
func diagnose(f *os.File, path string) error {
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	_, err = checkMeta(f, fi.Size(), path)
	return err
}

func jitter(d time.Duration) time.Duration { return rand.N(d) }
