package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// superuser is the cluster's one role, trusted on its socket.
const superuser = "toll"

// Cluster is a throwaway PostgreSQL cluster: a data directory and a server listening only
// on a unix socket in the same temporary directory.
type Cluster struct {
	bin string // directory of initdb, pg_ctl, postgres
	dir string // temporary directory: data/, the socket, server.log
	as  *account
}

// Start initializes a cluster in a new temporary directory with the binaries in bin and
// starts its server. Run as root, the server runs as the postgres (or nobody) account,
// since PostgreSQL refuses to run as root.
func Start(ctx context.Context, bin string) (*Cluster, error) {
	as, err := serverAccount()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "toll-pg-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{bin: bin, dir: dir, as: as}
	if err := c.init(ctx); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := c.Restart(ctx); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return c, nil
}

// init runs initdb and writes the settings: no TCP, the socket in c.dir.
func (c *Cluster) init(ctx context.Context) error {
	if err := c.as.own(c.dir); err != nil {
		return err
	}
	data := filepath.Join(c.dir, "data")
	if out, err := c.run(ctx, "initdb", "-D", data, "-U", superuser, "--auth=trust", "--no-instructions", "-E", "UTF8", "--locale=C"); err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, out)
	}
	conf := fmt.Sprintf("\n# pgtest\nlisten_addresses = ''\nunix_socket_directories = '%s'\nmax_connections = 400\n", c.dir)
	f, err := os.OpenFile(filepath.Join(data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(conf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Restart starts the server (again, after Stop or Kill) and waits until it accepts
// connections.
func (c *Cluster) Restart(ctx context.Context) error {
	out, err := c.run(ctx, "pg_ctl", "-D", filepath.Join(c.dir, "data"), "-l", filepath.Join(c.dir, "server.log"), "-w", "-t", "60", "start")
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "server.log"))
		return fmt.Errorf("pg_ctl start: %w\n%s\nserver log:\n%s", err, out, log)
	}
	return nil
}

// Stop stops the server at once (pg_ctl's immediate mode: open transactions are cut, as
// when a database machine goes away; the next start recovers from the WAL).
func (c *Cluster) Stop(ctx context.Context) error {
	if out, err := c.run(ctx, "pg_ctl", "-D", filepath.Join(c.dir, "data"), "-m", "immediate", "-w", "stop"); err != nil {
		return fmt.Errorf("pg_ctl stop: %w\n%s", err, out)
	}
	return nil
}

// URL is the URL of database db on the cluster.
func (c *Cluster) URL(db string) string {
	u := url.URL{Scheme: "postgres", User: url.User(superuser), Path: "/" + db, RawQuery: url.Values{"host": {c.dir}}.Encode()}
	return u.String()
}

// Close stops the server if it runs and removes the cluster's directory.
func (c *Cluster) Close() error {
	pid := filepath.Join(c.dir, "data", "postmaster.pid")
	var err error
	if _, statErr := os.Stat(pid); statErr == nil {
		err = c.Stop(context.Background())
	}
	if rerr := os.RemoveAll(c.dir); err == nil {
		err = rerr
	}
	return err
}

func (c *Cluster) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, name), args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	c.as.apply(cmd)
	return cmd.CombinedOutput()
}

// findBinaries returns the directory of the newest PostgreSQL server binaries: pg_config's
// bindir when it has initdb, else Debian's /usr/lib/postgresql/VERSION/bin.
func findBinaries() (string, error) {
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dir := strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return versionOf(b) - versionOf(a) })
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	return "", errors.New("no initdb found (pg_config --bindir, /usr/lib/postgresql/*/bin)")
}

func versionOf(binDir string) int {
	var v int
	fmt.Sscanf(filepath.Base(filepath.Dir(binDir)), "%d", &v)
	return v
}
