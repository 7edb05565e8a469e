package ledger

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The schema of a PostgreSQL ledger is versioned: pgschema/N_name.sql is version N,
// applied in order by Migrate (toll ledger migrate), each recorded in toll_schema in the
// transaction that applies it. A toll refuses a database whose schema is newer than it
// knows (it could misread it) and, unless allowed to migrate, one that is older.
//
//go:embed pgschema/*.sql
var pgSchema embed.FS

// pgSchemaCurrent is the schema version this toll writes and reads.
const pgSchemaCurrent = 2

// pgMigrateLock is the advisory lock key (pg_advisory_xact_lock) that serializes
// migrations and the creation of the ledger across processes.
const pgMigrateLock = 0x746f6c6c // "toll"

// IsURL reports whether ledger names a PostgreSQL database (postgres:// or
// postgresql://) rather than a bbolt file.
func IsURL(ledger string) bool {
	return strings.HasPrefix(ledger, "postgres://") || strings.HasPrefix(ledger, "postgresql://")
}

// RedactURL returns the database URL u with its password (in the user part or a
// password parameter) replaced by "xxxxx", for messages and logs.
func RedactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(a database URL that does not parse)"
	}
	if _, ok := p.User.Password(); ok {
		p.User = url.UserPassword(p.User.Username(), "xxxxx")
	}
	if q := p.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		p.RawQuery = q.Encode()
	}
	return p.String()
}

// OpenURL opens the ledger in the PostgreSQL database at dbURL (postgres://...; the
// password may come from PGPASSWORD or a PGPASSFILE/.pgpass file instead of the URL,
// as for psql). It creates the ledger in the database when it holds none, unless
// opts.NoCreate. The database must have this toll's schema: with opts.Migrate, Open
// applies the migrations it lacks; without, an older schema is ErrSchema saying to run
// toll ledger migrate. The handle holds a small pool of connections until Close.
func OpenURL(ctx context.Context, dbURL string, opts Options) (*Ledger, error) {
	name := RedactURL(dbURL)
	if opts.Timeout < 0 {
		return nil, fmt.Errorf("open ledger %s: negative timeout %v", name, opts.Timeout)
	}
	pool, err := pgConnect(ctx, dbURL, name)
	if err != nil {
		return nil, err
	}
	l, err := openPool(ctx, pool, name, opts)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return l, nil
}

