package server

import "errors"

// ErrTokensRequired is returned by HTTPOptions.Check for an address beyond this machine
// (anything but loopback) when no bearer token is configured: toll does not serve its
// paying endpoint to the network without authentication.
var ErrTokensRequired = errors.New("serving MCP over HTTP beyond this machine requires bearer tokens")

// ErrBadToken is returned by ParseTokens for text that holds no token or a token that is
// too short or has characters a bearer token cannot have. Its message never quotes the
// token.
var ErrBadToken = errors.New("bad bearer token")
