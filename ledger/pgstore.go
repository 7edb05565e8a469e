package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tollhq/toll/tools/money"
)

// The PostgreSQL store: the ledger's transactions (kv.go) on a PostgreSQL database, so
// that toll processes on many machines share one budget and one chain.
//
// Writes. Every write transaction first locks the chain head's row (SELECT ... FOR
// UPDATE on meta "head"), then runs the same code as on bbolt, at READ COMMITTED. Every
// statement after the lock sees every write committed before the lock was granted, and
// no other writer commits until this one ends: the writes of all processes are serialized
// on the head exactly as bbolt's file lock serializes them, and the caps are checked on
// committed state in the transaction that reserves. SERIALIZABLE would add nothing: the
// chain is one sequence every write appends to, so writers serialize on it anyway, and
// SERIALIZABLE would only turn that wait into failures to retry. A write returns once
// its COMMIT returned (synchronous_commit on, the server's default).
//
// Reads run in REPEATABLE READ READ ONLY transactions: one snapshot, never blocking a
// writer nor blocked by one.
//
// Round trips. A transaction caches what it read (a writer holds the head lock, a reader
// a snapshot: nothing it read can change under it) and holds its writes until a cursor
// needs the database to be current or it commits, then sends them in one batch.
//
// Errors. Get and the cursors cannot return an error (bbolt's cannot fail); here a
// query can. The transaction keeps its first error, answers nil from then on, and run
// returns that error whatever fn returned, rolling back: a lost connection is never
// taken for a missing key, and nothing of the transaction is committed.

// pgStore runs the transactions of a ledger on a PostgreSQL database.
type pgStore struct {
	pool *pgxpool.Pool
	name string // the database's URL with its password removed, for messages

	// serializable runs writes at SERIALIZABLE without the head lock, retrying those
	// that fail to serialize: only BenchmarkReservePostgres sets it, to measure the
	// choice argued at the top of this file.
	serializable bool
}

const (
	sqlLockHead = `SELECT value FROM toll_kv WHERE bucket = 'meta' AND key = 'head' FOR UPDATE`
	sqlMeta     = `SELECT key, value FROM toll_kv WHERE bucket = 'meta'`
	sqlGet      = `SELECT value FROM toll_kv WHERE bucket = $1 AND key = $2`
	sqlPut      = `INSERT INTO toll_kv (bucket, key, value) VALUES ($1, $2, $3)
		ON CONFLICT (bucket, key) DO UPDATE SET value = excluded.value`
	sqlDelete     = `DELETE FROM toll_kv WHERE bucket = $1 AND key = $2`
	sqlCount      = `SELECT count(*) FROM toll_kv WHERE bucket = $1`
	sqlGetEvent   = `SELECT prev || hash || record FROM toll_events WHERE seq = $1`
	sqlDelEvent   = `DELETE FROM toll_events WHERE seq = $1`
	sqlCountEvent = `SELECT count(*) FROM toll_events`
)

func (s *pgStore) run(ctx context.Context, write bool, deadline time.Time, fn func(tx kvTx) error) error {
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	err := s.runTx(ctx, write, fn)
	for s.serializable && write && serializationFailure(err) && ctx.Err() == nil {
		err = s.runTx(ctx, write, fn)
	}
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) && time.Now().After(deadline) {
		return fmt.Errorf("%w: the database %s did not answer, or another toll held the ledger, for the whole timeout (%v); try again",
			ErrBusy, s.name, err)
	}
	return err
}

