// Command rotor is rotor's command-line interface: run and check state
// machines offline today; local serving, rotations and leak alerts as they
// land. Each command lives in its own file with an options struct, and all
// I/O goes through IOStreams so that commands are tested in-process.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr})
	stop()
	os.Exit(code)
}
