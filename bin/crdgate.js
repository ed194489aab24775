#!/usr/bin/env node
// crdgate's command line. Sources are TypeScript, run as the JavaScript `npm run build` stripped
// from them or else by Node.js 24's type stripping, so this file checks the runtime before loading
// them.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  console.error(`crdgate: needs Node.js 24 or newer, this is ${process.version}. Run it through npm (npm start, npx crdgate), which uses the Node.js the project pins.`);
  process.exit(1);
}

// The sources whose types `npm run build` stripped ahead of time (scripts/build-js.ts) load as the
// JavaScript it wrote: Node.js' type stripping would otherwise load its WebAssembly compiler, which
// holds about 28 MiB of RSS for the life of the process. A source is served from dist/js only when
// that file is named by the SHA-256 of the source as it is now; any other source (edited since the
// build, or never built) is stripped at run time as before. The module keeps its src/ URL.
const { registerHooks } = await import('node:module');
const { createHash } = await import('node:crypto');
const { readFileSync } = await import('node:fs');
const sources = new URL('../src/', import.meta.url).href;
const compiled = new URL('../dist/js/', import.meta.url);
registerHooks({
  load(url, context, nextLoad) {
    if (url.startsWith(sources) && url.endsWith('.ts')) {
      const hash = createHash('sha256').update(readFileSync(new URL(url))).digest('hex');
      try {
        return { format: 'module', source: readFileSync(new URL(`${hash}.js`, compiled)), shortCircuit: true };
      } catch (err) {
        if (err.code !== 'ENOENT') throw err;
      }
    }
    return nextLoad(url, context);
  },
});

// graphql-js and Express take their fast paths in production mode; tests that build the gateway
// in-process keep development mode and its extra checks.
process.env.NODE_ENV ??= 'production';

const [command, ...rest] = process.argv.slice(2);
const io = { stdout: process.stdout, stderr: process.stderr };
if (command === 'schema' || command === 'openapi') {
  // A reader that stopped early (`crdgate openapi crd.yaml | head`) is not the command's failure:
  // the rest of the output is dropped, as Unix tools drop it, rather than a stack trace for the
  // EPIPE of the next write; problems still go to stderr and decide the exit code.
  process.stdout.on('error', (err) => {
    if (err.code !== 'EPIPE') throw err;
  });
}
let code;
switch (command) {
  case 'schema': {
    const { runSchemaCommand } = await import('../src/cli/schema-command.ts');
    code = await runSchemaCommand(rest, io);
    break;
  }
  case 'openapi': {
    const { runOpenapiCommand } = await import('../src/cli/schema-command.ts');
    code = await runOpenapiCommand(rest, io);
    break;
  }
  case 'help': {
    const { serve } = await import('../src/main.ts');
    process.exit(await serve(['--help']));
  }
  // falls through: process.exit never returns
  case 'serve':
  case undefined: {
    const { serve } = await import('../src/main.ts');
    // Exit explicitly: idle keep-alive sockets of HTTP clients must not hold a stopped gateway open.
    process.exit(await serve(command === undefined ? [] : rest));
  }
  // falls through: process.exit never returns
  default:
    if (command.startsWith('-')) {
      const { serve } = await import('../src/main.ts');
      process.exit(await serve(process.argv.slice(2)));
    } else {
      const { didYouMean } = await import('../src/config/nearest-name.ts');
      console.error(`crdgate: unknown command "${command}"${didYouMean(command, ['serve', 'schema', 'openapi', 'help']) || '.'} Commands: serve (default), schema <file|dir>..., openapi <file|dir>... (see crdgate --help)`);
      code = 2;
    }
}
process.exitCode = code;
