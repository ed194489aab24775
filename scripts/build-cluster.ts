// `npm run build:cluster`: builds the local control plane (test/cluster) ahead of time. npm test
// and npm start build it on demand as well; this is for warming a machine or a CI cache.
import { buildLauncher } from '../src/local-cluster/build-launcher.ts';
import { progressTargetFor } from '../src/local-cluster/progress-display.ts';

const log = (line: string) => console.error(line);
const built = await buildLauncher({ log, progress: progressTargetFor(process.stderr, log) });
console.log(`local control plane: ${built.binary} (kubectl: ${built.kubectl}), ${built.seconds.toFixed(1)} s`);
