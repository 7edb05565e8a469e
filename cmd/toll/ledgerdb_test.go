package main

import (
	"context"
	"errors"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/ledger/pgtest"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402test"
)

// pgURLWithPassword is the database URL u with a password in it (the test cluster
// trusts its socket, so any password is accepted): no output may show it.
func pgURLWithPassword(t *testing.T, u, password string) string {
	t.Helper()
	p := mustParseURL(t, u)
	p.User = url.UserPassword(p.User.Username(), password)
	return p.String()
}

// TestLedgerPostgresBinary moves the ledger toll demo leaves into PostgreSQL with the
// built binary: an unmigrated database is refused with what to run, toll ledger migrate
// brings it up to date, toll ledger copy moves the chain intact (the same last hash as
// toll ledger verify gives on the file), list reads the same calls from both, and the
// database's password never appears in any output.
func TestLedgerPostgresBinary(t *testing.T) {
	bin := tollBinary(t)
	dir := t.TempDir()
	file := demoLedger(t, bin, dir)
	const secret = "sekret-pg-password"
	db := pgURLWithPassword(t, pgtest.NewDatabase(t), secret)

	var outputs []string
	run := func(env []string, args ...string) binRun {
		t.Helper()
		r := runBinary(t, env, args...)
		outputs = append(outputs, r.stdout, r.stderr)
		return r
	}
	if r := run(nil, "ledger", "list", "--ledger", db); r.code != 1 || !strings.Contains(r.stderr, "toll ledger migrate") {
		t.Fatalf("ledger list on an unmigrated database: exit %d, stderr %q; want 1 and what to run", r.code, r.stderr)
	}
	if r := run(nil, "ledger", "migrate", "--ledger", db); r.code != 0 || !strings.Contains(r.stdout, "schema version 0 -> 2") {
		t.Fatalf("ledger migrate: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	if r := run(nil, "ledger", "migrate", "--ledger", file); r.code != 2 {
		t.Errorf("ledger migrate on a file: exit %d, want 2 (usage)\n%s", r.code, r.stderr)
	}
	cp := run(nil, "ledger", "copy", "--from", file, "--to", db)
	hash := regexp.MustCompile(`last hash ([0-9a-f]{64})`).FindStringSubmatch(cp.stdout)
	if cp.code != 0 || hash == nil {
		t.Fatalf("ledger copy: exit %d, %q %q", cp.code, cp.stdout, cp.stderr)
	}
	for _, where := range []string{file, db} {
		if r := run(nil, "ledger", "verify", "--ledger", where); r.code != 0 || !strings.Contains(r.stdout, hash[1]) {
			t.Errorf("ledger verify --ledger %s: exit %d, %q %q; want the copy's last hash %s", ledgerName(where), r.code, r.stdout, r.stderr, hash[1])
		}
	}
	if r := run(nil, "ledger", "copy", "--from", file, "--to", db); r.code != 1 || !strings.Contains(r.stderr, "empty ledger") {
		t.Errorf("a second copy: exit %d, %q; want 1 and a refusal to copy into a ledger with entries", r.code, r.stderr)
	}
	fromFile := run(nil, "ledger", "list", "--format", "json", "--ledger", file)
	fromDB := run([]string{envLedgerURL + "=" + db}, "ledger", "list", "--format", "json")
	if fromFile.code != 0 || fromDB.code != 0 || fromFile.stdout != fromDB.stdout || !strings.Contains(fromDB.stdout, `"settled"`) {
		t.Errorf("ledger list from the file and from $%s differ or fail (exit %d, %d):\n%s\n%s\n%s", envLedgerURL,
			fromFile.code, fromDB.code, fromFile.stdout, fromDB.stdout, fromDB.stderr)
	}
	for _, out := range outputs {
		if strings.Contains(out, secret) {
			t.Errorf("an output shows the database password:\n%s", out)
		}
	}
}

// TestServePostgres pays through toll serve with its ledger in PostgreSQL (ledger: in
// toll.yaml, ledger_migrate: true applying the schema at start): the paid call is
// recorded there, settled, and the chain verifies.
func TestServePostgres(t *testing.T) {
	bin := tollBinary(t)
	dir := t.TempDir()
	db := pgtest.NewDatabase(t)
	keys := newKeyFiles(t, dir, "postgres pass")
	world, spec := startWorld(t, x402test.Options{}, keys.payer, dir)
	cfg := writeFile(t, dir, "toll.yaml", "ledger: "+db+"\nledger_migrate: true\n")
	args := keys.serveArgs(world, spec, "", "--config", cfg)
	args = removeFlag(args, "--ledger")
	c, _, stderr := serveMCP(t, t.Context(), bin, withoutTollEnv(), args)
	res, _, err := paidCall(t, t.Context(), c, 0)
	if err != nil || res.IsError {
		t.Fatalf("paid call: %v %s\nstderr:\n%s", err, resultText(res), stderr)
	}
	c.Close()
	r := runBinary(t, nil, "ledger", "list", "--format", "json", "--ledger", db)
	if r.code != 0 || strings.Count(r.stdout, `"status": "settled"`) != 1 {
		t.Fatalf("ledger list on the database: exit %d, want one settled call:\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := runBinary(t, nil, "ledger", "verify", "--ledger", db); r.code != 0 {
		t.Errorf("ledger verify on the database: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// removeFlag drops flag and its value from args.
func removeFlag(args []string, flag string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		if args[i] == flag {
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}

// TestServePostgresDown stops the ledger's database under a running toll serve: a paid
// call gets a tool error that names the ledger database, nothing is paid (the payer's
// balance does not move), a free operation is still served, and once the database is
// back the next paid call goes through, with no toll restart.
func TestServePostgresDown(t *testing.T) {
	ctx := t.Context()
	bin := tollBinary(t)
	dir := t.TempDir()
	cluster := pgtest.StartCluster(t)
	keys := newKeyFiles(t, dir, "postgres down pass")
	world, spec := startWorld(t, x402test.Options{}, keys.payer, dir)
	cfg := writeFile(t, dir, "toll.yaml", "ledger: "+cluster.URL("postgres")+"\nledger_migrate: true\n")
	args := removeFlag(keys.serveArgs(world, spec, "", "--config", cfg), "--ledger")
	c, _, stderr := serveMCP(t, ctx, bin, withoutTollEnv(), args)
	if res, _, err := paidCall(t, ctx, c, 0); err != nil || res.IsError {
		t.Fatalf("paid call: %v %s\nstderr:\n%s", err, resultText(res), stderr)
	}
	balance := func() string {
		b, err := world.Chain.BalanceOf(ctx, keys.payer.Hex())
		if err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	before := balance()

	if err := cluster.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	res, _, err := paidCall(t, ctx, c, 0)
	if err != nil || !res.IsError || !strings.Contains(resultText(res), "ledger database is unavailable") {
		t.Fatalf("paid call with the database down: %v, %q; want a tool error naming the ledger database\nstderr:\n%s", err, resultText(res), stderr)
	}
	if got := balance(); got != before {
		t.Errorf("the payer's balance moved from %s to %s while the ledger was down", before, got)
	}
	var free mcp.CallToolRequest
	free.Params.Name = toolFor(t, ctx, c, "GET /health")
	if res, err := c.CallTool(ctx, free); err != nil || res.IsError {
		t.Errorf("free call with the database down: %v %s", err, resultText(res))
	}

	if err := cluster.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if res, _, err := paidCall(t, ctx, c, 0); err != nil || res.IsError {
		t.Fatalf("paid call after the database is back: %v %s\nstderr:\n%s", err, resultText(res), stderr)
	}
}

// TestLedgerPostgresAuditor: an auditor's database role that may only read (SELECT on
// toll's tables and views, as README's PostgreSQL section grants it) verifies, lists,
// exports and reports the ledger with the built binary, with the same last hash as the
// owner's; a write through that role fails with an error that names the permission, and
// changes nothing.
func TestLedgerPostgresAuditor(t *testing.T) {
	bin := tollBinary(t)
	dir := t.TempDir()
	file := demoLedger(t, bin, dir)
	db := pgtest.NewDatabase(t)
	if r := runBinary(t, nil, "ledger", "migrate", "--ledger", db); r.code != 0 {
		t.Fatalf("ledger migrate: exit %d\n%s", r.code, r.stderr)
	}
	cp := runBinary(t, nil, "ledger", "copy", "--from", file, "--to", db)
	hash := regexp.MustCompile(`last hash ([0-9a-f]{64})`).FindStringSubmatch(cp.stdout)
	if cp.code != 0 || hash == nil {
		t.Fatalf("ledger copy: exit %d, %q %q", cp.code, cp.stdout, cp.stderr)
	}
	auditor := readOnlyRole(t, db)

	for _, args := range [][]string{{"verify"}, {"list"}, {"export", "--format", "csv"}, {"export", "--format", "jsonl"}, {"report"}} {
		r := runBinary(t, nil, append(append([]string{"ledger"}, args...), "--ledger", auditor)...)
		if r.code != 0 {
			t.Errorf("ledger %v as the read-only role: exit %d\n%s", args, r.code, r.stderr)
		}
		if args[0] == "verify" && !strings.Contains(r.stdout, hash[1]) {
			t.Errorf("ledger verify as the read-only role: %q, want the last hash %s", r.stdout, hash[1])
		}
	}
	led, err := ledger.OpenURL(t.Context(), auditor, ledger.Options{NoCreate: true})
	if err != nil {
		t.Fatalf("open the ledger as the read-only role: %v", err)
	}
	_, err = led.Reserve(t.Context(), ledger.Intent{CallID: "call_audit", API: "weather", Tool: "weather_get", Network: "eip155:84532",
		Amount: money.USDC(1), Nonce: "0x" + strings.Repeat("1", 64), ValidBefore: time.Now().Add(time.Hour)}, ledger.Caps{})
	led.Close()
	if !errors.Is(err, ledger.ErrPermission) || errors.Is(err, ledger.ErrUnavailable) || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("a reservation as the read-only role: %v; want ErrPermission, naming the permission", err)
	}
	// toll serve on the read-only role stops at its start (it records a checkpoint before
	// it pays), saying why.
	keys := newKeyFiles(t, dir, "auditor pass")
	world, spec := startWorld(t, x402test.Options{}, keys.payer, dir)
	r := runBinary(t, nil, keys.serveArgs(world, spec, auditor)...)
	if r.code != 1 || !strings.Contains(r.stderr, "permission denied") || !strings.Contains(r.stderr, "INSERT, UPDATE and DELETE") {
		t.Errorf("toll serve on the read-only role: exit %d, stderr %q; want 1 and what the role lacks", r.code, r.stderr)
	}
	if r := runBinary(t, nil, "ledger", "verify", "--ledger", db); r.code != 0 || !strings.Contains(r.stdout, hash[1]) {
		t.Errorf("ledger verify as the owner after the refused writes: exit %d, %q", r.code, r.stdout)
	}
}

// readOnlyRole creates a role that may log in and read db's tables and views, as README
// tells an auditor's to be made, and returns db's URL as that role. The role is dropped
// when t ends.
func readOnlyRole(t *testing.T, db string) string {
	t.Helper()
	u := mustParseURL(t, db)
	role := "auditor_" + strings.TrimPrefix(u.Path, "/")
	sql(t, db, "CREATE ROLE "+role+" LOGIN",
		"GRANT CONNECT ON DATABASE "+strings.TrimPrefix(u.Path, "/")+" TO "+role,
		"GRANT USAGE ON SCHEMA public TO "+role,
		"GRANT SELECT ON ALL TABLES IN SCHEMA public TO "+role)
	t.Cleanup(func() { // t.Context() is done by now: sql cannot serve
		c, err := pgx.Connect(context.Background(), db)
		if err != nil {
			t.Errorf("drop role %s: %v", role, err)
			return
		}
		defer c.Close(context.Background())
		for _, q := range []string{"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM " + role, "REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM " + role,
			"REVOKE ALL ON SCHEMA public FROM " + role,
			"REVOKE ALL ON DATABASE " + strings.TrimPrefix(u.Path, "/") + " FROM " + role, "DROP ROLE " + role} {
			if _, err := c.Exec(context.Background(), q); err != nil {
				t.Errorf("%s: %v", q, err)
			}
		}
	})
	u.User = url.User(role)
	return u.String()
}

// TestServePostgresRevoked takes the write grants away from toll serve's database role
// under a running toll serve: a paid call gets a tool error that says the ledger
// database refused the write (not that it is down), nothing is paid, and once the
// grants are back the next paid call goes through, with no toll restart.
func TestServePostgresRevoked(t *testing.T) {
	ctx := t.Context()
	bin := tollBinary(t)
	dir := t.TempDir()
	db := pgtest.NewDatabase(t)
	if r := runBinary(t, nil, "ledger", "migrate", "--ledger", db); r.code != 0 {
		t.Fatalf("ledger migrate: exit %d\n%s", r.code, r.stderr)
	}
	writer := readOnlyRole(t, db)
	role := mustParseURL(t, writer).User.Username()
	const writes = "INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public"
	sql(t, db, "GRANT "+writes+" TO "+role, "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO "+role)

	keys := newKeyFiles(t, dir, "postgres revoked pass")
	world, spec := startWorld(t, x402test.Options{}, keys.payer, dir)
	c, _, stderr := serveMCP(t, ctx, bin, withoutTollEnv(), keys.serveArgs(world, spec, writer))
	if res, _, err := paidCall(t, ctx, c, 0); err != nil || res.IsError {
		t.Fatalf("paid call: %v %s\nstderr:\n%s", err, resultText(res), stderr)
	}
	before, err := world.Chain.BalanceOf(ctx, keys.payer.Hex())
	if err != nil {
		t.Fatal(err)
	}

	sql(t, db, "REVOKE "+writes+" FROM "+role)
	res, _, err := paidCall(t, ctx, c, 0)
	if err != nil || !res.IsError || !strings.Contains(resultText(res), "refused toll's write") {
		t.Fatalf("paid call with the writes revoked: %v, %q; want a tool error saying the database refused the write\nstderr:\n%s", err, resultText(res), stderr)
	}
	if after, err := world.Chain.BalanceOf(ctx, keys.payer.Hex()); err != nil || after.Cmp(before) != 0 {
		t.Errorf("the payer's balance moved from %s to %s (%v) while the ledger refused writes", before, after, err)
	}

	sql(t, db, "GRANT "+writes+" TO "+role)
	if res, _, err := paidCall(t, ctx, c, 0); err != nil || res.IsError {
		t.Fatalf("paid call after the grants are back: %v %s\nstderr:\n%s", err, resultText(res), stderr)
	}
}

// sql runs statements on the database at dbURL as its owner.
func sql(t *testing.T, dbURL string, statements ...string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, q := range statements {
		if _, err := conn.Exec(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func mustParseURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
