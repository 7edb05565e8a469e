package server

import (
	"bufio"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tollhq/toll/tools"
)

// TestLineReader: lines of at most max bytes (newline included) pass whole and in order;
// a longer one is dropped, wherever it falls, and reported with its first bytes.
func TestLineReader(t *testing.T) {
	const max = 8
	tests := []struct {
		name      string
		in        string
		bufSize   int // the bufio.Reader's size; 16 is the smallest it takes
		want      string
		wantHeads []string
	}{
		{"short lines", "ab\ncd\n", 16, "ab\ncd\n", nil},
		{"exactly max", "1234567\n", 16, "1234567\n", nil},
		{"one over max", "12345678\nok\n", 16, "ok\n", []string{"12345678\n"}},
		{"longer than the read buffer", strings.Repeat("x", 100) + "\nok\n", 16, "ok\n", []string{strings.Repeat("x", 16)}},
		{"long line at the end, no newline", "ok\n" + strings.Repeat("y", 40), 16, "ok\n", []string{strings.Repeat("y", 16)}},
		{"short last line without newline", "ok\nend", 16, "ok\nend", nil},
		{"two long lines in a row", strings.Repeat("a", 9) + "\n" + strings.Repeat("b", 30) + "\nc\n", 16, "c\n", []string{"aaaaaaaaa\n", strings.Repeat("b", 16)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var heads []string
			lr := &lineReader{r: bufio.NewReaderSize(strings.NewReader(tt.in), tt.bufSize), max: max,
				tooLong: func(head []byte) { heads = append(heads, string(head)) }}
			got, err := io.ReadAll(lr)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("passed on %q, want %q", got, tt.want)
			}
			if diff := cmp.Diff(tt.wantHeads, heads); diff != "" {
				t.Errorf("reported heads (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRequestID: the id of a refused message is found when it comes before the cut.
func TestRequestID(t *testing.T) {
	tests := []struct {
		head string
		want string // "" is JSON null
	}{
		{`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"arguments":{"city":"xxxx`, `7`},
		{`{"id":"req-1","params":{"a":"b`, `"req-1"`},
		{`{"jsonrpc":"2.0","method":"tools/call","params":{"arguments":{"city":"xxxx`, ``},
		{`{"jsonrpc":"2.0","method":"x","id":{"not":"an id"},"params":{`, ``},
		{`not json at all`, ``},
		{`{"id":-3,`, `-3`},
	}
	for _, tt := range tests {
		if got := string(requestID([]byte(tt.head))); got != tt.want {
			t.Errorf("requestID(%q) = %q, want %q", tt.head, got, tt.want)
		}
	}
}

// TestStdioRefusesLongMessage: a tools/call over MaxMessageBytes is answered with a
// JSON-RPC error under its id, nothing runs, and the session goes on.
func TestStdioRefusesLongMessage(t *testing.T) {
	f := newFixture(t, tools.Policy{Networks: []string{"eip155:84532"}}, Options{})
	c := serveStdio(t, f.s)
	c.initialize(1)
	c.send(toolCall(2, "weather_demo_getWeather", `{"city":"`+strings.Repeat("x", MaxMessageBytes)+`"}`, ""))
	r := c.response("2")
	if r.Error == nil || r.Error.Code != mcp.INVALID_REQUEST || !strings.Contains(r.Error.Message, "larger than") {
		t.Fatalf("long message: result %s error %+v; want error %d saying it is too large", r.Result, r.Error, mcp.INVALID_REQUEST)
	}
	f.untouched(t)
	// Just under the limit: read, decoded, and refused by the tool for its arguments.
	args := `{"city":"` + strings.Repeat("x", tools.MaxArgumentsLen) + `"}`
	c.send(toolCall(3, "weather_demo_getWeather", args, ""))
	if r := c.response("3"); r.Error != nil || !strings.Contains(string(r.Result), "over the") {
		t.Errorf("message under the limit: error %+v, result %.200s; want the tool's refusal of its arguments", r.Error, r.Result)
	}
	c.send(toolCall(4, "weather_demo_health", `{}`, ""))
	if r := c.response("4"); r.Error != nil || !strings.Contains(string(r.Result), "status") {
		t.Errorf("call after the refusals: %+v %s", r.Error, r.Result)
	}
}
