package main

import (
	"fmt"
	"slices"

	"github.com/tollhq/toll/tools/x402"
)

// endpoints are the rpc: endpoints of toll.yaml, in the order of their networks' names,
// each checked as --rpc checks its values. Errors never show a URL's path or query (it
// may hold an API key).
func (c *fileConfig) endpoints() ([]endpoint, error) {
	var (
		eps  []endpoint
		seen = map[string]string{}
	)
	networks := make([]string, 0, len(c.RPC))
	for n := range c.RPC {
		networks = append(networks, n)
	}
	slices.Sort(networks)
	for _, network := range networks {
		url := c.RPC[network]
		id, err := x402.ChainID(network)
		if err != nil {
			return nil, fmt.Errorf("rpc: unknown network %s; want a CAIP-2 id such as eip155:8453 or a v1 name such as base", shownRPC(network))
		}
		if !dialable(url) {
			// The value is not shown: what is not a URL may still hold an API key.
			return nil, fmt.Errorf("rpc.%s: not a JSON-RPC endpoint; want an http, https, ws or wss URL (e.g. https://mainnet.base.org) or the path of an IPC socket",
				network)
		}
		if other, ok := seen[id.String()]; ok {
			return nil, fmt.Errorf("rpc: %s and %s are the same chain (eip155:%s); keep one", other, network, id)
		}
		seen[id.String()] = network
		eps = append(eps, endpoint{chainID: id.String(), url: url})
	}
	return eps, nil
}

// chainEndpoints are the JSON-RPC endpoints a command uses: those of --rpc NETWORK=URL and,
// for the chains the flag does not name, those of rpc: in toll.yaml (cfg may be nil).
func chainEndpoints(cfg *fileConfig, rpcs []string) ([]endpoint, error) {
	eps, err := parseEndpoints(rpcs)
	if err != nil || cfg == nil {
		return eps, err
	}
	fileEPs, err := cfg.endpoints()
	if err != nil {
		return nil, err
	}
	given := make(map[string]bool, len(eps))
	for _, e := range eps {
		given[e.chainID] = true
	}
	for _, e := range fileEPs {
		if !given[e.chainID] {
			eps = append(eps, e)
		}
	}
	return eps, nil
}
