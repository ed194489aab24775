#!/usr/bin/env node
// crdgate's command line. Sources are TypeScript run by Node.js 24's type stripping, so this file
// checks the runtime before loading them.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  console.error(`crdgate: needs Node.js 24 or newer, this is ${process.version}. Run it through npm (npm start, npx crdgate), which uses the Node.js the project pins.`);
  process.exit(1);
}

// graphql-js and Express take their fast paths in production mode; tests that build the gateway
// in-process keep development mode and its extra checks.
process.env.NODE_ENV ??= 'production';

const [command, ...rest] = process.argv.slice(2);
const io = { stdout: process.stdout, stderr: process.stderr };
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
