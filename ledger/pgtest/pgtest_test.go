package pgtest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestDatabasesAreSeparate: two databases of one test are different and empty, and each
// is a real PostgreSQL that keeps what it is given.
func TestDatabasesAreSeparate(t *testing.T) {
	ctx := t.Context()
	a, b := NewDatabase(t), NewDatabase(t)
	if a == b {
		t.Fatalf("two databases share the URL %s", a)
	}
	ca := connect(t, a)
	if _, err := ca.Exec(ctx, "CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := ca.QueryRow(ctx, "SELECT n FROM kept").Scan(&n); err != nil || n != 42 {
		t.Fatalf("read back %d, %v; want 42", n, err)
	}
	var version string
	if err := ca.QueryRow(ctx, "SHOW server_version").Scan(&version); err != nil {
		t.Fatal(err)
	}
	t.Logf("PostgreSQL %s", version)

	cb := connect(t, b)
	_, err := cb.Exec(ctx, "SELECT n FROM kept")
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42P01" { // undefined_table
		t.Fatalf("the second database sees the first one's table: %v", err)
	}
}

// TestClusterStopMidTransaction: a cluster of the test's own stops at once under an open
// transaction, which is lost, while what was committed before survives the restart.
func TestClusterStopMidTransaction(t *testing.T) {
	ctx := t.Context()
	c := StartCluster(t)
	conn := connect(t, c.URL("postgres"))
	if _, err := conn.Exec(ctx, "CREATE TABLE t (n int); INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO t VALUES (2)"); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err == nil {
		t.Fatal("a commit succeeded on a stopped server")
	}
	if err := c.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	var got []int
	rows, err := connect(t, c.URL("postgres")).Query(ctx, "SELECT n FROM t ORDER BY n")
	if err != nil {
		t.Fatal(err)
	}
	got, err = pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != 1 {
		t.Errorf("rows after the restart: %v, want [1] (the committed row only)", got)
	}
}

func TestRedact(t *testing.T) {
	got := redact("postgres://u:secret@db.example:5432/x")
	if strings.Contains(got, "secret") {
		t.Errorf("redact kept the password: %s", got)
	}
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}
