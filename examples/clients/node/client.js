// A reference client of axled's gRPC API in Node.js, as a VS Code extension would speak it:
// @grpc/grpc-js with @grpc/proto-loader reading proto/ at run time.
//
// It dials the daemon's Unix socket with default options and calls the health service,
// Status, a dry-run Lock of the project, ProjectStatus, and a short Watch that sees the lock
// go stale when an input is edited. It prints one JSON object and exits non-zero when
// anything was not as expected.
//
//   node client.js --socket "$AXLE_HOME/run/axled.sock" --project DIR
'use strict';

const fs = require('fs');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

function option(name) {
  const at = process.argv.indexOf(`--${name}`);
  if (at < 0 || at + 1 >= process.argv.length) {
    console.error(`usage: node client.js --socket PATH --project DIR (missing --${name})`);
    process.exit(2);
  }
  return process.argv[at + 1];
}

const socket = option('socket');
const project = path.resolve(option('project'));
const root = path.resolve(__dirname, '..', '..', '..');
const definition = protoLoader.loadSync(path.join(root, 'proto', 'axle', 'v1', 'axle.proto'), {
  keepCase: true,
  longs: Number,
  defaults: true,
  oneofs: true,
});
const { axle } = grpc.loadPackageDefinition(definition);
const client = new axle.v1.Axle(`unix:${socket}`, grpc.credentials.createInsecure());

function invocation() {
  const env = {};
  for (const [name, value] of Object.entries(process.env)) {
    // What a lock reads: pip's settings, the active venv, and PATH to find python.
    if (name.startsWith('PIP_') || name.startsWith('AXLE_') || ['VIRTUAL_ENV', 'PATH', 'HOME'].includes(name)) {
      env[name] = value;
    }
  }
  return { cwd: project, env, argv: ['client.js'] };
}

function unary(method, request) {
  return new Promise((resolve, reject) => {
    client[method](request, { deadline: Date.now() + 60000 }, (error, reply) => (error ? reject(error) : resolve(reply)));
  });
}

function health() {
  // grpc.health.v1.Health/Check without its .proto: the messages are one field each.
  const check = new grpc.Client(`unix:${socket}`, grpc.credentials.createInsecure());
  const service = Buffer.from('axle.v1.Axle');
  const request = Buffer.concat([Buffer.from([0x0a, service.length]), service]);
  return new Promise((resolve, reject) => {
    check.makeUnaryRequest('/grpc.health.v1.Health/Check', (b) => b, (b) => b, request, (error, reply) => {
      check.close();
      if (error) reject(error);
      else resolve(reply.equals(Buffer.from([0x08, 0x01])) ? 'SERVING' : `unexpected ${reply.toString('hex')}`);
    });
  });
}

function dryRunLock() {
  return new Promise((resolve, reject) => {
    let result = null;
    const call = client.Lock({ invocation: invocation(), dry_run: true });
    call.on('data', (event) => {
      if (event.lock_result) result = event.lock_result;
    });
    call.on('error', reject);
    call.on('end', () => resolve(result));
  });
}

function shortWatch() {
  return new Promise((resolve, reject) => {
    const states = [];
    let changedPaths = [];
    const call = client.Watch({ invocation: invocation(), dirs: [project] });
    const timer = setTimeout(() => {
      call.cancel();
      resolve({ states, changedPaths });
    }, 20000);
    call.on('data', (event) => {
      if (!event.status) return;
      const state = event.status.status.lock.state;
      states.push(state);
      if (states.length === 1) {
        fs.appendFileSync(path.join(project, 'requirements.in'), '\n# edited by the node client\n');
      } else if (state === 'stale') {
        changedPaths = event.status.changed_paths;
        clearTimeout(timer);
        call.cancel();
        resolve({ states, changedPaths });
      }
    });
    call.on('error', (error) => {
      if (error.code !== grpc.status.CANCELLED) reject(error);
    });
  });
}

async function main() {
  const seen = {};
  seen.health = await health();
  const status = await unary('Status', {});
  seen.daemon = { version: status.version, pid: status.pid };
  const result = await dryRunLock();
  seen.dry_run_lock = result ? { packages: result.packages, written: result.written } : null;
  const reply = await unary('ProjectStatus', { invocation: invocation(), dir: project });
  seen.project_status = { lock: reply.lock.state, venv: reply.venv.state };
  const watched = await shortWatch();
  seen.watch = watched.states;
  seen.watch_changed_paths = watched.changedPaths;
  console.log(JSON.stringify(seen, null, 2));
  const ok =
    seen.health === 'SERVING' &&
    seen.dry_run_lock !== null &&
    seen.dry_run_lock.written === false &&
    seen.project_status.lock === 'fresh' &&
    seen.watch[0] === 'fresh' &&
    seen.watch[seen.watch.length - 1] === 'stale';
  client.close();
  process.exit(ok ? 0 : 1);
}

main().catch((error) => {
  console.error(`node client: ${error.message}`);
  process.exit(1);
});
