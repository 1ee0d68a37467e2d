#!/usr/bin/env node
// Builds the native packet core (packet_core.node) with the machine's C++ compiler
// against the running Node's own headers (Node-API and OpenSSL: nothing downloaded,
// no -dev package). OpenSSL's symbols come from the node binary at load time.
//
//   node native/build.mjs            build native/build/packet_core.node; exit 1 on failure
//   node native/build.mjs --install  the same from `npm install`: never fails the install;
//                                    without a compiler or headers it says the TypeScript
//                                    path will be used
//   node native/build.mjs --asan     AddressSanitizer build into native/build-asan/
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = new Set(process.argv.slice(2));
const install = args.has('--install');
const asan = args.has('--asan');
const outDir = join(here, asan ? 'build-asan' : 'build');
const out = join(outDir, 'packet_core.node');
const sources = ['packet_core.cc', 'srtp.cc'].map((f) => join(here, f));

function say(message) {
  console.log(`roundtable packet core: ${message}`);
}

function fallback(reason) {
  say(`${reason}; the TypeScript packet path will be used (media.packetCore 'auto')`);
  process.exit(install ? 0 : 1);
}

if (process.platform !== 'linux') fallback(`the native core needs Linux (recvmmsg/sendmmsg), this is ${process.platform}`);
if (install && process.env.ROUNDTABLE_SKIP_NATIVE === '1') fallback('ROUNDTABLE_SKIP_NATIVE=1');

// The running Node's headers: <prefix>/include/node (node_api.h, openssl/).
const include = [resolve(dirname(process.execPath), '..', 'include', 'node'), process.env.ROUNDTABLE_NODE_HEADERS].find(
  (dir) => dir && existsSync(join(dir, 'node_api.h')) && existsSync(join(dir, 'openssl', 'evp.h')),
);
if (!include) fallback(`Node's headers (node_api.h, openssl/evp.h) are not under ${resolve(dirname(process.execPath), '..', 'include', 'node')}`);

const candidates = [process.env.CXX, 'c++', 'g++', 'clang++'].filter(Boolean);
const compiler = candidates.find((cxx) => spawnSync(cxx, ['--version'], { stdio: 'ignore' }).status === 0);
if (!compiler) fallback(`no C++ compiler found (tried ${candidates.join(', ')})`);

mkdirSync(outDir, { recursive: true });
const flags = ['-std=c++17', '-shared', '-fPIC', '-pthread', '-fvisibility=hidden', '-Wall', '-Wextra', '-Wno-unused-parameter', `-I${include}`];
if (asan) flags.push('-O1', '-g', '-fsanitize=address', '-fno-omit-frame-pointer');
else flags.push('-O2', '-DNDEBUG');
const started = Date.now();
const result = spawnSync(compiler, [...flags, ...sources, '-o', out], { stdio: ['ignore', 'inherit', 'inherit'] });
if (result.status !== 0) fallback(`${compiler} failed to build ${out} (exit ${result.status ?? result.signal})`);
say(`built ${out} with ${compiler} in ${((Date.now() - started) / 1000).toFixed(1)} s${asan ? ' (AddressSanitizer)' : ''}`);
