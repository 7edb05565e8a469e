package wallet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log"
	"log/slog"
	"strings"
	"testing"
)

// TestWalletPrintsNoKey formats wallets every way a caller might and checks
// that no part of the key (hex in any case, or decimal) appears.
func TestWalletPrintsNoKey(t *testing.T) {
	hh, err := FromHex(hardhatKey, Options{})
	if err != nil {
		t.Fatal(err)
	}
	gen, err := Generate(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []*Wallet{hh, gen} {
		secret := keyHex(w)
		decimal := w.key.D.String()
		check := func(what, out string) {
			t.Helper()
			assertNoSecret(t, what, out, secret)
			if strings.Contains(out, decimal[:20]) {
				t.Errorf("%s contains the key in decimal: %q", what, out)
			}
		}
		type exported struct{ W *Wallet }
		type unexported struct{ w *Wallet }
		values := map[string]any{
			"*Wallet":            w,
			"struct{W *Wallet}":  exported{w},
			"struct{w *Wallet}":  unexported{w},
			"*struct{W *Wallet}": &exported{w},
			"[]*Wallet":          []*Wallet{w},
			"map":                map[string]*Wallet{"w": w},
		}
		for name, v := range values {
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%X", "%q", "%T"} {
				check(fmt.Sprintf("Sprintf(%q, %s)", verb, name), fmt.Sprintf(verb, v))
			}
			check("Sprint "+name, fmt.Sprint(v))
			check("Sprintln "+name, fmt.Sprintln(v))
			b, err := json.Marshal(v)
			if err != nil && name != "struct{w *Wallet}" {
				t.Errorf("json.Marshal(%s): %v", name, err)
			}
			check("json.Marshal "+name, string(b))
		}

		if got, want := w.String(), "wallet "+w.Address().Hex(); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d"} {
			if got, want := fmt.Sprintf(verb, w), "wallet "+w.Address().Hex(); got != want {
				t.Errorf("Sprintf(%q, w) = %q, want %q", verb, got, want)
			}
		}
		b, _ := json.Marshal(w)
		if got, want := string(b), `{"address":"`+w.Address().Hex()+`"}`; got != want {
			t.Errorf("json.Marshal(w) = %s, want %s", got, want)
		}

		// Loggers.
		var buf bytes.Buffer
		slog.New(slog.NewTextHandler(&buf, nil)).Info("paid", "wallet", w, "any", exported{w})
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("paid", "wallet", w, "any", exported{w})
		log.New(&buf, "", 0).Printf("%v %+v", w, exported{w})
		check("log output", buf.String())
		if !strings.Contains(buf.String(), w.Address().Hex()) {
			t.Errorf("log output lacks the address: %s", buf.String())
		}
	}

	var nilW *Wallet
	if got := fmt.Sprintf("%v %s %+v", nilW, nilW, nilW); got != "wallet <nil> wallet <nil> wallet <nil>" {
		t.Errorf("nil wallet prints %q", got)
	}
	if b, err := json.Marshal(nilW); err != nil || string(b) != "null" {
		t.Errorf("json.Marshal(nil wallet) = %s, %v", b, err)
	}
}
