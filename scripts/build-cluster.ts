// `npm run build:cluster`: builds the local control plane (test/cluster) ahead of time. npm test
// and npm start build it on demand as well; this is for warming a machine or a CI cache.
import { buildLauncher } from '../src/local-cluster/build-launcher.ts';

const built = await buildLauncher({ log: (line) => console.error(line) });
console.log(`local control plane: ${built.binary} (kubectl: ${built.kubectl}), ${built.seconds.toFixed(1)} s`);