func (s *pgStore) runTx(ctx context.Context, write bool, fn func(tx kvTx) error) (err error) {
	opts := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	if write {
		opts = pgx.TxOptions{IsoLevel: pgx.ReadCommitted, AccessMode: pgx.ReadWrite}
		if s.serializable {
			opts.IsoLevel = pgx.Serializable
		}
	}
	ptx, err := s.pool.BeginTx(ctx, opts)
	if err != nil {
		return s.failed(err)
	}
	defer func() {
		if err != nil {
			_ = ptx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	t := &pgTx{ctx: ctx, tx: ptx, store: s, write: write, buckets: map[string]*pgBucket{}}
	if err := t.loadMeta(write && !s.serializable); err != nil {
		return err
	}
	ferr := fn(t)
	if t.err != nil {
		return s.failed(t.err)
	}
	if ferr != nil {
		return ferr
	}
	if err := t.flush(); err != nil {
		return s.failed(err)
	}
	if err := ptx.Commit(ctx); err != nil {
		return s.failed(fmt.Errorf("commit: %w", err))
	}
	return nil
}

// serializationFailure says whether err is a transaction PostgreSQL could not serialize
// (or its form for two inserts of one key), which a retry may pass.
func serializationFailure(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01" || pe.Code == "23505")
}

// failed is the error of a transaction the database failed, with the database and what
// failed: ErrPermission when the role may not do what it tried, else ErrUnavailable.
func (s *pgStore) failed(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == pgInsufficientPrivilege {
		return fmt.Errorf("%w: %s: %s: this database role may only do part of what toll does; toll serve's needs SELECT, INSERT, UPDATE and DELETE on toll's tables, an auditor's SELECT alone is enough to list, export, report and verify",
			ErrPermission, s.name, pe.Message)
	}
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, s.name, err)
}

// pgInsufficientPrivilege is PostgreSQL's SQLSTATE for a permission denied.
const pgInsufficientPrivilege = "42501"

// pgTx is one transaction. ctx is the transaction's: it lives as long as the transaction
// (run's), as pgx's own transactions take it on every call.
type pgTx struct {
	ctx     context.Context
	tx      pgx.Tx
	store   *pgStore
	write   bool
	err     error // the first error of a read (see the top of this file)
	buckets map[string]*pgBucket
	pending pgx.Batch // writes not sent yet
}

// loadMeta reads the meta bucket whole (the format, id, head, rolling-day and checkpoint
// records every operation reads) into the cache, in one round trip; with lock, after
// locking the chain head's row. The two statements go in one batch and run in order: the
// second reads after the lock is granted, so at READ COMMITTED it sees every commit
// before it.
func (t *pgTx) loadMeta(lock bool) error {
	var batch pgx.Batch
	if lock {
		batch.Queue(sqlLockHead)
	}
	batch.Queue(sqlMeta)
	br := t.tx.SendBatch(t.ctx, &batch)
	defer br.Close()
	if lock {
		var head []byte
		if err := br.QueryRow().Scan(&head); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return errors.New("not a toll ledger (no chain head): open it with toll first")
			}
			return t.store.failed(fmt.Errorf("lock the chain head: %w", err))
		}
	}
	rows, err := br.Query()
	if err != nil {
		return t.store.failed(fmt.Errorf("read meta: %w", err))
	}
	meta := t.kv(bucketMeta)
	for rows.Next() {
		var k, v []byte
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return t.store.failed(fmt.Errorf("read meta: %w", err))
		}
		meta.cache[string(k)] = v
	}
	if err := rows.Err(); err != nil {
		return t.store.failed(fmt.Errorf("read meta: %w", err))
	}
	meta.complete = true
	return nil
}

func (t *pgTx) fail(err error) {
	if t.err == nil {
		t.err = err
	}
}

// flush sends the writes held back.
func (t *pgTx) flush() error {
	if t.err != nil {
		return t.err
	}
	if t.pending.Len() == 0 {
		return nil
	}
	err := t.tx.SendBatch(t.ctx, &t.pending).Close()
	t.pending = pgx.Batch{}
	if err != nil {
		t.fail(err)
	}
	return err
}

// query runs a query after the writes held back, sent with them in one batch (one round
// trip); done releases the rows and the batch.
func (t *pgTx) query(sql string, args ...any) (rows pgx.Rows, done func(), err error) {
	if t.pending.Len() == 0 {
		rows, err = t.tx.Query(t.ctx, sql, args...)
		if err != nil {
			return nil, nil, err
		}
		return rows, rows.Close, nil
	}
	batch := t.pending
	t.pending = pgx.Batch{}
	writes := batch.Len()
	batch.Queue(sql, args...)
	br := t.tx.SendBatch(t.ctx, &batch)
	for range writes {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return nil, nil, err
		}
	}
	if rows, err = br.Query(); err != nil {
		br.Close()
		return nil, nil, err
	}
	return rows, func() { rows.Close(); br.Close() }, nil
}

func (t *pgTx) kv(name []byte) *pgBucket {
	b := t.buckets[string(name)]
	if b == nil {
		b = &pgBucket{tx: t, name: string(name), events: bytes.Equal(name, bucketEvents), cache: map[string][]byte{}}
		t.buckets[string(name)] = b
	}
	return b
}

// bucket returns every bucket of the ledger: the schema holds them all from the start
// (the queue of approvals too, empty until used).
func (t *pgTx) bucket(name []byte) kvBucket {
	for _, n := range allBuckets {
		if bytes.Equal(n, name) {
			return t.kv(name)
		}
	}
	return nil
}

func (t *pgTx) createBucket(name []byte) (kvBucket, error) {
	if b := t.bucket(name); b != nil {
		return b, nil
	}
	return nil, fmt.Errorf("no bucket %q in the PostgreSQL schema", name)
}

func (t *pgTx) writable() bool { return t.write }

