package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tollhq/toll/server"
	"github.com/tollhq/toll/tools/money"
)

// The value types of this file are both flag values (pflag.Value) and toll.yaml values
// (encoding.TextUnmarshaler, which the YAML decoder calls for a scalar): a setting is parsed
// by one function whichever way it is given, so "0.05", "none" or "-1s" mean the same, and
// are refused the same, on the command line and in the file.

// limit is a cap: a USDC amount, or "none" for no cap.
type limit struct {
	amount *money.Amount // nil: no cap
}

// The default caps of toll serve, in atomic USDC. They are deliberately small: the user
// raises them on purpose.
const (
	defaultMaxPerCall    = 100_000   // 0.10
	defaultMaxPerSession = 1_000_000 // 1.00
	defaultMaxPerDay     = 5_000_000 // 5.00
)

// usdcLimit is a cap of atomic USDC units.
func usdcLimit(atomic int64) limit {
	v := money.USDC(atomic)
	return limit{&v}
}

// UnmarshalText reads "none" or a decimal USDC amount such as "0.05".
func (l *limit) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if strings.EqualFold(s, "none") {
		l.amount = nil
		return nil
	}
	v, err := money.ParseUSDC(s)
	if err != nil {
		return fmt.Errorf("%w; write a USDC amount such as 0.05, or none", err)
	}
	l.amount = &v
	return nil
}

func (l *limit) Set(s string) error { return l.UnmarshalText([]byte(s)) }
func (l *limit) Type() string       { return "usdc" }
func (l *limit) String() string {
	if l == nil || l.amount == nil {
		return "none"
	}
	return l.amount.String()
}

// duration is a time.Duration that is never negative; zero means the setting's default.
type duration time.Duration

func (d *duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("%q is not a duration such as 30s or 10m", b)
	}
	if v < 0 {
		return fmt.Errorf("%s is negative; write a duration of 0 or more, such as 30s", v)
	}
	*d = duration(v)
	return nil
}

func (d *duration) Set(s string) error { return d.UnmarshalText([]byte(s)) }
func (d *duration) Type() string       { return "duration" }
func (d *duration) String() string     { return time.Duration(*d).String() }

// lazyMode is --lazy and lazy: in toll.yaml.
type lazyMode server.Lazy

var lazyModes = map[string]server.Lazy{"auto": server.LazyAuto, "on": server.LazyOn, "off": server.LazyOff}

func (m *lazyMode) UnmarshalText(b []byte) error {
	v, ok := lazyModes[string(b)]
	if !ok {
		return fmt.Errorf("%q: want auto, on or off", b)
	}
	*m = lazyMode(v)
	return nil
}

func (m *lazyMode) Set(s string) error { return m.UnmarshalText([]byte(s)) }
func (m *lazyMode) Type() string       { return "mode" }
func (m *lazyMode) String() string {
	for k, v := range lazyModes {
		if lazyMode(v) == *m {
			return k
		}
	}
	return "auto"
}

// count is a number of things: never negative; zero means the setting's default.
type count int

func (c *count) UnmarshalText(b []byte) error {
	var v int
	if _, err := fmt.Sscan(string(b), &v); err != nil || fmt.Sprint(v) != strings.TrimSpace(string(b)) {
		return fmt.Errorf("%q is not a whole number", b)
	}
	if v < 0 {
		return fmt.Errorf("%d is negative; write 0 for the default, or more", v)
	}
	*c = count(v)
	return nil
}

func (c *count) Set(s string) error { return c.UnmarshalText([]byte(s)) }
func (c *count) Type() string       { return "int" }
func (c *count) String() string     { return fmt.Sprint(int(*c)) }

// listFlag collects a repeatable flag whose values may also be given comma-separated.
type listFlag []string

func (l *listFlag) Type() string   { return "list" }
func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error {
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*l = append(*l, part)
		}
	}
	return nil
}

// repeated collects a repeatable flag as given: unlike listFlag it does not split on
// commas, which a URL may hold.
type repeated []string

func (r *repeated) Type() string       { return "list" }
func (r *repeated) String() string     { return strings.Join(*r, " ") }
func (r *repeated) Set(s string) error { *r = append(*r, strings.TrimSpace(s)); return nil }

// format is a --format flag: one of a fixed list of words. Every command that prints for
// programs as well as people uses text|json; exports use csv|jsonl.
type format struct {
	value   string
	allowed []string
	alias   map[string]string // older words still accepted
}

func newFormat(def string, allowed ...string) *format {
	return &format{value: def, allowed: allowed}
}

func (f *format) Set(s string) error {
	if to, ok := f.alias[s]; ok {
		s = to
	}
	if !slices.Contains(f.allowed, s) {
		if n := len(f.allowed); n > 1 {
			return fmt.Errorf("want %s or %s", strings.Join(f.allowed[:n-1], ", "), f.allowed[n-1])
		}
		return fmt.Errorf("want %s", f.allowed[0])
	}
	f.value = s
	return nil
}

func (f *format) Type() string   { return strings.Join(f.allowed, "|") }
func (f *format) String() string { return f.value }

// byteSize is a size in bytes, a whole number as max_spec_bytes is in toll.yaml; zero means
// the setting's default.
type byteSize int64

func (b *byteSize) UnmarshalText(text []byte) error {
	v, err := strconv.ParseInt(strings.TrimSpace(string(text)), 10, 64)
	if err != nil || v < 0 {
		return fmt.Errorf("%q is not a size: write a whole number of bytes, such as 67108864 for 64 MiB", text)
	}
	*b = byteSize(v)
	return nil
}

func (b *byteSize) Set(s string) error { return b.UnmarshalText([]byte(s)) }
func (b *byteSize) Type() string       { return "bytes" }
func (b *byteSize) String() string     { return strconv.FormatInt(int64(*b), 10) }
