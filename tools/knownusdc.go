package tools

// KnownUSDC returns the address of the USDC contract toll knows on the chain with the
// given id (knownUSDC), and whether it knows one.
func KnownUSDC(chainID int64) (address string, ok bool) {
	t, ok := knownUSDC[chainID]
	return t.address, ok
}
