// Package pgtest gives tests a PostgreSQL database of their own, on a real server: the
// one TOLL_TEST_POSTGRES names (.ci/run starts a throwaway cluster and sets it), or a
// cluster the test starts itself from the PostgreSQL binaries this machine has
// (Debian's postgresql-15: initdb, pg_ctl), in a temporary directory, listening only on
// a unix socket there. Nothing is installed, nothing outside that directory is touched.
//
// Run the PostgreSQL tests locally with nothing set (a cluster is started per test that
// asks for one), or against a server of your own:
//
//	TOLL_TEST_POSTGRES='postgres://USER@localhost:5432/postgres' go test ./ledger/...
//
// The user must be allowed to create databases; each test gets a new one, dropped at
// its end. Outside CI (TOLL_CI unset) a test skips, saying how to run it, when neither
// a server nor the binaries are there; under CI it fails.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
)

// Environment variables the package reads.
const (
	// EnvURL names a PostgreSQL server for the tests: a URL of a database the user can
	// connect to and create databases from.
	EnvURL = "TOLL_TEST_POSTGRES"
	envCI  = "TOLL_CI"
)

// TB is the part of testing.TB the package uses: it does not import testing, which no
// package of toll's reaches outside its tests.
type TB interface {
	Helper()
	Cleanup(func())
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Fatal(args ...any)
	Skip(args ...any)
}

// NewDatabase returns the URL of a new, empty database for t on the server EnvURL names,
// or on a cluster started for t when it is unset. The database is dropped (and the
// cluster stopped) when t ends.
func NewDatabase(t TB) string {
	t.Helper()
	server := os.Getenv(EnvURL)
	if server == "" {
		server = StartCluster(t).URL("postgres")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dbURL, err := createDatabase(ctx, server)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := dropDatabase(ctx, server, dbURL); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return dbURL
}

// StartCluster starts a PostgreSQL cluster of t's own (for a test that stops or kills
// the server), stopped when t ends. It skips t outside CI when this machine has no
// PostgreSQL binaries, and fails t under CI.
func StartCluster(t TB) *Cluster {
	t.Helper()
	bin, err := findBinaries()
	if err != nil {
		unavailable(t, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := Start(ctx, bin)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return c
}

func unavailable(t TB, err error) {
	t.Helper()
	msg := fmt.Sprintf("no PostgreSQL for this test: %v; install Debian's postgresql-15 (apt-get install postgresql-15) or set %s to a server's URL", err, EnvURL)
	if os.Getenv(envCI) != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// createDatabase creates a database with a fresh name on server and returns its URL.
func createDatabase(ctx context.Context, server string) (string, error) {
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		return "", fmt.Errorf("connect to %s: %w", redact(server), err)
	}
	defer conn.Close(ctx)
	var b [8]byte
	_, _ = rand.Read(b[:])
	name := "toll_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create database %s on %s: %w", name, redact(server), err)
	}
	return withDatabase(server, name)
}

func dropDatabase(ctx context.Context, server, dbURL string) error {
	u, err := url.Parse(dbURL)
	if err != nil {
		return err
	}
	name := u.Path[1:]
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", redact(server), err)
	}
	defer conn.Close(ctx)
	// WITH (FORCE) ends the sessions a test left open (a killed process's, for one).
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// withDatabase returns server's URL naming database name instead.
func withDatabase(server, name string) (string, error) {
	u, err := url.Parse(server)
	if err != nil {
		return "", fmt.Errorf("%s is not a URL: %w", EnvURL, err)
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return "", errors.New(EnvURL + " must be a postgres:// URL")
	}
	u.Path = "/" + name
	return u.String(), nil
}

// redact is u without its password, for messages.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(a URL that does not parse)"
	}
	return u.Redacted()
}