func pgConnect(ctx context.Context, dbURL, name string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return nil, fmt.Errorf("ledger database %s: the URL does not parse: %w", name, err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("ledger database %s: %w", name, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ledger database %s: cannot connect: %w", name, err)
	}
	return pool, nil
}

func openPool(ctx context.Context, pool *pgxpool.Pool, name string, opts Options) (*Ledger, error) {
	v, err := pgVersion(ctx, pool)
	if err != nil {
		return nil, fmt.Errorf("ledger database %s: %w", name, err)
	}
	if v != pgSchemaCurrent && (v > pgSchemaCurrent || !opts.Migrate) {
		return nil, schemaError(name, v)
	}
	if v < pgSchemaCurrent {
		if _, _, err := migratePool(ctx, pool, name); err != nil {
			return nil, fmt.Errorf("migrate ledger database %s: %w", name, err)
		}
	}
	if err := pgCreateLedger(ctx, pool, opts.NoCreate); err != nil {
		return nil, fmt.Errorf("open ledger %s: %w", name, err)
	}
	l := &Ledger{path: name, timeout: opts.Timeout, now: opts.Now, signer: opts.Signer, sem: make(chan struct{}, 1)}
	l.st, l.closeStore = &pgStore{pool: pool, name: name}, pool.Close
	if l.timeout == 0 {
		l.timeout = defaultTimeout
	}
	if l.now == nil {
		l.now = time.Now
	}
	err = l.st.run(ctx, false, time.Now().Add(l.timeout), func(tx kvTx) error {
		b, err := openKV(tx)
		if err != nil {
			return err
		}
		if l.id = b.meta.Get(keyID); len(l.id) == 0 {
			return errors.New("not a toll ledger (no id)")
		}
		l.id = append([]byte(nil), l.id...)
		_, _, err = readHead(b.meta)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("open ledger %s: %w", name, err)
	}
	return l, nil
}

func schemaError(name string, v int) error {
	if v > pgSchemaCurrent {
		return fmt.Errorf("%w: ledger database %s has schema version %d, this toll knows up to %d: use a newer toll; nothing was read or written",
			ErrSchema, name, v, pgSchemaCurrent)
	}
	return fmt.Errorf("%w: ledger database %s has schema version %d, this toll needs %d: run `toll ledger migrate --ledger URL` (or set ledger_migrate: true in toll.yaml)",
		ErrSchema, name, v, pgSchemaCurrent)
}

// pgVersion reads the database's schema version: 0 when it has no toll_schema.
func pgVersion(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (int, error) {
	var v int
	err := q.QueryRow(ctx, `SELECT COALESCE(max(version), 0) FROM toll_schema`).Scan(&v)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42P01" { // undefined_table
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read the schema version: %w", err)
	}
	return v, nil
}

// Migrate applies to the PostgreSQL database at dbURL the schema migrations it lacks,
// each in its own transaction, and returns the schema versions before and after. A
// database newer than this toll is ErrSchema, and left alone.
func Migrate(ctx context.Context, dbURL string) (from, to int, err error) {
	name := RedactURL(dbURL)
	pool, err := pgConnect(ctx, dbURL, name)
	if err != nil {
		return 0, 0, err
	}
	defer pool.Close()
	from, to, err = migratePool(ctx, pool, name)
	if err != nil && !errors.Is(err, ErrSchema) {
		err = fmt.Errorf("migrate ledger database %s: %w", name, err)
	}
	return from, to, err
}

type pgMigration struct {
	version int
	file    string
}

func pgMigrations() ([]pgMigration, error) {
	files, err := pgSchema.ReadDir("pgschema")
	if err != nil {
		return nil, err
	}
	var ms []pgMigration
	for _, f := range files {
		n, _, _ := strings.Cut(f.Name(), "_")
		v, err := strconv.Atoi(n)
		if err != nil {
			return nil, fmt.Errorf("migration %s has no version", f.Name())
		}
		ms = append(ms, pgMigration{v, path.Join("pgschema", f.Name())})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

func migratePool(ctx context.Context, pool *pgxpool.Pool, name string) (from, to int, err error) {
	ms, err := pgMigrations()
	if err != nil {
		return 0, 0, err
	}
	from = -1
	for _, m := range ms {
		applied, v, err := applyMigration(ctx, pool, m, name)
		if from < 0 {
			from = v
		}
		if err != nil {
			return max(from, 0), v, err
		}
		to = v
		if applied {
			to = m.version
		}
	}
	return max(from, 0), to, nil
}

// applyMigration applies m when the database's version is just below it, under the
// migration lock, and returns whether it did and the version it found.
func applyMigration(ctx context.Context, pool *pgxpool.Pool, m pgMigration, name string) (bool, int, error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return false, 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(pgMigrateLock)); err != nil {
		return false, 0, err
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS toll_schema (
		version    int PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return false, 0, err
	}
	v, err := pgVersion(ctx, tx)
	switch {
	case err != nil:
		return false, 0, err
	case v > pgSchemaCurrent:
		return false, v, schemaError(name, v)
	case v >= m.version:
		return false, v, tx.Commit(ctx)
	}
	sql, err := pgSchema.ReadFile(m.file)
	if err != nil {
		return false, v, err
	}
	if _, err := tx.Exec(ctx, string(sql)); err != nil {
		return false, v, fmt.Errorf("apply %s: %w", path.Base(m.file), err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO toll_schema (version) VALUES ($1)`, m.version); err != nil {
		return false, v, err
	}
	return true, v, tx.Commit(ctx)
}

// pgCreateLedger makes the ledger's meta records in a database that has the schema but
// no ledger yet (ErrNoLedger with noCreate), under the migration lock.
func pgCreateLedger(ctx context.Context, pool *pgxpool.Pool, noCreate bool) error {
	ptx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer ptx.Rollback(context.WithoutCancel(ctx))
	if _, err := ptx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(pgMigrateLock)); err != nil {
		return err
	}
	t := &pgTx{ctx: ctx, tx: ptx, write: true, buckets: map[string]*pgBucket{}}
	if t.kv(bucketMeta).Get(keyFormat) != nil || t.err != nil {
		return t.err
	}
	if noCreate {
		return ErrNoLedger
	}
	if err := initialize(t); err != nil {
		return err
	}
	if err := t.flush(); err != nil {
		return err
	}
	return ptx.Commit(ctx)
}
