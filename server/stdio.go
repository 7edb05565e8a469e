package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/tollhq/toll/tools"
)

// MaxMessageBytes is the largest JSON-RPC message toll reads: one line on stdio, one
// request body over HTTP. It leaves room for arguments of tools.MaxArgumentsLen and the
// request around them. A longer message is refused while it is read, before any of it is
// decoded, so it costs at most this much memory.
const MaxMessageBytes = 2 * tools.MaxArgumentsLen

// stdioReadBuffer is how much of stdin is read at a time.
const stdioReadBuffer = 64 << 10

// headBytes is how much of a refused message is kept to find its JSON-RPC id.
const headBytes = 4 << 10

// ServeStdio serves MCP over in and out until in ends or ctx is done. out carries only
// JSON-RPC. A line longer than MaxMessageBytes is answered with a JSON-RPC error and
// never decoded. Only one stdio server can run per process (mcp-go keeps one stdio
// session).
func (s *Server) ServeStdio(ctx context.Context, in io.Reader, out io.Writer, errlog io.Writer) error {
	ss := mcpserver.NewStdioServer(s.mcp)
	if errlog == nil {
		errlog = io.Discard
	}
	ss.SetErrorLogger(log.New(errlog, "mcp: ", log.LstdFlags))
	lw := &lockedWriter{w: out}
	lr := &lineReader{r: bufio.NewReaderSize(in, stdioReadBuffer), max: MaxMessageBytes,
		tooLong: func(head []byte) { s.refuseLine(lw, head) }}
	return ss.Listen(ctx, lr, lw)
}

// refuseLine answers a message longer than MaxMessageBytes with a JSON-RPC error, under
// the request's id when its first bytes hold it.
func (s *Server) refuseLine(w io.Writer, head []byte) {
	s.log.Warn("refused an MCP message over the size limit", "limit_bytes", MaxMessageBytes)
	resp := struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Error   jsonRPCError    `json:"error"`
	}{JSONRPC: mcp.JSONRPC_VERSION, ID: requestID(head), Error: jsonRPCError{Code: mcp.INVALID_REQUEST, Message: tooLargeMessage()}}
	b, err := json.Marshal(resp)
	if err != nil {
		s.log.Error("answer a message over the size limit", "err", err)
		return
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		s.log.Warn("answer a message over the size limit", "err", err)
	}
}

type jsonRPCError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// tooLargeMessage says what was refused and what to do; the same on stdio and HTTP.
func tooLargeMessage() string {
	return fmt.Sprintf("message refused: it is larger than %d bytes, the most toll reads of one JSON-RPC message; "+
		"nothing was run or paid. Send smaller arguments (at most %d bytes of JSON)", MaxMessageBytes, tools.MaxArgumentsLen)
}

// requestID finds the id of a JSON-RPC request in the first bytes of its message, when it
// comes before the cut; nil (JSON null) otherwise.
func requestID(head []byte) json.RawMessage {
	dec := json.NewDecoder(bytes.NewReader(head))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return nil
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil
		}
		if key == "id" {
			if len(v) > 0 && (v[0] == '"' || v[0] == '-' || (v[0] >= '0' && v[0] <= '9')) {
				return v
			}
			return nil
		}
	}
	return nil
}

// lineReader hands on the lines of r that hold at most max bytes, newline included. A
// longer line is dropped while it is read, so it costs at most max bytes of memory, and
// tooLong is called with its first bytes.
type lineReader struct {
	r       *bufio.Reader
	max     int
	tooLong func(head []byte)

	line []byte // the line being handed on
	off  int    // how much of line was handed on
	err  error  // what ended r, returned once line is handed on
}

func (lr *lineReader) Read(p []byte) (int, error) {
	for lr.off == len(lr.line) {
		if lr.err != nil {
			return 0, lr.err
		}
		lr.line, lr.err = lr.next()
		lr.off = 0
	}
	n := copy(p, lr.line[lr.off:])
	lr.off += n
	return n, nil
}

// next reads the next line of at most max bytes, dropping the longer lines before it.
// At the end of r it returns what is left, with the error.
func (lr *lineReader) next() ([]byte, error) {
	line := lr.line[:0]
	for {
		chunk, err := lr.r.ReadSlice('\n')
		if len(line)+len(chunk) > lr.max {
			head := append(make([]byte, 0, headBytes), line[:min(len(line), headBytes)]...)
			head = append(head, chunk[:min(len(chunk), headBytes-len(head))]...)
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = lr.r.ReadSlice('\n')
			}
			lr.tooLong(head)
			line = line[:0]
			if err != nil {
				return line, err
			}
			continue
		}
		line = append(line, chunk...)
		if !errors.Is(err, bufio.ErrBufferFull) {
			return line, err
		}
	}
}

// lockedWriter makes each Write whole: the stdio server and refuseLine write lines to
// the same stdout from different goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (lw *lockedWriter) Write(p []byte) (int, error) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.w.Write(p)
}
