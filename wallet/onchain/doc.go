// Package onchain reads what toll needs to know from an EVM chain over JSON-RPC: whether
// an EIP-3009 authorization's nonce is used, which transaction used it, a token balance,
// and the chain's own time. toll reconciles the spends whose outcome it does not know
// against these answers (see ledger/reconcile): a used nonce means the payment settled; an
// unused nonce in a block whose time is past the authorization's validBefore means it can
// never settle.
//
// It reads and never writes: it sends no transaction and holds no key.
//
// # Endpoints
//
// Dial takes an http(s), ws(s) or IPC endpoint. Hosted RPC URLs often carry an API key in
// the path or query, so errors and URL name the endpoint by scheme and host only.
//
// # Consistent reads
//
// A void decision needs the nonce state and the block time from the same block: an
// unused nonce at block N whose time is past validBefore can never be used in N or after
// it on that chain. Head returns the latest block's number, hash and time, and
// AuthorizationStateAt reads the nonce state at that block's hash, so the two answers
// agree even behind a load balancer whose nodes disagree on the head.
//
// # Log search
//
// FindAuthorization looks for the token's AuthorizationUsed(authorizer, nonce) event,
// newest blocks first, in windows of LogWindow blocks (a range most providers accept;
// it halves the window when a provider refuses a range), at most SearchBlocks blocks
// back from the head: about 4.6 days of Base (2 s blocks) or 28 days of Ethereum (12 s).
// An authorization older than that is reported as not found.
//
// # Example
//
//	c, err := onchain.Dial(ctx, "http://127.0.0.1:8545")
//	if err != nil { ... }
//	defer c.Close()
//	used, err := c.AuthorizationState(ctx, token, payer, nonce)
//	if used {
//		tx, found, err := c.FindAuthorization(ctx, token, payer, nonce)
//		...
//	}
package onchain
