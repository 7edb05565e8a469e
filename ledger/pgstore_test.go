package ledger

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

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
// one path get several handles on one database.
func openPGLedger(t testing.TB, path string, opts Options) *Ledger {
	t.Helper()
	u, err := os.ReadFile(path)
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
