// Command infra is rotor's CDK app: `cdk synth` / `cdk deploy` (or make
// synth / make deploy) run it. It reads the deployment's configuration from
// the "rotor" context key (cdk.json, or -c rotor='{...}'; see
// rotorcdk.Config), builds the Lambda bootstraps with `make build` when
// they are missing or older than the sources, and synthesizes the stack
// "Rotor" with cdk-nag's AwsSolutions checks.
package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/rotorhq/rotor/infra/rotorcdk"
)

var functions = []string{"resolve", "create", "switchover", "verify", "expire", "webhook"}

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	cfg, err := config(app)
	if err != nil {
		fail(err)
	}
	if os.Getenv("ROTOR_SKIP_BUILD") == "" {
		if err := ensureBootstraps(".", makeBuild); err != nil {
			fail(err)
		}
	}
	env := &awscdk.Environment{}
	if a := os.Getenv("CDK_DEFAULT_ACCOUNT"); a != "" {
		env.Account = jsii.String(a)
	}
	if r := os.Getenv("CDK_DEFAULT_REGION"); r != "" {
		env.Region = jsii.String(r)
	}
	rotorcdk.NewStack(app, "Rotor", &rotorcdk.Props{Config: *cfg, AssetDir: "dist"}, &awscdk.StackProps{Env: env})
	app.Synth(nil)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "rotor infra:", err)
	os.Exit(1)
}

// config reads the "rotor" context value: a JSON object in cdk.json, or a
// JSON string from the command line.
func config(app awscdk.App) (*rotorcdk.Config, error) {
	v := app.Node().TryGetContext(jsii.String("rotor"))
	var data []byte
	switch x := v.(type) {
	case nil:
	case string:
		data = []byte(x)
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return nil, err
		}
		data = b
	}
	return rotorcdk.ParseConfig(data)
}

// ensureBootstraps calls build unless every function's bootstrap under
// root/dist exists and is newer than every Go source it is built from.
func ensureBootstraps(root string, build func(why string) error) error {
	oldest := time.Time{}
	for _, fn := range functions {
		path := filepath.Join("dist", fn, "bootstrap")
		st, err := os.Stat(filepath.Join(root, path))
		if err != nil {
			return build("missing " + path)
		}
		if oldest.IsZero() || st.ModTime().Before(oldest) {
			oldest = st.ModTime()
		}
	}
	stale := ""
	for _, dir := range []string{"go.mod", "go.sum", "functions", "internal", "statemachine"} {
		_ = filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || stale != "" || d.IsDir() || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			if info, err := d.Info(); err == nil && info.ModTime().After(oldest) {
				stale, _ = filepath.Rel(root, path)
			}
			return nil
		})
	}
	if stale != "" {
		return build(stale + " changed since the last build")
	}
	return nil
}

func makeBuild(why string) error {
	fmt.Fprintf(os.Stderr, "rotor infra: %s: running make build\n", why)
	cmd := exec.Command("make", "build")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("make build: %w", err)
	}
	return nil
}
