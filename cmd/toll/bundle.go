package main

import (
	"archive/zip"
	"bytes"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// An MCP Bundle (.mcpb) is a zip of a manifest.json and the server it starts, which a host
// such as Claude Desktop installs in one click, asking the person for the settings the
// manifest's user_config names. The manifest format:
// https://github.com/modelcontextprotocol/mcpb/blob/main/MANIFEST.md (its JSON Schema ships
// in the npm package @anthropic-ai/mcpb, whose "mcpb validate" the tests run).

// bundleManifestVersion is the version of the manifest format toll writes.
const bundleManifestVersion = "0.3"

// bundleEpoch is the modification time of every entry of a bundle, so that the same binary
// always gives the same bytes: the earliest time a zip (MS-DOS) timestamp holds.
func bundleEpoch() time.Time { return time.Date(1980, time.January, 1, 0, 0, 0, 0, time.UTC) }

// bundleSetting is one setting the host asks the person for (not the model: user_config
// values reach only the server's command line), and the toll serve flag it becomes.
type bundleSetting struct {
	key, kind, title, description string
	required                      bool
	def                           string // "": none
	flag                          string // "": a positional argument (a SPEC)
}

// bundleSettings are the settings of toll's bundle, in the order the host shows them. Every
// flag is written --flag=VALUE: a host replaces ${user_config.KEY} inside a string, and an
// optional setting left empty becomes --flag=, which toll serve reads as not given (the
// config) or refuses (a cap). A setting with a default is not "required": the packer's
// own check (hasRequiredConfigMissing) looks at the person's values only, so a required
// setting the person left at its default would keep the server from starting.
func bundleSettings() []bundleSetting {
	perCall, perDay := usdcLimit(defaultMaxPerCall), usdcLimit(defaultMaxPerDay)
	return []bundleSetting{
		{key: "keystore", kind: "file", title: "Keystore file", required: true, flag: "keystore",
			description: "The encrypted keystore holding the payer key (toll init or toll wallet import writes one)."},
		{key: "passphrase_file", kind: "file", title: "Passphrase file", required: true, flag: "passphrase-file",
			description: "A file holding the keystore's passphrase, readable only by you."},
		{key: "spec", kind: "string", title: "OpenAPI spec", required: true,
			description: "The APIs the agent may call: an OpenAPI spec file, a folder of specs, or an https URL."},
		{key: "networks", kind: "string", title: "Allowed networks", def: "eip155:8453", flag: "network",
			description: "The networks toll may pay on, comma-separated, as CAIP-2 (eip155:8453 is Base, eip155:84532 Base Sepolia)."},
		{key: "max_per_call", kind: "string", title: "Most one call may pay (USDC)", def: perCall.String(), flag: "max-per-call",
			description: "A USDC amount such as 0.05, or none for no cap."},
		{key: "max_per_day", kind: "string", title: "Most paid in a day (USDC)", def: perDay.String(), flag: "max-per-day",
			description: "The most all calls may pay in any 24 hours: a USDC amount such as 5, or none for no cap."},
		{key: "config", kind: "file", title: "toll.yaml (optional)", flag: "config", def: "",
			description: "A toll.yaml for the rest (agents, approval, per-API caps); the settings above take precedence over it."},
	}
}

// bundleCmd is "toll bundle".
type bundleCmd struct {
	*app
	out, binary string
}

func (a *app) bundleCommand() *cobra.Command {
	b := &bundleCmd{app: a}
	c := &cobra.Command{
		Use:   "bundle [--out toll.mcpb] [--binary PATH]",
		Short: "write an MCP Bundle (.mcpb) that installs toll in Claude Desktop in one click",
		Long: `Write an MCP Bundle: a zip of manifest.json and a toll binary, which Claude Desktop (and other
hosts of the format) installs in one click. The host asks the person, not the model, for the
keystore, the passphrase file, the spec, the allowed networks and the caps, and starts toll serve
with them. The binary is this one unless --binary names another (toll for another system, from
.ci/release); the bundle runs only on that binary's system.`,
		Example: "  toll bundle\n  toll bundle --binary dist/toll-darwin-arm64 --out toll-darwin-arm64.mcpb",
		Args:    noArgs,
		RunE:    func(*cobra.Command, []string) error { return b.run() },
	}
	fs := newFlags(c)
	fs.StringVar(&b.out, "out", "toll.mcpb", "the bundle file to write (replaced if it exists)")
	fs.StringVar(&b.binary, "binary", "", "the toll binary to bundle (default: this one)")
	return c
}

func (b *bundleCmd) run() error {
	bin := b.binary
	if bin == "" {
		self, err := os.Executable()
		if err == nil {
			self, err = filepath.EvalSymlinks(self)
		}
		if err != nil {
			return fmt.Errorf("the path of this toll binary: %w; name one with --binary", err)
		}
		bin = self
	}
	exe, err := os.ReadFile(bin)
	if err != nil {
		return fmt.Errorf("read the binary to bundle: %w", err)
	}
	platform, err := binaryPlatform(exe)
	if err != nil {
		return fmt.Errorf("%s: %w; --binary takes a toll executable", bin, err)
	}
	zipped, err := writeBundle(bundleManifest(version(), platform), platform, exe)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(b.out, zipped); err != nil {
		return err
	}
	fmt.Fprintf(b.stdout, "%s: toll %s for %s (%d bytes)\n", b.out, version(), platform, len(zipped))
	return nil
}

// binaryPlatform is the system an executable runs on, as the manifest names it (darwin,
// win32, linux), read from its header.
func binaryPlatform(exe []byte) (string, error) {
	r := bytes.NewReader(exe)
	if f, err := elf.NewFile(r); err == nil {
		f.Close()
		return "linux", nil
	}
	if f, err := macho.NewFile(r); err == nil {
		f.Close()
		return "darwin", nil
	}
	if f, err := macho.NewFatFile(r); err == nil {
		f.Close()
		return "darwin", nil
	}
	if f, err := pe.NewFile(r); err == nil {
		f.Close()
		return "win32", nil
	}
	return "", errors.New("not an executable for Linux, macOS or Windows")
}

// bundleEntryPoint is where the binary lies in a bundle for platform.
func bundleEntryPoint(platform string) string {
	if platform == "win32" {
		return "server/toll.exe"
	}
	return "server/toll"
}

// manifest is an MCP Bundle's manifest.json, the fields toll writes in the order the
// format's description lists them.
type manifest struct {
	ManifestVersion string         `json:"manifest_version"`
	Name            string         `json:"name"`
	DisplayName     string         `json:"display_name"`
	Version         string         `json:"version"`
	Description     string         `json:"description"`
	LongDescription string         `json:"long_description"`
	Author          manifestLink   `json:"author"`
	Repository      manifestRepo   `json:"repository"`
	Homepage        string         `json:"homepage"`
	Server          manifestSrv    `json:"server"`
	ToolsGenerated  bool           `json:"tools_generated"`
	Keywords        []string       `json:"keywords"`
	Compatibility   manifestCompat `json:"compatibility"`
	UserConfig      userConfig     `json:"user_config"`
}

type manifestLink struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

type manifestRepo struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

type manifestSrv struct {
	Type       string   `json:"type"`
	EntryPoint string   `json:"entry_point"`
	MCPConfig  mcpEntry `json:"mcp_config"`
}

type manifestCompat struct {
	Platforms []string `json:"platforms"`
}

// userConfigOption is one entry of user_config.
type userConfigOption struct {
	Type        string  `json:"type"`
	Title       string  `json:"title"`
	Description string  `json:"description"`
	Required    bool    `json:"required"`
	Default     *string `json:"default,omitempty"`
}

// userConfig is the user_config object, written with its keys in the order of
// bundleSettings, which is the order a host shows them in.
type userConfig []bundleSetting

func (u userConfig) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, s := range u {
		opt := userConfigOption{Type: s.kind, Title: s.title, Description: s.description, Required: s.required}
		if s.def != "" || !s.required {
			opt.Default = &s.def
		}
		key, err := json.Marshal(s.key)
		if err != nil {
			return nil, err
		}
		val, err := json.Marshal(opt)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(key)
		b.WriteByte(':')
		b.Write(val)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// bundleManifest is the manifest.json of toll's bundle at version for platform: toll serve
// with a flag per setting, and the spec last.
func bundleManifest(version, platform string) manifest {
	entry := bundleEntryPoint(platform)
	settings := bundleSettings()
	args := []string{"serve"}
	var spec string
	for _, s := range settings {
		ref := "${user_config." + s.key + "}"
		if s.flag == "" {
			spec = ref
			continue
		}
		args = append(args, "--"+s.flag+"="+ref)
	}
	args = append(args, spec)
	const home = "https://github.com/tollhq/toll"
	return manifest{
		ManifestVersion: bundleManifestVersion,
		Name:            "toll",
		DisplayName:     "toll",
		Version:         strings.TrimPrefix(orDev(version), "v"),
		Description:     "Lets an AI agent pay for x402 APIs in USDC, within the caps you set, recording every spend in a ledger.",
		LongDescription: "toll serves the operations of OpenAPI specs as tools. When an API answers 402 Payment Required, toll pays it in USDC (EIP-3009) on the networks you allow and within your caps per call and per day, and records every spend in a ledger on your machine (toll ledger list).",
		Author:          manifestLink{Name: "toll", URL: home},
		Repository:      manifestRepo{Type: "git", URL: home},
		Homepage:        home,
		Server:          manifestSrv{Type: "binary", EntryPoint: entry, MCPConfig: mcpEntry{Command: "${__dirname}/" + entry, Args: args}},
		ToolsGenerated:  true,
		Keywords:        []string{"x402", "payments", "usdc", "openapi"},
		Compatibility:   manifestCompat{Platforms: []string{platform}},
		UserConfig:      userConfig(settings),
	}
}

// orDev is version, or 0.0.0-dev for a build without one: a manifest's version is semver.
func orDev(version string) string {
	if version == "dev" {
		return "0.0.0-dev"
	}
	return version
}

// writeBundle is the zip of the manifest m and the binary exe: entries in name order, every one
// dated bundleEpoch, so the same inputs give the same bytes.
func writeBundle(m manifest, platform string, exe []byte) ([]byte, error) {
	doc, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	entries := map[string][]byte{"manifest.json": append(doc, '\n'), bundleEntryPoint(platform): exe}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range slices.Sorted(maps.Keys(entries)) {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: bundleEpoch()}
		h.SetMode(0o644)
		if strings.HasPrefix(name, "server/") {
			h.SetMode(0o755)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(entries[name]); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