func (t *pgTx) countKeys(bkt kvBucket) (int, error) {
	b, ok := bkt.(*pgBucket)
	if !ok {
		return 0, fmt.Errorf("count keys: %T is not a bucket of this PostgreSQL transaction", bkt)
	}
	if err := t.flush(); err != nil {
		return 0, err
	}
	var n int
	var err error
	if b.events {
		err = t.tx.QueryRow(t.ctx, sqlCountEvent).Scan(&n)
	} else {
		err = t.tx.QueryRow(t.ctx, sqlCount, b.name).Scan(&n)
	}
	if err != nil {
		t.fail(err)
	}
	return n, err
}

// pgBucket is a bucket: rows of toll_kv, or for "events" the rows of toll_events keyed
// by seq (8 bytes, big endian), whose value is prev ‖ hash ‖ record as bbolt stores it.
type pgBucket struct {
	tx     *pgTx
	name   string
	events bool
	cache  map[string][]byte // key → value; a nil value: no such key
	// complete says the cache holds every key of the bucket (meta: loadMeta): a key it
	// lacks is not there.
	complete bool
}

func (b *pgBucket) Get(key []byte) []byte {
	if v, ok := b.cache[string(key)]; ok || b.complete {
		return v
	}
	if b.tx.err != nil {
		return nil
	}
	var v []byte
	var err error
	if b.events {
		if len(key) != 8 {
			return nil
		}
		err = b.tx.tx.QueryRow(b.tx.ctx, sqlGetEvent, int64(be64(key))).Scan(&v)
	} else {
		err = b.tx.tx.QueryRow(b.tx.ctx, sqlGet, b.name, key).Scan(&v)
	}
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		v = nil
	case err != nil:
		b.tx.fail(fmt.Errorf("read %s: %w", b.name, err))
		return nil
	}
	b.cache[string(key)] = v
	return v
}

func (b *pgBucket) Put(key, value []byte) error {
	if !b.tx.write {
		return errors.New("put in a read transaction")
	}
	if len(key) == 0 {
		return errors.New("put an empty key")
	}
	value = bytes.Clone(value)
	if b.events {
		if err := queueEvent(&b.tx.pending, key, value); err != nil {
			return err
		}
	} else {
		b.tx.pending.Queue(sqlPut, b.name, bytes.Clone(key), value)
	}
	b.cache[string(key)] = value
	if b.tx.pending.Len() >= pgMaxPending {
		return b.tx.flush()
	}
	return nil
}

// pgMaxPending is how many writes a transaction holds back at most (a copy of a whole
// ledger writes millions in one transaction).
const pgMaxPending = 1000

func (b *pgBucket) Delete(key []byte) error {
	if !b.tx.write {
		return errors.New("delete in a read transaction")
	}
	if b.events {
		if len(key) == 8 {
			b.tx.pending.Queue(sqlDelEvent, int64(be64(key)))
		}
	} else {
		b.tx.pending.Queue(sqlDelete, b.name, bytes.Clone(key))
	}
	b.cache[string(key)] = nil
	return nil
}

func (b *pgBucket) ForEach(fn func(k, v []byte) error) error {
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return b.tx.err
}

func (b *pgBucket) Cursor() kvCursor { return &pgCursor{b: b} }

// pgCursor walks a bucket in key order, reading rows in batches that grow as it goes on
// (a seek that reads a few keys reads a few rows; a reader of the whole chain reads a
// thousand a query).
type pgCursor struct {
	b    *pgBucket
	rows []pgRow
	i    int
	asc  bool // the direction the rows were read in
	more bool // the last read was full: more rows may follow in its direction
	n    int  // rows the next read asks for
}

type pgRow struct{ k, v []byte }

const (
	pgCursorFirstBatch = 16
	pgCursorMaxBatch   = 1024
)

func (c *pgCursor) First() ([]byte, []byte) { return c.read(nil, true, true) }
func (c *pgCursor) Last() ([]byte, []byte)  { return c.read(nil, true, false) }

func (c *pgCursor) Seek(key []byte) ([]byte, []byte) { return c.read(key, true, true) }

func (c *pgCursor) Next() ([]byte, []byte) { return c.step(true) }
func (c *pgCursor) Prev() ([]byte, []byte) { return c.step(false) }

// step moves one key in direction asc from the current one.
func (c *pgCursor) step(asc bool) ([]byte, []byte) {
	if c.i < 0 || c.i >= len(c.rows) {
		return nil, nil // past an end, or never placed
	}
	if asc == c.asc {
		if c.i+1 < len(c.rows) {
			c.i++
			return c.rows[c.i].k, c.rows[c.i].v
		}
		if !c.more {
			c.i = len(c.rows)
			return nil, nil
		}
	}
	return c.read(c.rows[c.i].k, false, asc)
}

