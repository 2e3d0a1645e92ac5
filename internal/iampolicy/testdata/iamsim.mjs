// iamsim.mjs decides IAM requests with @cloud-copilot/iam-simulate, the
// reference internal/iampolicy is checked against (differential_test.go
// here, and infra/rotorcdk/iamsim_test.go for the service control policy).
//
//   node iamsim.mjs < cases.json
//
// cases.json: {"scp": POLICY (optional), "cases": [{"name", "principal",
// "action", "resource", "account", "context": {KEY: VALUE|[VALUE]},
// "identity": POLICY}]}. Each case runs with its identity policy and no
// resource policy; with "scp", FullAWSAccess and that SCP are attached to
// the account's organization root. One JSON line per case: {"name",
// "result" ("Allowed", "ImplicitlyDenied", "ExplicitlyDenied" or "error"),
// "ignored": [context keys the simulator dropped], "errors"}.
//
// iam-simulate is resolved from $ROTOR_TOOLS/npm/node_modules (what `make
// tools` installs), else from the usual Node resolution.
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

async function loadLibrary() {
  const tools = process.env.ROTOR_TOOLS;
  if (tools) {
    const entry = join(tools, 'npm', 'node_modules', '@cloud-copilot', 'iam-simulate', 'dist', 'esm', 'index.js');
    if (existsSync(entry)) return import(pathToFileURL(entry).href);
  }
  return import('@cloud-copilot/iam-simulate');
}

const { runSimulation } = await loadLibrary();
const input = JSON.parse(readFileSync(0, 'utf8'));
const fullAccess = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };
const scps = input.scp
  ? [{ orgIdentifier: 'r-root', policies: [{ name: 'FullAWSAccess', policy: fullAccess }, { name: 'scp', policy: input.scp }] }]
  : [];

for (const c of input.cases) {
  const simulation = {
    request: {
      principal: c.principal,
      action: c.action,
      resource: { resource: c.resource, accountId: c.account },
      contextVariables: c.context,
    },
    identityPolicies: [{ name: 'identity', policy: c.identity }],
    serviceControlPolicies: scps,
    resourceControlPolicies: [],
  };
  let out;
  try {
    const r = await runSimulation(simulation, {});
    out = r.resultType === 'error'
      ? { name: c.name, result: 'error', errors: r.errors }
      : { name: c.name, result: r.overallResult, ignored: r.result?.ignoredContextKeys ?? [] };
  } catch (e) {
    out = { name: c.name, result: 'error', errors: String(e) };
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}
