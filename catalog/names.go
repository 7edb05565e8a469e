package catalog

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// maxToolName is the longest tool name: MCP hosts and model APIs cap tool
// names (commonly at 64), and a host may prefix its own server name.
const maxToolName = 48

// The names of toll's own tools, which the server lists beside the
// catalog's: BudgetTool, HistoryTool and QuoteTool always, the other three
// when it serves the catalog lazily (through search, describe and call). No
// operation may take one of them: the server refuses a catalog in which one
// does, and the catalog warns about it (see BuiltinTool).
const (
	BudgetTool   = "toll_budget"
	HistoryTool  = "toll_history"
	QuoteTool    = "toll_quote"
	SearchTool   = "toll_search"
	DescribeTool = "toll_describe"
	CallTool     = "toll_call"
)

// BuiltinTools returns the names of toll's own tools.
func BuiltinTools() []string {
	return []string{BudgetTool, HistoryTool, QuoteTool, SearchTool, DescribeTool, CallTool}
}

// BuiltinTool reports whether name is the name of one of toll's own tools.
func BuiltinTool(name string) bool {
	return slices.Contains(BuiltinTools(), name)
}

// builtinPrefix starts the name of every tool of toll's own.
const builtinPrefix = "toll_"

// maxArg is the longest argument name; model APIs accept property keys of
// ^[a-zA-Z0-9_.-]{1,64}$.
const maxArg = 64

var (
	toolNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)
	argPattern      = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,64}$`)
)

// identifier replaces every run of characters outside [A-Za-z0-9] and extra
// (the other characters allowed to stay) with one '_', and trims '_' and '-'
// from both ends.
func identifier(s, extra string) string {
	var b strings.Builder
	gap := false
	for _, r := range s {
		ok := r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(extra, r))
		if !ok || r == '_' {
			gap = true
			continue
		}
		if gap && b.Len() > 0 {
			b.WriteByte('_')
		}
		gap = false
		b.WriteRune(r)
	}
	return strings.Trim(b.String(), "_-")
}

// deriveNamespace makes the tool-name prefix from info.title: lower case,
// words joined by '_', at most 16 characters, cut between words where it can
// ("Weather Demo" → "weather_demo").
func deriveNamespace(title string) string {
	s := strings.ToLower(identifier(title, ""))
	if len(s) > maxDerivedNamespace {
		// Cut between words when a word of four or more letters remains.
		cut := maxDerivedNamespace
		if s[cut] != '_' {
			if i := strings.LastIndexByte(s[:cut], '_'); i >= 4 {
				cut = i
			}
		}
		s = strings.TrimRight(s[:cut], "_")
	}
	if s == "" {
		return "api"
	}
	return s
}

// baseToolName is the tool name before length and uniqueness are enforced:
// namespace_operationId, or namespace_method_path when the operationId is
// missing or has no usable character.
func baseToolName(namespace, operationID, method, path string) string {
	id := identifier(operationID, "-")
	if id == "" {
		id = strings.ToLower(method)
		if p := identifier(withoutBraces(path), "-"); p != "" {
			id += "_" + p
		}
	}
	return namespace + "_" + id
}

// shortHash is a short stable digest of key: 6 hex digits of its SHA-256.
func shortHash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:3])
}

// withSuffix appends "_"+suffix to name, first shortening name so that the
// result fits maxToolName.
func withSuffix(name, suffix string) string {
	if keep := maxToolName - len(suffix) - 1; len(name) > keep {
		name = strings.TrimRight(name[:keep], "_-")
	}
	return name + "_" + suffix
}

// fitToolName shortens a name longer than maxToolName, ending it with a hash
// of the whole name so that names which differ only past the cut stay
// different.
func fitToolName(name string) string {
	if len(name) <= maxToolName {
		return name
	}
	return withSuffix(name, shortHash(name))
}

// uniqueToolNames makes names unique: every name that several operations
// share gets a hash of its own operation's key (method and path, unique in a
// document), so the result does not depend on the order of the operations.
// A later clash, most unlikely, gets a counter. It reports which names it
// changed.
func uniqueToolNames(names, keys []string) []bool {
	count := make(map[string]int, len(names))
	for _, n := range names {
		count[n]++
	}
	renamed := make([]bool, len(names))
	for i, n := range names {
		if count[n] > 1 {
			names[i] = withSuffix(n, shortHash(keys[i]))
			renamed[i] = true
		}
	}
	used := make(map[string]bool, len(names))
	for i, n := range names {
		for k := 2; used[names[i]]; k++ {
			names[i] = withSuffix(n, strconv.Itoa(k))
			renamed[i] = true
		}
		used[names[i]] = true
	}
	return renamed
}

// argName makes a parameter name a valid property name.
func argName(name string) string {
	if argPattern.MatchString(name) {
		return name
	}
	s := identifier(name, "-.")
	if len(s) > maxArg {
		s = s[:maxArg]
	}
	if s == "" {
		return "param"
	}
	return s
}

// name gives every operation its tool name: namespace_operationId, or
// namespace_method_path without one; shortened with a hash when longer than
// 48 characters; suffixed with a hash of method and path when several
// operations would share it.
func (b *builder) name(namespace string, ops []*pending) {
	names := make([]string, len(ops))
	keys := make([]string, len(ops))
	for i, p := range ops {
		base := baseToolName(namespace, p.op.OperationID, p.op.Method, p.op.Path)
		names[i] = fitToolName(base)
		keys[i] = p.key
		if names[i] != base {
			p.notes = append(p.notes, fmt.Sprintf("tool name shortened from %s", base))
		}
	}
	renamed := uniqueToolNames(names, keys)
	for i, p := range ops {
		p.op.Name = names[i]
		if renamed[i] {
			p.notes = append(p.notes, "tool name suffixed: another operation has the same name")
		}
	}
}

// withoutBraces returns s without its '{' and '}'.
func withoutBraces(s string) string {
	if !strings.ContainsAny(s, "{}") {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r == '{' || r == '}' {
			return -1
		}
		return r
	}, s)
}
