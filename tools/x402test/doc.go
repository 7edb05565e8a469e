// Package x402test is a local x402 world in the spirit of net/http/httptest: a simulated
// EVM chain running an EIP-3009 USDC token, a facilitator that verifies and settles
// payments on it, and a paid HTTP API that answers 402 until paid. Toll's tests use it,
// and so does `toll demo`. There is no network and no money: the chain is go-ethereum's
// ethclient/simulated in this process, and its keys are random.
//
// The parts, each usable alone:
//
//   - Chain: the simulated chain (chain id 84532 by default, so x402 v1 "base-sepolia"
//     and v2 "eip155:84532" both name it) with the token deployed. The token,
//     token/Token.sol, is an ERC-20 with EIP-3009 transferWithAuthorization,
//     receiveWithAuthorization and cancelAuthorization, with FiatTokenV2's semantics and
//     revert strings; its compiled bytecode is embedded (token/build.sh rebuilds it).
//   - Facilitator: an http.Handler with POST /verify, POST /settle and GET /supported,
//     x402 versions 1 and 2, scheme exact; and its Bazaar, GET /discovery/resources and
//     GET /discovery/search, listing the resources added to it (bazaar.go).
//   - PaidAPI: an http.Handler serving Routes behind x402 payments, v1 or v2 per route,
//     plus GET /openapi.yaml.
//   - World: all three started together on 127.0.0.1, the API's paid routes listed in
//     the facilitator's Bazaar with their bazaar extension (Route.Bazaar).
//
// Block time: the simulated chain mines a block only when asked, and each block must be
// at least a second after its parent, so settling faster than one payment a second runs
// block time ahead of the wall clock. Every settlement commits its own block; a commit
// that would run more than ChainOptions.MaxClockSkew (30 s by default) ahead waits for
// the wall clock. Bursts are fast, and authorizations valid for the usual minutes do not
// expire early. The facilitator checks time windows against the time the settlement block
// will carry. Chain.AdvanceTime moves block time ahead on purpose, to make authorizations
// expire in a test.
//
// JSON-RPC: with Options.RPCAddr (or ChainOptions.RPCAddr) the chain also serves JSON-RPC
// over HTTP (eth, net, web3) at World.RPCURL, for other processes such as `toll ledger
// reconcile`; transactions they send are mined by a loop that commits when any is pending.
//
// Example:
//
//	w, err := x402test.Start(ctx, x402test.Options{})
//	if err != nil {
//		return err
//	}
//	defer w.Close()
//	// Give the payer 1 USDC: 1000000 atomic units of 6 decimals.
//	if err := w.Fund(ctx, payer, money.USDC(1_000_000)); err != nil {
//		return err
//	}
//	resp, err := http.Get(w.APIURL + "/weather/Oslo") // 402 with an x402 v1 body
//	// … sign the requirement, resend with X-PAYMENT …
//	fmt.Println(w.Settlements()[0].TxHash, w.HandlerRuns("GET /weather/{city}"))
//
// Nothing in the package imports "testing"; it logs through log/slog and is silent with
// a nil logger.
package x402test
