package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/tollhq/toll/ledger/pgtest"
)

// envTestStore, set to "postgres", makes the ledger tests open their ledgers in
// PostgreSQL databases instead of bbolt files (openLedger): TestPostgresConformance sets
// it for the tests it runs again there, and
//
//	TOLL_TEST_LEDGER_STORE=postgres go test ./ledger
//
// runs the whole suite there (the tests about the file itself then fail: they read it).
const envTestStore = "TOLL_TEST_LEDGER_STORE"

// openPGLedger is openLedger on PostgreSQL: the "path" is a file holding the URL of the
// test's database, made on the first open, so that tests opening several handles on
// one path get several handles on one database. A database URL (a handle's Path) opens
// that database.
func openPGLedger(t testing.TB, path string, opts Options) *Ledger {
	t.Helper()
	u, err := os.ReadFile(path)
	if IsURL(path) { // another handle's Path()
		u, err = []byte(path), nil
	}
	if errors.Is(err, os.ErrNotExist) {
		u = []byte(pgtest.NewDatabase(t))
		if err = os.MkdirAll(filepath.Dir(path), 0o700); err == nil {
			err = os.WriteFile(path, u, 0o600)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	opts.Migrate = true
	if opts.Timeout == 0 {
		// A few tests write thousands of events in one transaction, a round trip or
		// more each: not what the timeout is about.
		opts.Timeout = 2 * time.Minute
	}
	l, err := OpenURL(context.Background(), string(u), opts)
	if err != nil {
		t.Fatalf("OpenURL(%s): %v", RedactURL(string(u)), err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// openHelperLedger opens the ledger of a helper process (TestCrossProcess): the file at
// path, or the database whose URL it holds.
func openHelperLedger(path string, opts Options) (*Ledger, error) {
	if os.Getenv(envTestStore) != "postgres" {
		return Open(path, opts)
	}
	u, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return OpenURL(context.Background(), string(u), opts)
}

// TestPostgresConformance runs the ledger's tests of its semantics (caps, outcomes,
// refusals, approvals, the chain, signed heads, verify, checkpoints, the readers and
// exports) again on PostgreSQL: one implementation on two stores, held by one suite.
// The tests about the bbolt file itself (damage, flock, read-only files, page checks,
// formats of older files, and those that count its transactions or edit it with bbolt)
// are not here.
func TestPostgresConformance(t *testing.T) {
	if os.Getenv(pgtest.EnvURL) == "" {
		t.Setenv(pgtest.EnvURL, pgtest.StartCluster(t).URL("postgres"))
	}
	t.Setenv(envTestStore, "postgres")
	for _, tc := range []struct {
		name string
		fn   func(*testing.T)
	}{
		{"TwoHandles", TestTwoHandles},
		{"ConcurrentCaps", TestConcurrentCaps},
		{"CrossProcess", TestCrossProcess},
		{"CapsAcrossProcesses", TestCapsAcrossProcesses},
		{"KilledWriter", TestKilledWriter},
		{"PerCallCap", TestPerCallCap},
		{"CumulativeCaps", TestCumulativeCaps},
		{"CapOrderAndZero", TestCapOrderAndZero},
		{"RollingDay", TestRollingDay},
		{"RollingDayRandom", TestRollingDayRandom},
		{"AgentCaps", TestAgentCaps},
		{"AgentCapOrder", TestAgentCapOrder},
		{"AgentRollingDay", TestAgentRollingDay},
		{"ConcurrentAgentCaps", TestConcurrentAgentCaps},
		{"ApprovalQueue", TestApprovalQueue},
		{"ApprovalExpires", TestApprovalExpires},
		{"ApprovalNotQueued", TestApprovalNotQueued},
		{"PaidBefore", TestPaidBefore},
		{"Lifecycle", TestLifecycle},
		{"BadTransitions", TestBadTransitions},
		{"DuplicateCall", TestDuplicateCall},
		{"InvalidInput", TestInvalidInput},
		{"Refuse", TestRefuse},
		{"SignedHeads", TestSignedHeads},
		{"SettleWhenSigningFails", TestSettleWhenSigningFails},
		{"RecordedAgainWithoutTheKey", TestRecordedAgainWithoutTheKey},
		{"ScanSpendsOrder", TestScanSpendsOrder},
		{"Filters", TestFilters},
		{"RecentAcrossBatches", TestRecentAcrossBatches},
		{"VerifyWhileWriting", TestVerifyWhileWriting},
		{"VerifyJSONL", TestVerifyJSONL},
		{"Recent", TestRecent},
		{"WouldExceed", TestWouldExceed},
		{"Summarize", TestSummarize},
		{"SummarizeHead", TestSummarizeHead},
		{"SummarizeRefuses", TestSummarizeRefuses},
		{"ExportCSV", TestExportCSV},
		{"ExportJSONL", TestExportJSONL},
		{"RecordHTTPStatus", TestRecordHTTPStatus},
		{"CheckpointRandom", TestCheckpointRandom},
		{"GroupCommitOutcomes", TestGroupCommitOutcomes},
		{"VerifyJSONLForgetsFinalCalls", TestVerifyJSONLForgetsFinalCalls},
		{"VerifyFilePartial", TestVerifyFilePartial},
	} {
		t.Run(tc.name, tc.fn)
	}
}

// BenchmarkReservePostgres is BenchmarkReserve on PostgreSQL: one reserve+settle cycle,
// two committed transactions, with 1, 8 and 64 concurrent callers on one handle, and 64
// callers spread over 4 handles (separate connection pools, as 4 processes would have);
// and the same at SERIALIZABLE with retries instead of the head lock (pgstore.go says why
// the ledger does not run so).
// The database is TOLL_TEST_POSTGRES's server, or a cluster started for the benchmark.
func BenchmarkReservePostgres(b *testing.B) {
	if os.Getenv(pgtest.EnvURL) == "" {
		b.Setenv(pgtest.EnvURL, pgtest.StartCluster(b).URL("postgres"))
	}
	b.Setenv(envTestStore, "postgres")
	for _, bc := range []struct {
		name             string
		callers, handles int
		serializable     bool // SERIALIZABLE with retries instead of the head lock
	}{
		{"callers-1", 1, 1, false},
		{"callers-8", 8, 1, false},
		{"callers-64", 64, 1, false},
		{"callers-64-handles-4", 64, 4, false},
		{"serializable/callers-1", 1, 1, true},
		{"serializable/callers-64-handles-4", 64, 4, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "ledger.url")
			var hs []*Ledger
			for range bc.handles {
				l := openLedger(b, path, Options{Timeout: time.Minute})
				l.st.(*pgStore).serializable = bc.serializable
				hs = append(hs, l)
			}
			var n, g atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(max(1, bc.callers/runtime.GOMAXPROCS(0)))
			if bc.callers == 1 {
				b.SetParallelism(1)
			}
			b.RunParallel(func(pb *testing.PB) {
				l := hs[int(g.Add(1))%len(hs)]
				for pb.Next() {
					cycle(b, l, fmt.Sprintf("call-%d", n.Add(1)))
				}
			})
			reportCycles(b)
		})
	}
}

// stopSigner stops the database server when it is asked to sign a head: the settlement
// whose transaction asks is cut mid-way, holding the chain head's lock.
type stopSigner struct {
	walletSigner
	stop func()
}

func (s stopSigner) SignHead(text []byte) ([]byte, error) {
	s.stop()
	return s.walletSigner.SignHead(text)
}

// TestPostgresStopped stops the database in the middle of a write transaction: the write
// fails with an error naming the database, nothing of it is committed, a reservation
// meanwhile fails (so its caller signs nothing), and once the server is back the same
// handle works again and the chain verifies.
func TestPostgresStopped(t *testing.T) {
	ctx := t.Context()
	c := pgtest.StartCluster(t)
	var armed atomic.Bool
	signer := stopSigner{walletSigner{newWallet(t)}, func() {
		if armed.CompareAndSwap(true, false) {
			if err := c.Stop(ctx); err != nil {
				t.Errorf("stop the server: %v", err)
			}
		}
	}}
	l, err := OpenURL(ctx, c.URL("postgres"), Options{Migrate: true, Signer: signer, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	mustReserve(t, l, intent("a", 10), Caps{})

	armed.Store(true)
	if err := l.Settle(ctx, "a", "0xa"); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "postgres://") {
		t.Fatalf("Settle while the server stops: err = %v, want ErrUnavailable naming the database", err)
	}
	_, err = l.Reserve(ctx, intent("b", 10), Caps{})
	t.Logf("Reserve with the server down: %v", err)
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrCapExceeded) {
		t.Fatalf("Reserve with the server down: err = %v, want ErrUnavailable", err)
	}

	if err := c.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	sp, err := l.Spend(ctx, "a")
	if err != nil || sp.Status != StatusReserved {
		t.Fatalf("call a after the restart: %v, status %q; want reserved (the settlement was cut)", err, sp.Status)
	}
	if _, err := l.Spend(ctx, "b"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("call b after the restart: err = %v, want ErrNotFound (its reservation failed)", err)
	}
	if err := l.Settle(ctx, "a", "0xa"); err != nil {
		t.Fatalf("Settle after the restart: %v", err)
	}
	verify(t, l)
}

// TestPostgresSchema checks the schema's versions (a database without the schema is
// refused until migrated, one newer than toll is refused) and that the auditors' views
// say what the ledger says.
func TestPostgresSchema(t *testing.T) {
	ctx := t.Context()
	u := pgtest.NewDatabase(t)
	if _, err := OpenURL(ctx, u, Options{}); !errors.Is(err, ErrSchema) || !strings.Contains(err.Error(), "toll ledger migrate") {
		t.Fatalf("OpenURL on an empty database: err = %v, want ErrSchema saying to run toll ledger migrate", err)
	}
	for _, want := range [][2]int{{0, pgSchemaCurrent}, {pgSchemaCurrent, pgSchemaCurrent}} {
		from, to, err := Migrate(ctx, u)
		if err != nil || from != want[0] || to != want[1] {
			t.Fatalf("Migrate = %d, %d, %v; want %d, %d", from, to, err, want[0], want[1])
		}
	}
	if _, err := OpenURL(ctx, u, Options{NoCreate: true}); !errors.Is(err, ErrNoLedger) {
		t.Fatalf("OpenURL with NoCreate on a migrated database: err = %v, want ErrNoLedger", err)
	}
	l, err := OpenURL(ctx, u, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	in := intent("api2", 300)
	in.API, in.Agent = "maps", "alice"
	for _, in := range []Intent{intent("paid", 100), intent("released", 200), intent("open", 50), in} {
		mustReserve(t, l, in, Caps{})
	}
	if err := l.Settle(ctx, "paid", "0xpaid"); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(ctx, "released", "signing failed"); err != nil {
		t.Fatal(err)
	}
	checkPaymentsView(t, l, u)

	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, c := range []struct {
		query string
		want  string
	}{
		{`SELECT string_agg(api || '=' || counted || '/' || settled, ' ' ORDER BY api) FROM toll_totals_by_api`, "maps=0.0003/0 weather=0.00015/0.0001"},
		{`SELECT string_agg(agent || '=' || counted, ' ' ORDER BY agent) FROM toll_totals_by_agent`, "=0.00015 alice=0.0003"},
		{`SELECT string_agg(day || '=' || calls || ':' || counted, ' ') FROM toll_totals_by_day`, time.Now().UTC().Format(time.DateOnly) + "=4:0.00045"},
	} {
		var got string
		if err := conn.QueryRow(ctx, c.query).Scan(&got); err != nil || got != c.want {
			t.Errorf("%s\n = %q, %v; want %q", c.query, got, err, c.want)
		}
	}

	if _, err := conn.Exec(ctx, `INSERT INTO toll_schema (version) VALUES (99)`); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenURL(ctx, u, Options{Migrate: true}); !errors.Is(err, ErrSchema) || !strings.Contains(err.Error(), "newer toll") {
		t.Errorf("OpenURL on a newer schema: err = %v, want ErrSchema saying to use a newer toll", err)
	}
	if _, _, err := Migrate(ctx, u); !errors.Is(err, ErrSchema) {
		t.Errorf("Migrate on a newer schema: err = %v, want ErrSchema", err)
	}
}

// checkPaymentsView checks that toll_payments has one row per call of l, with its status,
// amount and transaction.
func checkPaymentsView(t *testing.T, l *Ledger, u string) {
	t.Helper()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT call_id, status, amount::text, COALESCE(tx_hash, ''), COALESCE(agent, '') FROM toll_payments ORDER BY reserved_seq`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([5]string, error) {
		var v [5]string
		err := r.Scan(&v[0], &v[1], &v[2], &v[3], &v[4])
		return v, err
	})
	if err != nil {
		t.Fatal(err)
	}
	var want [][5]string
	err = l.ScanSpends(ctx, Filter{}, func(s *Spend) error {
		want = append(want, [5]string{s.CallID, string(s.Status), s.Amount.String(), s.TxHash, s.Agent})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("toll_payments (-ledger +view):\n%s", diff)
	}
}

// TestCopyToPostgres moves a bbolt ledger into PostgreSQL: the same chain (head and
// every event), the same calls and totals, and a copy into a ledger that holds events is
// refused.
func TestCopyToPostgres(t *testing.T) {
	ctx := t.Context()
	from, clk := newLedger(t)
	fill(t, from, 50, func(i int) bool { return i%7 == 0 })
	in := intent("approved", 40)
	in.Agent = "alice"
	if _, err := from.AskApproval(ctx, approval("queued", 600000, true)); err != nil {
		t.Fatal(err)
	}
	mustReserve(t, from, in, Caps{})
	if err := from.Release(ctx, "approved", "signing failed"); err != nil {
		t.Fatal(err)
	}
	to, err := OpenURL(ctx, pgtest.NewDatabase(t), Options{Migrate: true, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer to.Close()
	head, err := Copy(ctx, to, from)
	if err != nil {
		t.Fatal(err)
	}
	want, err := from.VerifyHead(ctx)
	if err != nil || head != want {
		t.Fatalf("Copy's head %v, the source's %v (%v)", head, want, err)
	}
	var a, b bytes.Buffer
	if err := from.ExportJSONL(ctx, &a, Filter{}); err != nil {
		t.Fatal(err)
	}
	if err := to.ExportJSONL(ctx, &b, Filter{}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a.String(), b.String()); diff != "" {
		t.Errorf("export of the copy (-source +copy):\n%s", diff)
	}
	if diff := cmp.Diff(totals(t, from, "s1", "api1"), totals(t, to, "s1", "api1")); diff != "" {
		t.Errorf("totals of the copy (-source +copy):\n%s", diff)
	}
	qa, _ := from.Approvals(ctx)
	qb, err := to.Approvals(ctx)
	if err != nil || len(qb) != 1 || !cmp.Equal(qa, qb, amountCmp) {
		t.Errorf("approval queue of the copy: %v (%v), want %v", qb, err, qa)
	}
	mustReserve(t, to, intent("after", 10), Caps{}) // the copy is a ledger that takes writes
	if _, err := Copy(ctx, to, from); !errors.Is(err, ErrInvalid) {
		t.Errorf("Copy into a ledger with events: err = %v, want ErrInvalid", err)
	}
}
