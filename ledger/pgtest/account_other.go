//go:build !unix

package pgtest

import (
	"errors"
	"os/exec"
)

type account struct{}

func serverAccount() (*account, error) {
	return nil, errors.New("pgtest starts clusters on unix systems only; set " + EnvURL)
}

func (*account) own(string) error { return nil }
func (*account) apply(*exec.Cmd)  {}
