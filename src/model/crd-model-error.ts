/**
 * A CRD that cannot be turned into a model. `path` points at the offending part of the CRD
 * object (`spec.versions[0].schema.openAPIV3Schema.properties.spec.type`), `crdName` names the
 * CRD when it is known. The message is written for the person who owns the CRD.
 */
export class CrdModelError extends Error {
  readonly crdName: string | undefined;
  readonly path: string;
  readonly problem: string;

  constructor(crdName: string | undefined, path: string, problem: string) {
    const where = [crdName ? `CRD ${crdName}` : 'CRD', path].filter((part) => part !== '').join(' ');
    super(`${where}: ${problem}`);
    this.name = 'CrdModelError';
    this.crdName = crdName;
    this.path = path;
    this.problem = problem;
  }
}
