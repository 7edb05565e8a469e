package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/tollhq/toll/server"
)

// maxTokenFileBytes bounds a --http-token-file.
const maxTokenFileBytes = 64 << 10

// httpAuth is how clients of toll serve --http authenticate: bearer tokens from a file
// (--http-token-file, http.token_file in toll.yaml) and from an environment variable
// (--http-token-env, http.token_env); a request may send any of them. Listening beyond
// loopback needs at least one.
type httpAuth struct {
	tokenFile string
	tokenEnv  varName
}

// httpConfig is the http: section of toll.yaml.
type httpConfig struct {
	TokenFile string   `yaml:"token_file"`
	TokenEnv  *varName `yaml:"token_env"`
}

func (h *httpAuth) register(fs *pflag.FlagSet) {
	fs.StringVar(&h.tokenFile, "http-token-file", "", "with --http: file of bearer tokens, one a line; every request must send one (Authorization: Bearer TOKEN). Needed to listen beyond 127.0.0.1")
	fs.Var(&h.tokenEnv, "http-token-env", "with --http: the name of an environment variable holding a bearer token (not the token itself)")
}

// applyConfig fills the settings whose flag was not given from toll.yaml.
func (h *httpAuth) applyConfig(fs *pflag.FlagSet, c *fileConfig) {
	if !fs.Changed("http-token-file") && c.HTTP.TokenFile != "" {
		h.tokenFile = c.HTTP.TokenFile
	}
	fromFile(fs, "http-token-env", &h.tokenEnv, c.HTTP.TokenEnv)
}

// options reads the tokens and checks that addr (--http) may serve with them. A token
// never appears in an error or the log.
//
// agents are the agents' tokens (toll.yaml agents:): with them, the plain tokens, which
// name no agent, are refused, as every payment must count against an agent's caps.
func (h *httpAuth) options(fs *pflag.FlagSet, addr string, getenv env, logger *slog.Logger, agents []server.AgentToken) (server.HTTPOptions, error) {
	opts := server.HTTPOptions{Agents: agents}
	if addr == "" {
		if fs.Changed("http-token-file") || fs.Changed("http-token-env") {
			return opts, usagef("--http-token-file and --http-token-env go with --http ADDRESS: toll serve on stdio takes no token")
		}
		return opts, nil
	}
	if h.tokenFile != "" {
		tokens, err := readTokenFile(h.tokenFile, logger)
		if err != nil {
			return opts, err
		}
		opts.Tokens = append(opts.Tokens, tokens...)
	}
	if h.tokenEnv != "" {
		name, err := h.tokenEnv.name()
		if err != nil {
			return opts, usagef("--http-token-env: %v", err)
		}
		v := getenv(name)
		if strings.TrimSpace(v) == "" {
			return opts, usagef("--http-token-env names a variable that is not set or is empty; export the token in it (such as the output of openssl rand -hex 32)")
		}
		tokens, err := server.ParseTokens(v)
		if err != nil {
			return opts, usagef("--http-token-env: the variable's value: %v", err)
		}
		opts.Tokens = append(opts.Tokens, tokens...)
	}
	if len(agents) > 0 && len(opts.Tokens) > 0 {
		return opts, usagef("--http-token-file and --http-token-env (http.token_file and http.token_env) give tokens of no agent, " +
			"but toll.yaml names agents: give each client the token of its agent (agents: token_file or token_env) and remove the plain tokens")
	}
	if err := opts.Check(addr); err != nil {
		return opts, httpAddrError(addr, err)
	}
	return opts, nil
}

// httpAddrError says what to set when addr may not serve.
func httpAddrError(addr string, err error) error {
	if errors.Is(err, server.ErrTokensRequired) {
		return usagef("--http %s: %v; toll does not serve payments to the network without authentication: "+
			"set --http-token-file FILE or --http-token-env NAME (http.token_file or http.token_env in toll.yaml), or listen on 127.0.0.1", addr, err)
	}
	return usagef("--http: %v", err)
}

// readTokenFile reads the bearer tokens of path, warning when other users may read it.
func readTokenFile(path string, logger *slog.Logger) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--http-token-file: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().Perm()&0o077 != 0 {
		logger.Warn("the bearer token file can be read by other users of this machine; make it private with chmod 600", "file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxTokenFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("--http-token-file %s: %w", path, err)
	}
	if len(data) > maxTokenFileBytes {
		return nil, usagef("--http-token-file %s: larger than %d bytes; it holds bearer tokens, one a line", path, maxTokenFileBytes)
	}
	tokens, err := server.ParseTokens(string(data))
	if err != nil {
		return nil, usagef("--http-token-file %s: %v", path, err)
	}
	return tokens, nil
}

// varName is the name of an environment variable, as --http-token-env and
// http.token_env give it. It is checked when used, not when parsed: a flag parser's
// error would echo the value, which may be the secret itself, pasted in place of its
// variable's name.
type varName string

func (v *varName) UnmarshalText(b []byte) error {
	*v = varName(strings.TrimSpace(string(b)))
	return nil
}

func (v *varName) Set(s string) error { return v.UnmarshalText([]byte(s)) }
func (v *varName) Type() string       { return "NAME" }
func (v *varName) String() string     { return "" } // never shown: it may be a secret given by mistake

// name returns the variable's name, or an error that does not quote it when it is not
// one (letters, digits and _, not starting with a digit).
func (v varName) name() (string, error) {
	s := string(v)
	ok := s != "" && (s[0] < '0' || s[0] > '9')
	for _, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			ok = false
		}
	}
	if !ok {
		return "", errors.New("takes the name of an environment variable (letters, digits and _), not a token; export the token in a variable and give its name")
	}
	return s, nil
}
