package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"
)

// ResultURIPrefix starts the URI of every body toll keeps: toll://result/ID, where ID is 32
// random hex digits.
const ResultURIPrefix = "toll://result/"

// DefaultMaxKeptBytes is how many bytes of result bodies a Server keeps at most, over
// all sessions, when Options.MaxKeptBytes is zero.
const DefaultMaxKeptBytes = 512 << 20

// errKeptFull is why a body was not kept: the bodies already kept fill the store.
var errKeptFull = errors.New("toll already keeps as many result bytes as it may")

// keptBody is one body toll keeps for the session that paid for it.
type keptBody struct {
	session string
	mime    string
	text    bool // the body is text (kind text or JSON): read back as text when valid UTF-8
	size    int64
	path    string // the file holding it
}

// results are the bodies a Server keeps, each for one session, in files of a temporary
// directory of its own (0700, made at the first body, removed by Close). A body stays
// until its session ends or the Server closes; past max bytes in all, no more are kept.
type results struct {
	dir string // "" means a new directory in os.TempDir()
	max int64

	mu     sync.Mutex
	made   string // the directory made, once a body was kept
	byID   map[string]*keptBody
	total  int64
	closed bool
}

// keep stores body for session and returns its URI.
func (r *results) keep(session, mime string, text bool, body []byte) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return "", errors.New("toll is shutting down")
	}
	size := int64(len(body))
	if r.total+size > r.max {
		return "", fmt.Errorf("%w (%d bytes in all, until the sessions that paid for them end)", errKeptFull, r.max)
	}
	if r.made == "" {
		dir, err := os.MkdirTemp(r.dir, "toll-results-")
		if err != nil {
			return "", fmt.Errorf("make a directory for result bodies: %w", err)
		}
		r.made = dir
	}
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", err
	}
	name := hex.EncodeToString(id[:])
	path := filepath.Join(r.made, name)
	if err := os.WriteFile(path, body, 0o600); err != nil {
		os.Remove(path)
		return "", fmt.Errorf("write a result body: %w", err)
	}
	if r.byID == nil {
		r.byID = map[string]*keptBody{}
	}
	r.byID[name] = &keptBody{session: session, mime: mime, text: text, size: size, path: path}
	r.total += size
	return ResultURIPrefix + name, nil
}

// read returns the body at uri if session kept it. A URI of another session is as
// unknown as one never issued.
func (r *results) read(session, uri string) (*keptBody, []byte, error) {
	id, ok := strings.CutPrefix(uri, ResultURIPrefix)
	r.mu.Lock()
	k := r.byID[id]
	r.mu.Unlock()
	if !ok || k == nil || k.session != session {
		return nil, nil, fmt.Errorf("%w: %s is not a result body toll keeps for this session: it was never issued, it belongs to another session, "+
			"or its session ended (toll keeps a paid body only for the session that paid for it, until that session ends or toll stops); "+
			"calling the tool again would pay again", mcp.ErrResourceNotFound, clipURI(uri))
	}
	body, err := os.ReadFile(k.path)
	if err != nil {
		return nil, nil, fmt.Errorf("read the kept body of %s: %w (was toll's temporary directory removed?)", uri, err)
	}
	return k, body, nil
}

// endSession forgets and removes the bodies session kept.
func (r *results) endSession(session string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, k := range r.byID {
		if k.session == session {
			os.Remove(k.path)
			r.total -= k.size
			delete(r.byID, id)
		}
	}
}

// close removes every kept body and the directory; keep refuses after it.
func (r *results) close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	r.byID, r.total = nil, 0
	if r.made == "" {
		return nil
	}
	return os.RemoveAll(r.made)
}

// clipURI keeps an unknown URI short enough to quote in an error.
func clipURI(uri string) string {
	if len(uri) <= 120 {
		return uri
	}
	cut := 120
	for cut > 0 && !utf8.RuneStart(uri[cut]) {
		cut--
	}
	return uri[:cut] + "…"
}

// resultTemplate is the resource template through which a session reads the bodies
// toll keeps for it (resources/read).
func (s *Server) resultTemplate() mcpserver.ServerResourceTemplate {
	t := mcp.NewResourceTemplate(ResultURIPrefix+"{id}", "toll result body",
		mcp.WithTemplateDescription("The whole body of a tool result that was too large to show inline, or binary. "+
			"A tool result links to it (resource_link); only the session that made the call can read it, until the session ends."))
	return mcpserver.ServerResourceTemplate{Template: t, Handler: s.readResult}
}

// readResult answers resources/read for a kept body: text when the body is text and
// valid UTF-8, else a base64 blob; either way the bytes the API sent.
func (s *Server) readResult(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
	uri := req.Params.URI
	k, body, err := s.results.read(s.session(ctx), uri)
	if err != nil {
		return nil, err
	}
	if k.text && utf8.Valid(body) {
		return []mcp.ResourceContents{mcp.TextResourceContents{URI: uri, MIMEType: k.mime, Text: string(body)}}, nil
	}
	return []mcp.ResourceContents{mcp.BlobResourceContents{URI: uri, MIMEType: k.mime, Blob: base64.StdEncoding.EncodeToString(body)}}, nil
}

// Close removes the result bodies the Server keeps and their directory. Call it when
// the Server is done serving.
func (s *Server) Close() error {
	s.closeApprovals()
	if err := s.results.close(); err != nil {
		return fmt.Errorf("remove kept result bodies: %w", err)
	}
	return nil
}
