// runner.mjs runs the differential corpus (cases/*.json) in
// aws-local-stepfunctions, the independent ASL implementation that
// diff_test.go and bench_test.go compare internal/asl against.
//
//   node runner.mjs [--cases DIR] [NAME...]          one JSON line per case:
//       {"name", "status", "output", "error", "cause", "states": [...]}
//   node runner.mjs --bench N [--cases DIR] [NAME...] one JSON line per case:
//       {"name", "runs", "transitions", "seconds"}
//
// Task resources run the case's handler steps (see README.md); every Wait
// state waits 0 ms and every retry waits 0 ms; the context object holds the
// same fixed values the Go side passes through asl.ExecutionOptions
// (aws-local-stepfunctions always sets Execution.Input and
// Execution.StartTime itself: StartTime is the wall clock).
//
// aws-local-stepfunctions is resolved from $ROTOR_TOOLS/npm/node_modules
// (what `make tools` installs), else from the usual Node resolution.
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';

const here = dirname(fileURLToPath(import.meta.url));

// The context object's fixed values. diff_test.go passes its own through
// $ASL_DIFF_CONTEXT (JSON) so both sides use the same; these are the
// defaults for running the runner by hand.
const CONTEXT = process.env.ASL_DIFF_CONTEXT ? JSON.parse(process.env.ASL_DIFF_CONTEXT) : {
  Execution: {
    Id: 'arn:aws:states:us-east-1:123456789012:execution:DiffMachine:diff-exec',
    Name: 'diff-exec',
    RoleArn: 'arn:aws:iam::123456789012:role/DiffRole',
  },
  StateMachine: {
    Id: 'arn:aws:states:us-east-1:123456789012:stateMachine:DiffMachine',
    Name: 'DiffMachine',
  },
};

async function loadLibrary() {
  const tools = process.env.ROTOR_TOOLS;
  if (tools) {
    const entry = join(tools, 'npm', 'node_modules', 'aws-local-stepfunctions', 'build', 'main.node.esm.js');
    if (existsSync(entry)) return import(pathToFileURL(entry).href);
  }
  return import('aws-local-stepfunctions');
}

function parseArgs(argv) {
  const opts = { bench: 0, cases: join(here, 'cases'), names: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--bench') opts.bench = Number(argv[++i]);
    else if (a === '--cases') opts.cases = resolve(argv[++i]);
    else opts.names.push(a);
  }
  if (opts.bench !== 0 && !(Number.isInteger(opts.bench) && opts.bench > 0)) {
    throw new Error('--bench needs a positive integer');
  }
  return opts;
}

function loadCases(dir, names) {
  const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  const cases = files.map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')));
  if (names.length === 0) return cases;
  const byName = new Map(cases.map((c) => [c.name, c]));
  return names.map((n) => {
    const c = byName.get(n);
    if (!c) throw new Error(`no case named ${n} in ${dir}`);
    return c;
  });
}

// walk calls fn(stateName, state) for every state, nested ones included.
function walk(def, fn) {
  for (const [name, state] of Object.entries(def.States ?? {})) {
    fn(name, state);
    for (const b of state.Branches ?? []) walk(b, fn);
    if (state.ItemProcessor) walk(state.ItemProcessor, fn);
    if (state.Iterator) walk(state.Iterator, fn);
  }
}

function isPlainObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function jsonEqual(a, b) {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
}

function taskError(name, cause) {
  const e = new Error(cause ?? '');
  e.name = name;
  return e;
}

// applyStep runs one handler step (the DSL in README.md) on input.
async function applyStep(step, input) {
  if ('return' in step) return structuredClone(step.return);
  if (step.echo) return input;
  if ('merge' in step) {
    if (!isPlainObject(input)) throw taskError('Handler.BadInput', 'merge needs an object input');
    return { ...input, ...structuredClone(step.merge) };
  }
  if ('throw' in step) throw taskError(step.throw.error, step.throw.cause);
  if ('throwIf' in step) {
    const t = step.throwIf;
    const v = isPlainObject(input) ? input[t.field] : undefined;
    if (v !== undefined && jsonEqual(v, t.equals)) throw taskError(t.error, t.cause);
    return applyStep(step.else ?? { echo: true }, input);
  }
  if ('sleep' in step) {
    // Only ever used longer than the state's TimeoutSeconds: the timer is
    // unref'd so a timed-out task does not keep the process alive.
    await new Promise((r) => setTimeout(r, step.sleep * 1000).unref());
    return applyStep(step.then ?? { echo: true }, input);
  }
  throw new Error(`unknown handler step ${JSON.stringify(step)}`);
}

