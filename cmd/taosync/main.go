// Command taosync keeps offline exam test centres in sync with a central
// server: see the README and docs/ for the commands and the bundle format.
package main

import "os"

// release is set at build time with -ldflags "-X main.release=v1.2.3";
// without it the version comes from Go's build info (see version.go).
var release string

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