// read places the cursor on the first key from key on (with incl, key itself) in
// direction asc; a nil key: from the first (asc) or the last key.
func (c *pgCursor) read(key []byte, incl, asc bool) ([]byte, []byte) {
	c.rows, c.i = c.rows[:0], 0
	t := c.b.tx
	if t.err != nil {
		return nil, nil
	}
	if c.n == 0 || asc != c.asc || key == nil || incl {
		c.n = pgCursorFirstBatch
	} else {
		c.n = min(2*c.n, pgCursorMaxBatch)
	}
	c.asc = asc
	q, args := c.query(key, incl, asc)
	rows, done, err := t.query(q, args...)
	if err != nil {
		t.fail(fmt.Errorf("read %s: %w", c.b.name, err))
		return nil, nil
	}
	defer done()
	for rows.Next() {
		var r pgRow
		if c.b.events {
			var seq int64
			err = rows.Scan(&seq, &r.v)
			r.k = u64(uint64(seq))
		} else {
			err = rows.Scan(&r.k, &r.v)
		}
		if err != nil {
			t.fail(fmt.Errorf("read %s: %w", c.b.name, err))
			return nil, nil
		}
		c.rows = append(c.rows, r)
	}
	if err := rows.Err(); err != nil {
		t.fail(fmt.Errorf("read %s: %w", c.b.name, err))
		return nil, nil
	}
	c.more = len(c.rows) == c.n
	if len(c.rows) == 0 {
		return nil, nil
	}
	return c.rows[0].k, c.rows[0].v
}

// query is the statement of read.
func (c *pgCursor) query(key []byte, incl, asc bool) (string, []any) {
	op, order := ">", "ASC"
	if !asc {
		op, order = "<", "DESC"
	}
	if incl {
		op += "="
	}
	if c.b.events {
		q := `SELECT seq, prev || hash || record FROM toll_events`
		args := []any{c.n}
		if key != nil {
			q += ` WHERE seq ` + op + ` $2`
			args = append(args, eventBound(key, incl && asc))
		}
		return q + ` ORDER BY seq ` + order + ` LIMIT $1`, args
	}
	q := `SELECT key, value FROM toll_kv WHERE bucket = $1`
	args := []any{c.b.name, c.n}
	if key != nil {
		q += ` AND key ` + op + ` $3`
		args = append(args, key)
	}
	return q + ` ORDER BY key ` + order + ` LIMIT $2`, args
}

// eventBound is the seq to compare with for an events key: the key's 8 bytes. For a
// seek (seek: the first key >= key) a shorter key is padded with zeros, and a longer one
// is past every key of its first 8 bytes.
func eventBound(key []byte, seek bool) int64 {
	var b [8]byte
	copy(b[:], key)
	seq := be64(b[:])
	if seek && len(key) > 8 && bytes.ContainsFunc(key[8:], func(r rune) bool { return r != 0 }) {
		seq++
	}
	return int64(seq)
}

const sqlPutEvent = `INSERT INTO toll_events (seq, prev, hash, record, time, kind, call_id, agent, session, api,
	tool, method, url, network, asset, amount, amount_atomic, pay_to, payer, nonce, valid_before,
	payment_id, tx_hash, reason, http_status, cap, cap_limit, cap_used, decided_by, artifacts, signature)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
	$21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31)`

// queueEvent queues the insert of the event stored as value (prev ‖ hash ‖ record)
// under key, its fields in their columns.
func queueEvent(batch *pgx.Batch, key, value []byte) error {
	e, err := decodeRecord(value)
	if err != nil {
		return fmt.Errorf("store event: %w", err)
	}
	if len(key) != 8 || be64(key) != e.Seq || e.Seq > 1<<62 {
		return fmt.Errorf("store event %d under key %x", e.Seq, key)
	}
	text := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	amount, atomic := amountColumns(e.Amount)
	limit, _ := amountColumns(e.Limit)
	used, _ := amountColumns(e.Used)
	var validBefore, status any
	if !e.ValidBefore.IsZero() {
		validBefore = e.ValidBefore
	}
	if e.HTTPStatus != 0 {
		status = e.HTTPStatus
	}
	batch.Queue(sqlPutEvent, int64(e.Seq), value[:32], value[32:64], value[64:], e.Time, string(e.Kind),
		text(e.CallID), text(e.Agent), text(e.Session), text(e.API), text(e.Tool), text(e.Method), text(e.URL),
		text(e.Network), text(e.Asset), amount, atomic, text(e.PayTo), text(e.Payer), text(e.Nonce), validBefore,
		text(e.PaymentID), text(e.TxHash), text(e.Reason), status, text(e.Cap), limit, used, text(e.By),
		text(e.Artifacts), text(e.Signature))
	return nil
}

// amountColumns are an amount's columns: its decimal value and its atomic units, as
// numeric text (nil: NULL).
func amountColumns(a *money.Amount) (value, atomic any) {
	if a == nil {
		return nil, nil
	}
	return a.String(), a.AtomicString()
}
