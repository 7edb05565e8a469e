// Package ledger is toll's spending ledger: a bbolt file (Open) or a PostgreSQL
// database (OpenURL) that records every payment toll makes, enforces the spending
// caps, and can prove that its history was not edited.
//
// # Life of a spend
//
// Before a payment is signed, Reserve records the intent (call id, amount,
// payTo, nonce, validBefore...) and checks it against the caps, in one bbolt
// write transaction that is fsync'd before Reserve returns. The outcome is
// then recorded with Settle (paid), MarkUnknown (sent, outcome unknown),
// Release (the signature never left toll) or Void (proven never settled).
//
//	reserved ──► settled            (final)
//	reserved ──► unknown ──► settled (final)
//	reserved ──► released           (final)
//	reserved ──► voided             (final)
//	unknown  ──► voided             (final)
//
// Any other change is ErrBadTransition. Spends left reserved or unknown (a crash, a
// lost answer) are resolved against the chain by package ledger/reconcile.
//
// # Group commit
//
// The writes of one *Ledger that wait at the same time share one write transaction:
// one take of the lock, one fsync'd commit (group.go). They run in the order
// they queued, each seeing what the ones before it wrote, so a reservation's caps are
// checked against every reservation before it in the group exactly as if each had
// committed alone; none returns before the commit that holds it is durable. A write that
// fails (a duplicate call id, a bad transition) is rolled out of the group alone; a cap
// refusal is not a failure (it records its refused event). Eight concurrent calls thus
// pay for about two commits instead of sixteen.
//
// # Outcomes do not wait for their own fsync
//
// The reservation is the record that protects the money: it is durable before anything
// is signed, and it counts against every cap until an outcome says otherwise. The
// outcome (settled, unknown, released) only refines it, and every outcome can be found
// again without it: a reserved call is resolved by reconcile from the chain, which holds
// the truth about the one thing that matters (was this authorization's nonce used, in
// which transaction), exactly as for a call whose process died before it heard the
// answer. So the paid path records its outcome with RecordLater: queued for the next
// write of the handle (the next reservation's commit, under load) and committed alone
// after a few milliseconds otherwise; reads through the handle, and Close, commit it
// first. What a crash can lose is bounded and safe:
//
//   - lost settled: the call stays reserved and counts as spent (the same amount), and
//     reconcile settles it with the transaction the chain names;
//   - lost unknown: reserved and unknown count alike and reconcile treats them alike;
//   - lost released: the call counts until reconcile voids it past validBefore (the
//     authorization never left toll, so the chain never uses it): caps are stricter
//     for a while, never looser.
//
// No state is reachable that a crash before the outcome could not already produce, so
// nothing new needs recovering; the crash tests of cmd/toll kill toll right after the
// outcome is handed over and check that reconcile recovers it and that it counted as
// spent meanwhile. An unsynced bbolt commit (bbolt's NoSync) was not taken instead: a
// power loss could leave its meta page on disk without its data pages, a damaged file
// rather than a lost outcome. Settle, MarkUnknown, Release and Void still wait for
// their commit, for callers that need the record durable (reconcile, tests, tools).
//
// # Invariants
//
//   - Amounts are money.Amount values, recorded in atomic units of Decimals (USDC's 6):
//     exact, never floats, 0 < amount < 2^256; an amount that cannot be written exactly
//     at 6 decimals is refused.
//   - The intent is durable before the signature exists: Reserve returns only
//     after its transaction committed (fsync'd), alone or in a group commit.
//   - Caps are checked against the current totals in the same write
//     transaction that records the reservation, so no two reservations, from
//     any goroutine, handle or process, can both pass a cap they jointly exceed.
//   - Reserved, unknown and settled amounts count against every cap (per call,
//     per session, per API, rolling 24 h by reservation time, total);
//     released and voided amounts do not.
//   - A call id is reserved at most once (ErrDuplicateCall): toll never pays
//     twice for one call.
//   - A refusal (over a cap in Reserve, or a policy refusal recorded with
//     Refuse) is an event too, and changes no total.
//   - Events are append-only. Each carries sha256(previous hash ‖ canonical
//     encoding of the event), so an edited, inserted or deleted event breaks
//     the chain; Verify also checks that the derived state (statuses,
//     counters, the rolling-day index, the open call index) is what the chain
//     says. A call's record holds only what its outcomes said and refers to its
//     reserved event for the intent, so the intent is stored once, in the chain
//     (callrecord.go).
//   - The ledger stores no key and no payment signature (an authorization is a bearer
//     instrument: whoever holds it can submit the transfer). The only signatures it
//     holds are signed heads.
//
// # Sharing the file
//
// bbolt locks its file for as long as it is open, against other processes
// and against other opens in the same process. A *Ledger therefore holds no
// lock between operations: every operation takes the lock (exclusive for
// writes, shared for reads), runs one transaction and releases it. Several
// toll processes (two MCP hosts) can share one ledger and the caps hold across
// them. An operation that cannot get the lock within Options.Timeout fails with
// ErrBusy. The lock is a blocking flock bounded by the deadline (no polling), so
// waiters are served in turn.
//
// The file itself stays open between operations (keep.go): the next operation takes
// the lock again on the same open file and uses bbolt's state in memory only when
// the file is still the one at the path and no other handle or process committed a
// transaction since this handle's last (the transaction id in bbolt's meta pages);
// otherwise it opens the file afresh. A ledger written by one process is thus opened
// once, not at every operation (an open, a mapping of the file, a read of bbolt's
// freelist, a close: the price grows with the file), and a shared one costs an open
// only after another's commit. Where bbolt's lock is not a flock (Windows), the file
// is opened and closed at every operation instead.
//
// Readers (list, export, verify, report, Recent) stream: they fix the head at
// their start and read the events up to it in read transactions of a few
// thousand events, releasing the lock between them, so a writer waits at most
// one short transaction, and their memory does not grow with the ledger. Rows
// are rebuilt from the chained events, never from state the chain does not
// cover (stream.go). An export is checked on its own by VerifyJSONL (whole) and
// VerifyFile (whole or filtered: it says which events a filtered one lacks).
//
// # Proof without trusting the file
//
// The chain alone is unkeyed: whoever can write the file can rewrite an event and every
// hash after it. With Options.Signer, every settlement is followed in its transaction by
// a signed head: the chain's position, hash and counted total signed with the payer's key
// as an EIP-191 message, so that VerifyReport, given only the payer's address, proves no
// event up to the last signed head was changed (signed.go).
//
// # Trusting the file
//
// Verify proves the whole history. A process about to pay from the ledger runs
// Checkpoint instead (Check, if it may not write): it verifies from the last
// checkpoint on (the events after it, the calls they touch, every counter, the
// rolling-day sum) and records a new one, so that a start costs what was added
// since the last one, not the whole file.
//
// A file that cannot be read whole (emptied, cut short, bytes changed where bbolt
// keeps its structure) is a *DamageError (ErrDamaged), never a crash: it is checked
// with plain reads before bbolt maps it (its meta pages and size on every operation,
// every page when it is opened), a fault or a panic while bbolt reads it is
// recovered, and nothing is written to it. Only a path with nothing at it becomes a
// new ledger; a new ledger is built beside it and linked into place whole.
//
// # Two stores, one ledger
//
// The ledger's logic (caps, the chain, outcomes, approvals, signed heads, verify, the
// readers) is written once, against a small interface of ordered key-value
// transactions (kv.go: buckets with Get, Put, Delete and a cursor), and two stores run
// it: a bbolt file (the default: embedded, nothing to set up) and a PostgreSQL database,
// for a team whose agents run on many machines and must share one budget and one audit
// trail. The semantics are thus the same on both by construction, and one suite holds
// them: TestPostgresConformance runs the ledger's tests of its semantics again on
// PostgreSQL. A second implementation of the logic in SQL would have been faster to
// query but would have to be kept equal to the first by hand, in the one place where a
// difference costs money.
//
// On PostgreSQL (pgstore.go) the derived state is the rows of toll_kv, the same keys
// and values as the bbolt buckets, and the chain is toll_events, one row per event: the
// exact bytes its hash covers, and its fields in typed columns, so that auditors get SQL
// (and read-only views: toll_payments, toll_totals_by_day, _by_api, _by_agent,
// toll_refusals). Every write transaction first locks the chain head's row (SELECT ...
// FOR UPDATE), then runs the same code as on bbolt at READ COMMITTED: after the lock,
// each statement sees every earlier commit, so the caps are checked on committed state in
// the transaction that reserves, across any number of processes and machines. Not
// SERIALIZABLE: every write appends to the one chain, so writers serialize on its head
// anyway, and SERIALIZABLE would turn that wait into serialization failures to retry,
// for no gain. Readers run in REPEATABLE READ READ ONLY snapshots and never block a
// writer. A database that fails or goes away mid-transaction fails the operation with an
// error naming it, and nothing of the transaction is committed: Reserve fails, so
// nothing is signed. The schema is versioned (pgschema/*.sql, Migrate, toll_schema): a
// database without the current schema is refused unless Options.Migrate, and one newer
// than this toll is refused.
//
// # Example
//
//	l, err := ledger.Open(path, ledger.Options{})
//	...
//	perCall, perSession := money.USDC(50_000), money.USDC(1_000_000) // 0.05 and 1 USDC
//	caps := ledger.Caps{PerCall: &perCall, PerSession: &perSession}
//	sp, err := l.Reserve(ctx, intent, caps)
//	if errors.Is(err, ledger.ErrCapExceeded) {
//		// refuse the call: nothing is signed
//	}
//	// sign and send; then
//	err = l.Settle(ctx, intent.CallID, txHash)
package ledger
