// Command taosync keeps offline exam test centres in sync with a central
// server: see the README and docs/ for the commands and the bundle format.
package main

import (
	"os"

	"github.com/taosync/taosync/internal/client"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	client.Version = version
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
