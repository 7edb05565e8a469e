package x402test

import (
	_ "embed"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum/accounts/abi"

	"github.com/tollhq/toll/tools/money"
)

// The token's EIP-712 domain and ERC-20 metadata, as the requirements' extra carries them.
const (
	TokenName     = "USDC" // EIP-712 domain name, as on Base Sepolia
	TokenVersion  = "2"    // EIP-712 domain version
	TokenDecimals = money.USDCDecimals
)

// The compiled token (token/Token.sol, built by token/build.sh with solc 0.8.37).
var (
	//go:embed token/Token.bin
	tokenBin string
	//go:embed token/Token.runtime.bin
	tokenRuntimeBin string
	//go:embed token/Token.abi.json
	tokenABIJSON string
)

// tokenContract is the parsed ABI and creation code of the token.
type tokenContract struct {
	abi     abi.ABI
	code    []byte // creation code, without constructor arguments
	runtime []byte // the code a deployment leaves at the token address
}

func loadToken() (tokenContract, error) {
	parsed, err := abi.JSON(strings.NewReader(tokenABIJSON))
	if err != nil {
		return tokenContract{}, fmt.Errorf("token abi: %w", err)
	}
	code, err := hex.DecodeString(strings.TrimSpace(tokenBin))
	if err != nil {
		return tokenContract{}, fmt.Errorf("token bytecode: %w", err)
	}
	runtime, err := hex.DecodeString(strings.TrimSpace(tokenRuntimeBin))
	if err != nil {
		return tokenContract{}, fmt.Errorf("token runtime bytecode: %w", err)
	}
	return tokenContract{abi: parsed, code: code, runtime: runtime}, nil
}

// deployData is the creation code with the ABI-encoded constructor arguments appended.
func (t tokenContract) deployData(name, version string) ([]byte, error) {
	args, err := t.abi.Pack("", name, version)
	if err != nil {
		return nil, fmt.Errorf("token constructor: %w", err)
	}
	return append(append([]byte(nil), t.code...), args...), nil
}

// tokenUnits returns amount in atomic units of the token. It fails when amount has more
// digits after the point than TokenDecimals carry, or is more than a uint256 holds.
func tokenUnits(amount money.Amount) (*big.Int, error) {
	v, err := amount.In(TokenDecimals)
	if err != nil {
		return nil, fmt.Errorf("amount %s is not a whole number of the token's atomic units: %w", amount, err)
	}
	if v.Sign() > 0 && !v.FitsUint256() {
		return nil, fmt.Errorf("amount %s is more than a uint256 holds", amount)
	}
	return v.Atomic(), nil
}