// prepare builds what one execution of c needs, minus per-run state.
function prepare(StateMachine, c) {
  const resources = new Map(); // Task state name -> resource
  const waits = {};
  const retries = {};
  walk(c.definition, (name, state) => {
    if (state.Type === 'Task') {
      const prev = resources.get(name);
      if (prev !== undefined && prev !== state.Resource) {
        throw new Error(`case ${c.name}: Task state name ${name} is used with two resources; ` +
          'aws-local-stepfunctions keys handlers by state name, so rename one');
      }
      resources.set(name, state.Resource);
    }
    if (state.Type === 'Wait') waits[name] = 0;
    if (state.Retry) retries[name] = 0;
  });
  const machine = new StateMachine(c.definition);
  return { machine, resources, waits, retries };
}

async function runOnce(p, c) {
  const calls = new Map(); // resource -> invocations so far
  const handlers = {};
  for (const [stateName, resource] of p.resources) {
    handlers[stateName] = async (input) => {
      const i = calls.get(resource) ?? 0;
      calls.set(resource, i + 1);
      const steps = c.handlers?.[resource];
      if (!steps || steps.length === 0) {
        throw taskError('Lambda.ResourceNotFoundException', `Function not found: ${resource}`);
      }
      return applyStep(steps[Math.min(i, steps.length - 1)], input);
    };
  }
  const execution = p.machine.run(structuredClone(c.input ?? {}), {
    overrides: {
      taskResourceLocalHandlers: handlers,
      waitTimeOverrides: p.waits,
      retryIntervalOverrides: p.retries,
    },
    context: structuredClone(CONTEXT),
  });
  const states = [];
  const logged = (async () => {
    for await (const ev of execution.eventLogs) {
      if (ev.type === 'StateEntered') states.push(ev.state.name);
    }
  })();
  const res = { name: c.name, status: '', output: null, error: '', cause: '', states };
  try {
    res.output = await execution.result;
    res.status = 'SUCCEEDED';
  } catch (err) {
    res.output = null;
    if (err?.name === 'ExecutionError') {
      res.status = 'FAILED';
      res.error = String(err.cause?.name ?? '');
      res.cause = typeof err.cause?.message === 'string' ? err.cause.message : JSON.stringify(err.cause?.message ?? '');
    } else if (err?.name === 'ExecutionTimeoutError') {
      res.status = 'TIMED_OUT';
      res.error = 'States.Timeout';
    } else if (err?.name === 'ExecutionAbortedError') {
      res.status = 'ABORTED';
    } else {
      res.status = 'ERROR';
      res.error = String(err?.name ?? 'Error');
      res.cause = String(err?.message ?? err);
    }
  }
  // The log ends with the execution's last event; events of nested
  // executions (Map iterations, Parallel branches) are forwarded into it
  // before that, and none are accepted after it.
  await logged;
  return res;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const { StateMachine } = await loadLibrary();
  const cases = loadCases(opts.cases, opts.names);
  for (const c of cases) {
    let p;
    try {
      p = prepare(StateMachine, c);
    } catch (err) {
      const line = opts.bench
        ? { name: c.name, runs: 0, transitions: 0, seconds: 0, error: String(err?.message ?? err) }
        : { name: c.name, status: 'ERROR', output: null, error: 'Definition', cause: String(err?.message ?? err), states: [] };
      process.stdout.write(JSON.stringify(line) + '\n');
      continue;
    }
    if (!opts.bench) {
      process.stdout.write(JSON.stringify(await runOnce(p, c)) + '\n');
      continue;
    }
    await runOnce(p, c); // warm-up, not counted
    let transitions = 0;
    const t0 = performance.now();
    for (let i = 0; i < opts.bench; i++) {
      transitions += (await runOnce(p, c)).states.length;
    }
    const seconds = (performance.now() - t0) / 1000;
    process.stdout.write(JSON.stringify({ name: c.name, runs: opts.bench, transitions, seconds }) + '\n');
  }
}

main().catch((err) => {
  process.stderr.write(`runner: ${err?.stack ?? err}\n`);
  process.exit(1);
});
