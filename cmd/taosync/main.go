// Command taosync keeps offline exam test centres in sync with a central
// server: see the README and docs/ for the commands and the bundle format.
package main

import (
	"os"

	"github.com/taosync/taosync/internal/client"
)

// release is set at build time with -ldflags "-X main.release=v1.2.3";
// without it the version comes from Go's build info (see version.go).
var release string

func main() {
	client.Version = shortVersion()
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
