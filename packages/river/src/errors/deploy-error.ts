import { RiverError, type RiverErrorOptions } from './river-error';

const marker = 'river.error.DeployError';
const symbol = Symbol.for(marker);

/** A VR could not be deployed: its source did not evaluate, it is not a VR class, no such extension, no such VM. */
export class DeployError extends RiverError {
  private readonly [symbol] = true;
  static readonly code = 'RIVER_DEPLOY_FAILED';

  constructor(options: RiverErrorOptions) {
    super(DeployError.code, options);
    this.name = 'DeployError';
  }

  static override isInstance(error: unknown): error is DeployError {
    return RiverError.hasMarker(error, marker);
  }
}
